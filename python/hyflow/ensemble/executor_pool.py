"""Members in a pool of local worker processes (concurrent.futures, started with "spawn").

Spawned workers start a fresh interpreter (no fork of a process holding threads and MPI state), so
everything a member needs travels by pickle: build_workflow and metrics must be module-level functions
of an importable module (or of the main script, guarded by ``if __name__ == "__main__":``), and
parameters plain data.

Each worker slot is a ProcessPoolExecutor of one process. A pool of N processes would not say which
member's process died: when one dies (a segfault, os._exit, the OOM killer), concurrent.futures breaks
the whole pool and fails every member in flight. With one pool per slot only the member that ran in
the dead process gets the failure (and is retried per `retries`); the others go on, and the slot gets a
fresh process.

CPU: each worker sets hy.set_num_threads(threads_per_member), by default the cores divided among the
members that run at once (at least 1), and OMP_NUM_THREADS/OPENBLAS_NUM_THREADS/MKL_NUM_THREADS for libraries it loads
later, so N members never run more threads than the machine has cores.
"""
import multiprocessing
import os
import pickle
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .attempt import failed_row, run_member_attempt
from .ensemble import default_threads

__all__ = ["LocalPoolExecutor"]


def _init_worker(threads):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import hyflow as hy
    hy.set_num_threads(threads)


class LocalPoolExecutor:
    name = "process"

    def __init__(self, max_workers=None, threads_per_member=None):
        if max_workers is None:
            max_workers = os.cpu_count() or 1
        for what, v in (("max_workers", max_workers), ("threads_per_member", threads_per_member)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"LocalPoolExecutor: {what} must be an int >= 1, got {v!r}")
        self.max_workers = max_workers
        self._threads = threads_per_member

    def threads_per_member(self, members):
        """Kernel threads for each of the min(max_workers, members) members that run at once."""
        return self._threads or default_threads(min(self.max_workers, max(1, members)))

    def execute(self, jobs, report):
        if not jobs:
            return
        _check_picklable(jobs[0])
        threads = jobs[0].threads or self.threads_per_member(len(jobs))
        context = multiprocessing.get_context("spawn")
        slots = [None] * min(self.max_workers, len(jobs))
        queue = deque(jobs)
        running = {}  # future -> (slot index, job, start time)
        try:
            while queue or running:
                busy = {slot for slot, _, _ in running.values()}
                for slot in range(len(slots)):
                    if queue and slot not in busy:
                        if slots[slot] is None:
                            slots[slot] = ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker,
                                                              initargs=(threads,))
                        job = queue.popleft()
                        running[slots[slot].submit(run_member_attempt, job)] = (slot, job, time.perf_counter())
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    slot, job, started = running.pop(future)
                    try:
                        row = future.result()
                    except BrokenProcessPool:
                        row = failed_row(job, time.perf_counter() - started, _died())
                        slots[slot].shutdown(wait=False)
                        slots[slot] = None  # the next member in this slot gets a fresh process
                    except Exception as e:  # noqa: BLE001 — e.g. the row could not be pickled back
                        row = failed_row(job, time.perf_counter() - started,
                                         {"task": None, "step": None, "type": type(e).__name__,
                                          "message": f"the worker could not hand back the member's result: {e}"})
                    retry = report(job, row)
                    if retry is not None:
                        queue.appendleft(retry)
        except BaseException:
            _stop(slots)  # Ctrl-C or a coordinator error: do not leave members running behind our back
            raise
        for pool in slots:
            if pool is not None:
                pool.shutdown(wait=True)

    def __repr__(self):
        return f"LocalPoolExecutor(max_workers={self.max_workers}, threads_per_member={self._threads or 'auto'})"


def _died():
    return {"task": None, "step": None, "type": "WorkerDied",
            "message": "the worker process running this member died (killed by a signal, os._exit, a crash in "
                       "native code, or out of memory)"}


def _stop(slots):
    for pool in slots:
        if pool is None:
            continue
        # concurrent.futures (before Python 3.14's terminate_workers) has no public way to stop a
        # running call; a member may run for hours, so end its process directly.
        for process in list(getattr(pool, "_processes", {}).values()):
            if process.is_alive():
                process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)


def _check_picklable(job):
    try:
        pickle.dumps(job)
    except Exception as e:  # noqa: BLE001 — pickle raises several types
        raise TypeError(f"Ensemble(executor='process'): the members cannot be sent to worker processes ({e}). "
                        "build_workflow and metrics must be module-level functions (not lambdas, closures or "
                        "functions defined inside another function) and parameters plain data") from None
