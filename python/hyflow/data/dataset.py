"""Datasets, as torch.utils.data's: map-style ones (``len(ds)`` samples, ``ds[i]`` returns sample ``i``; Subset,
ConcatDataset, StackDataset, random_split) and iterable-style ones (``iter(ds)`` yields the samples;
IterableDataset, ChainDataset)."""
import bisect
import collections.abc
import math
import numbers
import warnings

import numpy as np

from .. import _C

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "Subset", "ConcatDataset", "ChainDataset",
           "random_split"]


class Dataset:
    """Base class of map-style datasets: subclasses define ``__len__`` and ``__getitem__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset, collections.abc.Iterable):
    """Base class of iterable-style datasets: subclasses define ``__iter__`` (a stream of samples), and may define
    ``__len__``. As in torch, the class is abstract until ``__iter__`` is defined, ``a + b`` chains two of them
    (a ChainDataset), and a DataLoader with ``num_workers=N`` iterates N copies of it: shard in ``__iter__`` with
    ``get_worker_info()``, or every worker yields every sample."""

    def __len__(self):
        # torch's IterableDataset has no __len__, so len() is Python's TypeError
        raise TypeError(f"object of type '{type(self).__name__}' has no len()")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Rows of tensors that share their first dim: ``ds[i] == (t0[i], t1[i], ...)``."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, _C.Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, not a hyflow Tensor")
            if t.dim() == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d; every tensor needs a first dim to index")
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"TensorDataset: tensors need the same first dim, got sizes {sizes}")
        self.tensors = tensors

    def __len__(self):
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def batch(self, indices):
        """The rows at ``indices`` (a range or 1-D ints) of every tensor, gathered at once as copies."""
        n = len(self)
        if isinstance(indices, range) and indices.step == 1:
            start, stop = indices.start, indices.stop
            if not 0 <= start <= stop <= n:
                raise IndexError(f"TensorDataset.batch: rows {start}..{stop - 1} out of range for {n} rows")
            return tuple(t[start:stop].clone() for t in self.tensors)
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        bad = (idx < -n) | (idx >= n)
        if bad.any():
            raise IndexError(f"TensorDataset.batch: index {int(idx[bad][0])} out of range for {n} rows")
        idx = np.where(idx < 0, idx + n, idx)
        index = _C.from_numpy(np.ascontiguousarray(idx))
        return tuple(t.index_select(0, index) for t in self.tensors)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``: ``Subset(ds, idx)[i] == ds[idx[i]]``."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices
        self._array, self._array_of = None, None

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)

    def index_array(self):
        """The indices as an int64 NumPy array (cached while ``self.indices`` is the same object)."""
        if self._array_of is not self.indices:
            src = self.indices.detach() if isinstance(self.indices, _C.Tensor) else self.indices
            self._array, self._array_of = np.asarray(src, dtype=np.int64).reshape(-1), self.indices
        return self._array


class ConcatDataset(Dataset):
    """Datasets one after another: indices 0..len(a)-1 are ``a``'s, the next ``b``'s, ..."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise AssertionError("ConcatDataset does not support IterableDataset")  # torch's error; ChainDataset does
        self.cumulative_sizes, total = [], 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if isinstance(idx, bool) or not isinstance(idx, numbers.Integral):
            raise TypeError(f"ConcatDataset: index must be an int, got {type(idx).__name__}")
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"ConcatDataset: index {idx} out of range for {n} samples")
        if idx < 0:
            idx += n
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after another (``a + b`` of two IterableDatasets); its length, when asked, is the sum
    of theirs. As torch, each member is checked to be an IterableDataset as the chain reaches it."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class StackDataset(Dataset):
    """Map-style datasets of one length side by side: ``StackDataset(a, b)[i] == (a[i], b[i])`` and
    ``StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}``."""

    def __init__(self, *args, **kwargs):
        if args:
            if kwargs:
                raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via ``kwargs``) like "
                                 "input/output, but both types are given.")  # torch's message, missing space too
            datasets = args
        elif kwargs:
            datasets = kwargs
        else:
            raise ValueError("At least one dataset should be passed")
        sizes = [len(d) for d in (datasets.values() if kwargs else datasets)]
        if any(size != sizes[0] for size in sizes):
            raise ValueError("Size mismatch between datasets")
        self._length, self.datasets = sizes[0], datasets

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {key: d[index] for key, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self):
        return self._length


def _split_lengths(n, lengths):
    lengths = list(lengths)
    if any(isinstance(x, bool) or not isinstance(x, numbers.Real) for x in lengths):
        raise TypeError(f"random_split: lengths must be ints or fractions, got {lengths!r}")
    if all(isinstance(x, numbers.Integral) for x in lengths):
        if any(x < 0 for x in lengths):
            raise ValueError(f"random_split: lengths must be >= 0, got {lengths}")
        if sum(lengths) != n:
            raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length of the "
                             f"input dataset ({n})")
        return [int(x) for x in lengths]
    if not (math.isclose(sum(lengths), 1) and sum(lengths) <= 1) or any(not 0 <= x <= 1 for x in lengths):
        raise ValueError(f"random_split: fractions must lie in [0, 1] and sum to 1, got {lengths}")
    # floor each share, then hand the remainder out one by one from the first split on (as torch)
    sizes = [math.floor(n * frac) for frac in lengths]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    for i, size in enumerate(sizes):
        if size == 0:
            warnings.warn(f"random_split: length of split at index {i} is 0; this split will be empty",
                          stacklevel=3)
    return sizes


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths (ints summing to
    ``len(dataset)``, or fractions summing to 1), drawing the permutation from ``generator``."""
    from .sampler import permutation
    if generator is not None and not isinstance(generator, _C.Generator):
        raise TypeError(f"random_split: generator must be a hyflow Generator, got {type(generator).__name__}")
    sizes = _split_lengths(len(dataset), lengths)
    order = permutation(sum(sizes), generator).tolist()
    out, offset = [], 0
    for size in sizes:
        out.append(Subset(dataset, order[offset:offset + size]))
        offset += size
    return out
