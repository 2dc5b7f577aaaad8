"""Datasets and batching, shaped like torch.utils.data.

    ds = hy.data.TensorDataset(x, y)
    for xb, yb in hy.data.DataLoader(ds, batch_size=64, shuffle=True, generator=hy.Generator(seed=0)):
        ...
"""
from .dataset import Dataset, TensorDataset  # noqa: F401
from .dataloader import DataLoader, default_collate  # noqa: F401
from ._worker import WorkerInfo, get_worker_info  # noqa: F401

__all__ = ["Dataset", "TensorDataset", "DataLoader", "default_collate", "get_worker_info", "WorkerInfo"]
