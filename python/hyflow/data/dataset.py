"""Map-style datasets: ``len(ds)`` samples, ``ds[i]`` returns sample ``i``."""
import numpy as np

from .. import _C

__all__ = ["Dataset", "TensorDataset"]


class Dataset:
    """Base class of map-style datasets: subclasses define ``__len__`` and ``__getitem__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


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
