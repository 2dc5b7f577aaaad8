"""``from hyflow.data.distributed import DistributedSampler`` (torch's path is hyflow.utils.data.distributed)."""
from ..distributed.sampler import DistributedSampler  # noqa: F401

__all__ = ["DistributedSampler"]
