"""Members as tasks on a Dask distributed cluster: an embedded LocalCluster (2 worker processes of one
thread each by default), an existing cluster by `address`, or a `dask.distributed.Client` you made.

Each member attempt is one Dask task (pure=False: never deduplicated or cached), gathered as it
completes, so rows are recorded while others still run. Failures:

* a member that fails (its workflow raised) comes back as a failed row and the coordinator retries it;
* a worker that dies mid-member (killed, segfault, OOM) makes Dask raise KilledWorker for that task; the
  member is then failed or retried like any other failure, never waited for. The embedded cluster's
  scheduler is created with allowed-failures = 0 so that the ensemble's `retries` alone decide; an
  existing cluster's scheduler first reruns the task itself up to its own allowed-failures (default 3);
* Ctrl-C cancels every member still queued or running, closes the embedded cluster (which stops the
  running ones), writes the table and re-raises. On an existing cluster a member already running keeps
  its worker busy until it ends (Dask cannot interrupt a running task).

Workers need hyflow and the module of build_workflow importable (the same environment), and the
ensemble directory must be a path every worker can write (a shared filesystem across machines).
"""
import logging
import time
import uuid

from .attempt import failed_row, run_member_attempt
from .ensemble import default_threads

__all__ = ["DaskExecutor"]

DEFAULT_WORKERS = 2


def import_distributed():
    try:
        import dask
        import distributed
    except ImportError as e:
        raise ImportError(f"Ensemble(executor='dask') needs Dask distributed ({e}): pip install dask distributed "
                          "(or pip install 'hyflow[ensemble]')") from None
    return dask, distributed


class DaskExecutor:
    name = "dask"

    def __init__(self, client=None, address=None, max_workers=None, threads_per_member=None):
        import_distributed()
        if client is not None and address is not None:
            raise ValueError("DaskExecutor: give client= or address=, not both")
        if address is not None and not isinstance(address, str):
            raise TypeError(f"DaskExecutor: address must be a scheduler address string like "
                            f"'tcp://10.0.0.1:8786', got {type(address).__name__}")
        if (client is not None or address is not None) and max_workers is not None:
            raise ValueError("DaskExecutor: max_workers sizes the embedded LocalCluster; an existing cluster "
                             "(client= or address=) has its own workers")
        for what, v in (("max_workers", max_workers), ("threads_per_member", threads_per_member)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"DaskExecutor: {what} must be an int >= 1, got {v!r}")
        self.client = client
        self.address = address
        self.n_workers = max_workers or DEFAULT_WORKERS
        self._threads = threads_per_member

    @property
    def embedded(self):
        return self.client is None and self.address is None

    def threads_per_member(self, members):
        if self._threads is not None:
            return self._threads
        # Embedded: this machine's cores shared by the members that run at once. Existing cluster: None
        # keeps the workers' own setting (Dask's nanny sets OMP_NUM_THREADS=1, which hyflow's pool follows).
        return default_threads(min(self.n_workers, max(1, members))) if self.embedded else None

    def _connect(self):
        """(client, things to close afterwards)"""
        dask, distributed = import_distributed()
        if self.client is not None:
            return self.client, []
        if self.address is not None:
            client = distributed.Client(self.address)
            return client, [client]
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = distributed.LocalCluster(n_workers=self.n_workers, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.ERROR)
        client = distributed.Client(cluster)
        return client, [client, cluster]

    def execute(self, jobs, report):
        if not jobs:
            return
        _, distributed = import_distributed()
        client, to_close = self._connect()
        in_flight = {}  # future -> (job, submit time)

        def submit(job):
            key = f"hyflow-member-{job.member_id}-attempt{job.attempt}-{uuid.uuid4().hex[:8]}"
            future = client.submit(run_member_attempt, job, pure=False, key=key)
            in_flight[future] = (job, time.perf_counter())
            return future

        try:
            completed = distributed.as_completed([submit(job) for job in jobs])
            for future in completed:
                job, started = in_flight.pop(future)
                try:
                    row = future.result()
                except distributed.KilledWorker:
                    row = failed_row(job, time.perf_counter() - started,
                                     {"task": None, "step": None, "type": "KilledWorker",
                                      "message": "the Dask worker running this member died (killed, a crash in "
                                                 "native code, or out of memory)"})
                except Exception as e:  # noqa: BLE001 — e.g. the worker cannot import build_workflow's module
                    row = failed_row(job, time.perf_counter() - started,
                                     {"task": None, "step": None, "type": type(e).__name__,
                                      "message": f"Dask could not run the member: {type(e).__name__}: {e}"})
                retry = report(job, row)
                if retry is not None:
                    completed.add(submit(retry))
        except BaseException:
            if in_flight:
                client.cancel(list(in_flight), force=True)
            raise
        finally:
            for thing in to_close:
                thing.close()

    def __repr__(self):
        where = "client" if self.client is not None else self.address or f"LocalCluster({self.n_workers} workers)"
        return f"DaskExecutor({where})"
