"""DataLoader(num_workers=N): batches fetched by N worker processes, yielded in the sampler's order.

The parent draws the index batches (so shuffling is the same code as with num_workers=0), sends them round-robin
to the workers' index queues, keeping prefetch_factor batches per worker in flight, and reorders the results
that come back on one shared queue. Each task carries the epoch number, so with persistent_workers a batch
left over from an abandoned epoch is dropped instead of being served in the next one.

With an IterableDataset a task carries no indices: the worker returns the next batch of its own copy of the
dataset, or, once that is exhausted, an end marker, after which the parent gives that worker no more tasks of the
epoch and skips the ones it had (torch's scheme: batches come from the live workers in turn, round robin, until
none is left).
"""
import multiprocessing
import os
import pickle
import queue
import time
import weakref

from .. import _C
from .._creation import randint
from ._worker import _POLL_S, _IterableEnd, _WorkerError, worker_loop

__all__ = ["MultiProcessIter", "resolve_context"]

_JOIN_S = 5.0  # how long shutdown waits for a worker before terminating it


def resolve_context(context):
    """None (the platform default, fork on Linux as in torch), a start method name, or a context object."""
    if context is None:
        return multiprocessing.get_context()
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"DataLoader: multiprocessing_context {context!r} is not a start method here; "
                             f"choose one of {methods}")
        return multiprocessing.get_context(context)
    if isinstance(context, multiprocessing.context.BaseContext):
        return context
    raise TypeError("DataLoader: multiprocessing_context must be None, a start method name or a multiprocessing "
                    f"context, got {type(context).__name__}")


class MultiProcessIter:
    """The iterator of a DataLoader with workers; next_epoch() restarts it for persistent_workers."""

    def __init__(self, loader, fetch):
        # A persistent iterator belongs to its loader (loader._workers_iter): a weak reference back keeps that pair
        # out of a reference cycle, so dropping the loader stops the workers at once, not at the next GC pass.
        self._loader = weakref.ref(loader) if loader.persistent_workers else lambda: loader
        self._persistent, self._timeout = loader.persistent_workers, loader.timeout
        self._prefetch_factor = loader.prefetch_factor
        self._iterable = getattr(fetch, "iterable", False)
        self._shut = True  # until the workers exist, there is nothing to shut down
        n = loader.num_workers
        ctx = resolve_context(loader.multiprocessing_context)
        # like torch: one base seed per iterator, from the loader's generator (hy.manual_seed makes it repeat)
        self._base_seed = int(randint(0, 2**62, (1,), generator=loader.generator, dtype=_C.int64).item())
        self._data_queue = ctx.Queue()
        self._done = ctx.Event()
        self._index_queues, self._workers = [], []
        self._shut = False
        try:
            for worker_id in range(n):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()
                proc = ctx.Process(target=worker_loop, daemon=True,
                                   args=(loader.dataset, fetch, index_queue, self._data_queue, self._done, worker_id,
                                         n, self._base_seed, loader.worker_init_fn, os.getpid()))
                proc.start()
                self._index_queues.append(index_queue)
                self._workers.append(proc)
        except Exception:
            self.shutdown()
            raise
        self._epoch = -1
        self.next_epoch()

    def next_epoch(self):
        if self._shut:
            raise RuntimeError("DataLoader: the workers of this iterator were shut down")
        self._epoch += 1
        loader = self._loader()
        self._batches = None if self._iterable else iter(loader._index_batches())
        self._reported_len = loader._iterable_len_called if self._iterable else None
        self._sent = self._served = self._yielded = 0
        self._ready = {}
        self._next_worker = 0
        self._task_worker = {}                      # batch number -> the worker asked for it (iterable only)
        self._live = [True] * len(self._workers)    # workers whose dataset copy is not exhausted (iterable only)
        for _ in range(self._prefetch_factor * len(self._workers)):
            if not self._send_task():
                break
        return self

    def _send_task(self):
        n = len(self._workers)
        if self._iterable:
            # the next live worker in turn, as torch's round robin; none left: the epoch's tasks are all out
            for _ in range(n):
                worker = self._next_worker
                self._next_worker = (self._next_worker + 1) % n
                if self._live[worker]:
                    break
            else:
                return False
            indices = None
            self._task_worker[self._sent] = worker
        else:
            indices = next(self._batches, None)
            if indices is None:
                return False
            worker = self._next_worker
            self._next_worker = (self._next_worker + 1) % n
        self._index_queues[worker].put((self._epoch, self._sent, indices))
        self._sent += 1
        return True

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader())

    def __next__(self):
        if self._iterable:
            return self._next_iterable()
        if self._served == self._sent:
            if not self._persistent:
                self.shutdown()
            raise StopIteration
        while self._served not in self._ready:
            epoch, number, payload = self._receive()
            if epoch == self._epoch:
                self._ready[number] = payload
        payload = self._ready.pop(self._served)
        self._served += 1
        self._send_task()
        if isinstance(payload, _WorkerError):
            payload.reraise()
        return pickle.loads(payload)

    def _next_iterable(self):
        while True:
            # skip the tasks of exhausted workers: they will never answer them
            while self._served < self._sent and self._served not in self._ready \
                    and not self._live[self._task_worker[self._served]]:
                del self._task_worker[self._served]
                self._served += 1
            if self._served == self._sent:
                if not self._persistent:
                    self.shutdown()
                raise StopIteration
            if self._served in self._ready:
                break
            epoch, number, payload = self._receive()
            if epoch != self._epoch:
                continue
            if isinstance(payload, _IterableEnd):
                self._live[payload.worker_id] = False
                self._send_task()
            else:
                self._ready[number] = payload
        payload = self._ready.pop(self._served)
        del self._task_worker[self._served]
        self._served += 1
        self._send_task()
        if isinstance(payload, _WorkerError):
            payload.reraise()
        batch = pickle.loads(payload)
        self._yielded += 1
        self._loader()._warn_past_len(self._reported_len, self._yielded, stacklevel=4)
        return batch

    def _receive(self):
        timeout = self._timeout
        deadline = time.monotonic() + timeout if timeout > 0 else None
        while True:
            wait = _POLL_S if deadline is None else max(0.0, min(_POLL_S, deadline - time.monotonic()))
            try:
                return self._data_queue.get(timeout=wait)
            except queue.Empty:
                pass
            dead = [p for p in self._workers if p.exitcode is not None]
            if dead:
                self.shutdown()
                desc = ", ".join(f"pid {p.pid} exit code {p.exitcode}" for p in dead)
                raise RuntimeError(f"DataLoader worker(s) exited unexpectedly ({desc}); a negative exit code is "
                                   "the signal that killed it (e.g. -9: out of memory)")
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds waiting for batch {self._served} "
                                   "from its workers")

    def shutdown(self):
        """Stop and join every worker (terminating any that do not stop); safe to call twice."""
        if self._shut:
            return
        self._shut = True
        self._done.set()
        for index_queue in self._index_queues:
            try:
                index_queue.put(None)
            except (OSError, ValueError):
                pass
        for proc in self._workers:
            proc.join(_JOIN_S)
            if proc.is_alive():
                proc.terminate()
                proc.join(_JOIN_S)
        for q in self._index_queues + [self._data_queue]:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - at interpreter exit the modules it needs may be gone
            pass
