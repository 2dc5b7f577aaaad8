"""The DataLoader worker process: seeding, worker_init_fn, and the fetch loop.

A worker takes (epoch, batch number, indices) tasks from its own index queue and puts (epoch, batch number,
batch or _WorkerError) on the queue it shares with the other workers. None on the index queue, a set done
event, or a dead parent ends it.

With an IterableDataset (a fetch with ``iterable`` set) the tasks carry no indices: the first task of each epoch
makes a fresh iterator of the worker's copy of the dataset, each task takes its next batch, and the task that finds
it exhausted answers _IterableEnd; the worker leaves the rest of that epoch's tasks unanswered (the parent skips
them), as torch's workers do.
"""
import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info"]

_POLL_S = 0.5  # how often an idle worker checks that its parent is alive

_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """What get_worker_info() returns inside a worker: id (0..num_workers-1), num_workers, seed, dataset."""
    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """The current worker's WorkerInfo, or None in the main process (as torch.utils.data.get_worker_info)."""
    return _worker_info


class _WorkerError:
    """An exception raised in a worker, carried to the parent as its type and formatted traceback."""

    def __init__(self, worker_id, exc):
        self.worker_id = worker_id
        self.exc_type = type(exc)
        self.text = "".join(traceback.format_tb(exc.__traceback__) + traceback.format_exception_only(type(exc), exc))

    def reraise(self):
        msg = (f"Caught {self.exc_type.__name__} in DataLoader worker process {self.worker_id}.\n"
               f"Original Traceback (most recent call last):\n{self.text}")
        try:
            err = self.exc_type(msg)
        except Exception:  # noqa: BLE001 - an exception type whose constructor needs other arguments
            err = RuntimeError(msg)
        raise err


class _IterableEnd:
    """A worker's answer once its copy of an IterableDataset is exhausted for the epoch."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


def _iterable_task(fetch, epoch, worker_id, init_error, state):
    """One task of an IterableDataset worker: the pickled next batch, a _WorkerError, _IterableEnd once, then None.

    A failing worker_init_fn or iter(dataset) is reported on the epoch's first task, and the next one ends the
    worker's epoch (a stream that could not start has nothing more to give)."""
    if epoch != state["epoch"]:
        state["epoch"], state["end"] = epoch, None
        error = init_error
        if error is None:
            try:
                fetch.start()
            except Exception as e:  # noqa: BLE001 - carried to the parent, which re-raises it
                error = _WorkerError(worker_id, e)
        if error is not None:
            state["end"] = "failed"
            return error
    if state["end"] == "ended":
        return None
    if state["end"] == "failed":
        state["end"] = "ended"
        return _IterableEnd(worker_id)
    try:
        return pickle.dumps(fetch(), protocol=pickle.HIGHEST_PROTOCOL)
    except StopIteration:
        state["end"] = "ended"
        return _IterableEnd(worker_id)
    except Exception as e:  # noqa: BLE001 - carried to the parent, which re-raises it
        return _WorkerError(worker_id, e)


def seed_worker(base_seed, worker_id):
    """Seed everything a dataset may draw from, as torch does: hyflow's default generator and Python's random
    with base_seed + worker_id, NumPy's global state from (base_seed, worker_id) mixed by SeedSequence."""
    from .. import manual_seed
    seed = (base_seed + worker_id) % 2**63
    manual_seed(seed)
    random.seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def worker_loop(dataset, fetch, index_queue, data_queue, done_event, worker_id, num_workers, base_seed,
                worker_init_fn, parent_pid):
    global _worker_info
    try:
        from .. import set_num_threads
        set_num_threads(1)  # num_workers processes share the cores; threads in each would oversubscribe them
        seed = seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        init_error = None
        iterable = getattr(fetch, "iterable", False)
        state = {"epoch": None, "end": None}  # iterable only: the iterator's epoch; why it ends, once it does
        if worker_init_fn is not None:
            try:
                worker_init_fn(worker_id)
            except Exception as e:  # noqa: BLE001 - reported on the first task, like torch
                init_error = _WorkerError(worker_id, e)
        while not done_event.is_set():
            try:
                task = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                if os.getppid() != parent_pid:
                    return  # the parent died without shutting us down: no orphans
                continue
            if task is None:
                return
            epoch, number, indices = task
            if iterable:
                payload = _iterable_task(fetch, epoch, worker_id, init_error, state)
                if payload is None:
                    continue  # exhausted: the parent skips this task
                data_queue.put((epoch, number, payload))
                continue
            if init_error is not None:
                data_queue.put((epoch, number, init_error))
                continue
            try:
                # pickled here rather than in the queue's feeder thread, where an unpicklable batch would only
                # be printed and the parent would wait for it forever
                payload = pickle.dumps(fetch(indices), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as e:  # noqa: BLE001 - carried to the parent, which re-raises it
                payload = _WorkerError(worker_id, e)
            data_queue.put((epoch, number, payload))
    except KeyboardInterrupt:
        pass  # the parent sees the interrupt too and shuts the workers down
    finally:
        if done_event.is_set():
            data_queue.cancel_join_thread()  # the parent stopped reading: do not block exit on unread batches
        sys.stdout.flush()
