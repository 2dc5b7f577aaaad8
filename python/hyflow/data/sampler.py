"""Samplers, shaped like torch.utils.data's: iterables of dataset indices (or, BatchSampler, of index lists).

Random samplers draw from a hyflow ``Generator`` (hyflow's default generator when None, so ``hy.manual_seed``
makes them repeat); a permutation is NumPy's PCG64 seeded by two draws of that generator (O(n), unbiased),
so the order depends only on the generator's state, which advances with every epoch.
"""
import numbers

import numpy as np

from .. import _C
from .._creation import randint

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


def _check_generator(owner, generator):
    if generator is not None and not isinstance(generator, _C.Generator):
        raise TypeError(f"{owner}: generator must be a hyflow Generator, got {type(generator).__name__}")


def _numpy_rng(generator):
    """A NumPy generator seeded by two 62-bit draws of the hyflow generator (advancing it)."""
    seed = randint(0, 2**62, (2,), generator=generator, dtype=_C.int64).tolist()
    return np.random.default_rng(seed)


def permutation(n, generator):
    """A random permutation of range(n) as an int64 NumPy array."""
    return _numpy_rng(generator).permutation(n)


def _check_positive_int(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got {name}={value!r}")


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def index_order(self):
        """The whole epoch's order at once (the DataLoader slices it instead of iterating)."""
        return range(len(self.data_source))

    def __iter__(self):
        return iter(self.index_order())

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random order of the dataset every epoch.

    Without replacement, each epoch is a permutation (``num_samples`` larger than the dataset chains several
    permutations, the last one cut). With ``replacement=True``, ``num_samples`` independent uniform draws."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        _check_generator("RandomSampler", generator)
        self.data_source, self.replacement, self._num_samples, self.generator = (data_source, replacement,
                                                                                num_samples, generator)
        _check_positive_int("RandomSampler", "num_samples", self.num_samples)

    @property
    def num_samples(self):
        # the dataset may change size between construction and iteration, as in torch
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def index_order(self):
        n, k = len(self.data_source), self.num_samples
        if self.replacement:
            return randint(0, n, (k,), generator=self.generator, dtype=_C.int64).numpy()
        if k == n:
            return permutation(n, self.generator)
        parts = [permutation(n, self.generator) for _ in range(k // n)]
        if k % n:
            parts.append(permutation(n, self.generator)[:k % n])
        return np.concatenate(parts)

    def __iter__(self):
        return iter(self.index_order().tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order, a new one every epoch."""

    def __init__(self, indices, generator=None):
        _check_generator("SubsetRandomSampler", generator)
        self.indices, self.generator = indices, generator

    def __iter__(self):
        for i in permutation(len(self.indices), self.generator).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (need not sum to 1)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _check_positive_int("WeightedRandomSampler", "num_samples", num_samples)
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, but got "
                             f"replacement={replacement!r}")
        _check_generator("WeightedRandomSampler", generator)
        w = np.asarray(weights.detach() if isinstance(weights, _C.Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1-D sequence, but got shape {w.shape}")
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite and non-negative with a positive sum")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw num_samples={num_samples} distinct indices "
                             f"without replacement from {np.count_nonzero(w)} non-zero weights")
        self.weights = _C.from_numpy(w.copy())
        self.num_samples, self.replacement, self.generator = int(num_samples), replacement, generator
        self._p = w / w.sum()

    def __iter__(self):
        rng = _numpy_rng(self.generator)
        return iter(rng.choice(len(self._p), size=self.num_samples, replace=self.replacement, p=self._p).tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``; ``drop_last`` skips a short last one."""

    def __init__(self, sampler, batch_size, drop_last):
        _check_positive_int("BatchSampler", "batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
