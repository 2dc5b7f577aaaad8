"""torch.utils.data's path to hyflow.data: `from hyflow.utils.data import DataLoader, Dataset` works unchanged.

A package of its own (not an alias of hyflow.data in sys.modules) so that type checkers resolve the import
too; every name is hyflow.data's own object (tests/python/test_data_samplers.py checks the two agree).
"""
from ...data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,  # noqa: F401
                     RandomSampler, Sampler, SequentialSampler, StackDataset, Subset, SubsetRandomSampler,
                     TensorDataset, WeightedRandomSampler, WorkerInfo, default_collate, default_convert,
                     get_worker_info, random_split)
from ...data import __all__  # noqa: F401


def __getattr__(name):
    # DistributedSampler: hyflow.data loads hyflow.distributed on first use (importing hyflow stays cheap).
    from ... import data
    return getattr(data, name)
