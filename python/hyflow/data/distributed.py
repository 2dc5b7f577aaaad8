"""torch.utils.data.distributed's path: ``from hyflow.utils.data.distributed import DistributedSampler``."""
# absolute: this module is also loaded as hyflow.utils.data.distributed, where ".." is hyflow.utils
from hyflow.distributed.sampler import DistributedSampler  # noqa: F401

__all__ = ["DistributedSampler"]
