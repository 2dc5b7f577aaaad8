"""DataLoader: batches of samples from a map-style dataset, in order, shuffled or from a sampler.

    loader = DataLoader(ds, batch_size=32, shuffle=True, generator=hy.Generator(seed=0))
    for epoch in range(3):
        for batch in loader:   # a new permutation each epoch, the same sequence for the same seed
            ...
"""
import collections.abc
import math

import numpy as np

from .. import _C
from .._creation import randint, tensor
from .._shape import stack
from .dataset import TensorDataset

__all__ = ["DataLoader", "default_collate"]


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples.

    ``shuffle=True`` draws a fresh permutation every epoch from ``generator`` (hyflow's default
    generator when None, so ``hy.manual_seed`` makes it reproducible). ``sampler`` is any iterable of
    indices, used instead of the default order (and then ``shuffle`` must stay False). ``collate_fn``
    turns a list of samples into a batch; the default stacks tensors inside tuples, lists and dicts.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, generator=None, sampler=None,
                 collate_fn=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if shuffle and sampler is not None:
            raise ValueError("DataLoader: shuffle=True and sampler= are exclusive; shuffle inside the sampler")
        if sampler is not None and not isinstance(sampler, collections.abc.Iterable):
            raise TypeError(f"DataLoader: sampler must be an iterable of indices, got {type(sampler).__name__}")
        if generator is not None and not isinstance(generator, _C.Generator):
            raise TypeError(f"DataLoader: generator must be a hyflow Generator, got {type(generator).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError("DataLoader: collate_fn must be callable")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.sampler = sampler
        self.collate_fn = collate_fn

    def __iter__(self):
        for indices in self._index_batches():
            yield self._fetch(indices)

    def __len__(self):
        if self.sampler is not None:
            if not isinstance(self.sampler, collections.abc.Sized):
                raise TypeError(f"DataLoader: len() needs a sampler with __len__, got {type(self.sampler).__name__}")
            n = len(self.sampler)
        else:
            n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self):
        if self.sampler is not None:
            return self.sampler
        n = len(self.dataset)
        return _permutation(n, self.generator) if self.shuffle else range(n)

    def _index_batches(self):
        order, size = self._order(), self.batch_size
        if isinstance(order, (range, np.ndarray)):
            # Slicing keeps a contiguous range a range, which the TensorDataset fast path turns into a slice.
            for start in range(0, len(order), size):
                chunk = order[start:start + size]
                if len(chunk) == size or not self.drop_last:
                    yield chunk
            return
        chunk = []
        for index in order:
            chunk.append(index)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk and not self.drop_last:
            yield chunk

    def _fetch(self, indices):
        if self.collate_fn is None and type(self.dataset) is TensorDataset:
            # Whole-batch gather instead of indexing rows one by one and stacking them.
            return self.dataset.batch(indices)
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)


def _permutation(n, generator):
    # Two 62-bit draws from the hyflow generator seed NumPy's PCG64, whose permutation is O(n) and
    # unbiased; the order depends only on the hyflow generator's state, which advances every epoch.
    seed = randint(0, 2**62, (2,), generator=generator, dtype=_C.int64).tolist()
    return np.random.default_rng(seed).permutation(n)


def default_collate(batch):
    """Stack a list of samples into a batch: tensors -> one tensor with a new first dim, Python
    numbers -> a tensor (bool, int64, float64), tuples/lists/dicts -> the same container of batches."""
    if not batch:
        raise ValueError("default_collate: empty batch")
    elem = batch[0]
    if isinstance(elem, _C.Tensor):
        return stack(batch, 0)
    if isinstance(elem, np.ndarray) or isinstance(elem, np.generic):
        return tensor(np.stack(batch))
    if isinstance(elem, bool):
        return tensor(batch, dtype=_C.bool)
    if isinstance(elem, int):
        return tensor(batch, dtype=_C.int64)
    if isinstance(elem, float):
        return tensor(batch, dtype=_C.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        keys = list(elem)
        for sample in batch:
            if not isinstance(sample, collections.abc.Mapping) or set(sample) != set(keys):
                raise ValueError(f"default_collate: samples have different keys: {sorted(map(str, keys))} "
                                 f"vs {sorted(map(str, sample))}")
        return {key: default_collate([sample[key] for sample in batch]) for key in keys}
    if isinstance(elem, (tuple, list)):
        if any(len(sample) != len(elem) for sample in batch):
            raise ValueError("default_collate: samples in a batch have different lengths")
        fields = [default_collate(list(column)) for column in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: cannot batch samples of type {type(elem).__name__}; pass collate_fn=")
