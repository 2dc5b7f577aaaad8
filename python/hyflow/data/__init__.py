"""Datasets, samplers and batching, shaped like torch.utils.data (also importable as hyflow.utils.data).

    ds = hy.data.TensorDataset(x, y)
    train, val = hy.data.random_split(ds, [0.9, 0.1], generator=hy.Generator(seed=0))
    for xb, yb in hy.data.DataLoader(train, batch_size=64, shuffle=True, generator=hy.Generator(seed=0)):
        ...
"""
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,  # noqa: F401
                      TensorDataset, random_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,  # noqa: F401
                      WeightedRandomSampler)
from .dataloader import DataLoader, default_collate, default_convert  # noqa: F401
from ._worker import WorkerInfo, get_worker_info  # noqa: F401

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "Subset", "ConcatDataset", "ChainDataset",
           "random_split", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DistributedSampler",
           "DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo"]


def __getattr__(name):
    # DistributedSampler lives in hyflow.distributed, which is imported on first use only (importing hyflow
    # stays cheap); torch has it under both torch.utils.data and torch.utils.data.distributed.
    if name == "DistributedSampler":
        from ..distributed.sampler import DistributedSampler
        return DistributedSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
