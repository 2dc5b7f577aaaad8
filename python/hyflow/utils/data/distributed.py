"""torch.utils.data.distributed's path: ``from hyflow.utils.data.distributed import DistributedSampler``."""
from ...distributed.sampler import DistributedSampler  # noqa: F401

__all__ = ["DistributedSampler"]
