"""DataLoader: batches of samples from a map-style dataset (in order, shuffled or from a sampler) or from the stream
of an IterableDataset.

    loader = DataLoader(ds, batch_size=32, shuffle=True, generator=hy.Generator(seed=0))
    for epoch in range(3):
        for batch in loader:   # a new permutation each epoch, the same sequence for the same seed
            ...
"""
import collections.abc
import itertools
import math
import warnings

import numpy as np

from .. import _C
from .._creation import tensor
from .._shape import stack
from ._multiprocess import MultiProcessIter, resolve_context
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert"]


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples.

    The order comes from ``sampler`` (any iterable of indices), else ``RandomSampler(dataset,
    generator=generator)`` with ``shuffle=True`` (a fresh permutation every epoch from ``generator``, hyflow's
    default generator when None, so ``hy.manual_seed`` makes it reproducible), else ``SequentialSampler``.
    ``batch_sampler`` (an iterable of index lists) replaces sampler, batch_size, shuffle and drop_last;
    ``batch_size=None`` turns batching off (each sample goes through ``collate_fn`` on its own).
    ``collate_fn`` turns a list of samples into a batch; the default stacks tensors inside tuples, lists
    and dicts.

    With an ``IterableDataset`` there is no sampler (``sampler``, ``batch_sampler`` and ``shuffle=True`` raise
    ValueError, as in torch): batches are the next ``batch_size`` samples of ``iter(dataset)``, the last one short
    unless ``drop_last``. Each of ``num_workers`` workers iterates its own copy of the dataset and batches are taken
    from the workers in turn (round robin), until every worker is exhausted.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device=""):
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            # torch's rule and messages: the stream decides the order, so nothing may sample it
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                                 f"got batch_sampler={batch_sampler}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle (shuffle inside the "
                             "sampler)")
        if sampler is not None and not isinstance(sampler, collections.abc.Iterable):
            raise TypeError(f"DataLoader: sampler must be an iterable of indices, got {type(sampler).__name__}")
        if batch_sampler is not None:
            # torch's rule: the batch sampler decides batches, so nothing else may
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            if not isinstance(batch_sampler, collections.abc.Iterable):
                raise TypeError(f"DataLoader: batch_sampler must be an iterable of index lists, got "
                                f"{type(batch_sampler).__name__}")
            batch_size = None
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually exclusive "
                             "with drop_last")
        if generator is not None and not isinstance(generator, _C.Generator):
            raise TypeError(f"DataLoader: generator must be a hyflow Generator, got {type(generator).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError("DataLoader: collate_fn must be callable")
        _check_worker_args(num_workers, timeout, worker_init_fn, prefetch_factor, persistent_workers)
        if multiprocessing_context is not None:
            resolve_context(multiprocessing_context)  # a bad name raises here, not at the first iter()
        self.num_workers, self.timeout, self.worker_init_fn = num_workers, timeout, worker_init_fn
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.persistent_workers, self.multiprocessing_context = bool(persistent_workers), multiprocessing_context
        self.pin_memory, self.pin_memory_device = bool(pin_memory), pin_memory_device  # CPU only: nothing to pin
        self._workers_iter = None
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self._iterable_len_called = None  # len(dataset) once len(loader) is asked, as torch's warning needs
        if self._iterable:
            sampler = _InfiniteConstantSampler()
        elif sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn

    def __iter__(self):
        if self.num_workers == 0:
            return self._single_process_iter()
        if self.persistent_workers and self._workers_iter is not None:
            return self._workers_iter.next_epoch()
        it = MultiProcessIter(self, self._fetcher())
        if self.persistent_workers:
            self._workers_iter = it
        return it

    def _single_process_iter(self):
        if self._iterable:
            # as torch's iterator: iter(dataset) and the length len(loader) reported so far are taken now, at
            # iter(loader), not at the first batch (list(loader) asks len(loader) in between)
            fetch = self._fetcher()
            fetch.start()
            return self._iterable_batches(fetch, self._iterable_len_called)
        return self._map_batches()

    def _map_batches(self):
        fetch = self._fetcher()
        for indices in self._index_batches():
            yield fetch(indices)

    def _iterable_batches(self, fetch, reported):
        for yielded in itertools.count(1):
            try:
                batch = fetch()
            except StopIteration:
                return
            self._warn_past_len(reported, yielded)
            yield batch

    def _warn_past_len(self, reported, yielded, stacklevel=3):
        # torch's check, counting batches against the dataset's reported number of samples
        if reported is not None and yielded > reported:
            msg = (f"Length of IterableDataset {self.dataset} was reported to be {reported}(when accessing "
                   f"len(dataloader)), but {yielded} samples have been fetched. ")
            if self.num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly configuring the "
                        "IterableDataset replica at each worker. Please see "
                        "https://pytorch.org/docs/stable/data.html#torch.utils.data.IterableDataset for examples.")
            warnings.warn(msg, stacklevel=stacklevel)

    def _fetcher(self):
        if self._iterable:
            return _IterableFetcher(self.dataset, self.collate_fn, self.batch_size, self.drop_last)
        return _Fetcher(self.dataset, self.collate_fn, auto_collation=self.batch_size is not None or
                        self.batch_sampler is not None)

    def __getstate__(self):
        # the workers of a persistent iterator belong to this process
        state = dict(self.__dict__)
        state["_workers_iter"] = None
        return state

    def __len__(self):
        if self._iterable:
            # torch: the dataset's own len() (TypeError without one), in batches; iterating past it warns
            n = self._iterable_len_called = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        source = self.batch_sampler if self.batch_sampler is not None else self.sampler
        if not isinstance(source, collections.abc.Sized):
            what = "batch_sampler" if self.batch_sampler is not None else "sampler"
            raise TypeError(f"DataLoader: len() needs a {what} with __len__, got {type(source).__name__}")
        n = len(source)
        if self.batch_sampler is not None or self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self):
        # the default samplers hand over a whole epoch (range or array) so it can be cut into slices
        index_order = getattr(self.sampler, "index_order", None)
        if index_order is not None and type(self.sampler) in (SequentialSampler, RandomSampler):
            return index_order()
        return self.sampler

    def _index_batches(self):
        """What each fetch gets: an index list per batch (or a single index when batching is off)."""
        if self.batch_sampler is not None:
            yield from self.batch_sampler
            return
        order, size = self._order(), self.batch_size
        if size is None:
            yield from (order.tolist() if isinstance(order, np.ndarray) else order)
            return
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


class _Fetcher:
    """Indices -> batch (or index -> sample when auto_collation is off); picklable, so a spawned worker gets
    it with the dataset."""

    def __init__(self, dataset, collate_fn, auto_collation=True):
        self.dataset, self.collate_fn, self.auto_collation = dataset, collate_fn, auto_collation

    def __call__(self, indices):
        if not self.auto_collation:
            return (self.collate_fn or default_convert)(self.dataset[indices])
        if self.collate_fn is None:
            # Whole-batch gather instead of indexing rows one by one and stacking them.
            if type(self.dataset) is TensorDataset:
                return self.dataset.batch(indices)
            if type(self.dataset) is Subset and type(self.dataset.dataset) is TensorDataset:
                return self.dataset.dataset.batch(self.dataset.index_array()[np.asarray(indices, dtype=np.int64)])
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)

class _InfiniteConstantSampler:
    """The sampler of a loader over an IterableDataset (torch's): None forever, the dataset decides the order."""

    def __iter__(self):
        return itertools.repeat(None)


class _IterableFetcher:
    """The next batch of an IterableDataset's stream (the next sample when batch_size is None): start() makes the
    iterator, each call returns one batch or raises StopIteration. A worker holds one, starting it each epoch."""

    iterable = True

    def __init__(self, dataset, collate_fn, batch_size, drop_last):
        self.dataset, self.collate_fn, self.batch_size, self.drop_last = dataset, collate_fn, batch_size, drop_last
        self._it, self._ended = None, True

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_it"], state["_ended"] = None, True  # a live iterator stays in its process
        return state

    def start(self):
        self._it, self._ended = None, True
        self._it, self._ended = iter(self.dataset), False

    def __call__(self):
        if self._ended:
            raise StopIteration
        if self.batch_size is None:
            return (self.collate_fn or default_convert)(next(self._it))
        # as torch's fetcher: a short batch ends the stream, without asking the iterator again
        samples = list(itertools.islice(self._it, self.batch_size))
        if len(samples) < self.batch_size:
            self._ended = True
            if not samples or self.drop_last:
                raise StopIteration
        return (self.collate_fn or default_collate)(samples)


def _check_worker_args(num_workers, timeout, worker_init_fn, prefetch_factor, persistent_workers):
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"DataLoader: num_workers must be an int >= 0, got {num_workers!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValueError(f"DataLoader: timeout must be a number >= 0, got {timeout!r}")
    if worker_init_fn is not None and not callable(worker_init_fn):
        raise TypeError("DataLoader: worker_init_fn must be callable")
    if prefetch_factor is not None:
        if num_workers == 0:
            raise ValueError("DataLoader: prefetch_factor is for num_workers > 0 (batches are loaded in the main "
                             "process otherwise); leave it None")
        if isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor, int) or prefetch_factor < 1:
            raise ValueError(f"DataLoader: prefetch_factor must be a positive int, got {prefetch_factor!r}")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0")


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


def default_convert(data):
    """What the loader does to a sample when batching is off (batch_size=None): NumPy arrays and NumPy scalars
    become tensors, inside tuples, lists and dicts too; everything else is returned as is."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return tensor(data)
    if isinstance(data, np.generic) and data.dtype.kind in "biuf":
        return tensor(data.item())
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):
        return type(data)(default_convert(d) for d in data)
    return data
