"""Ensemble: many runs of one workflow with different parameters, each a full workflow with its own
checkpoints, run by an executor, gathered into one results table.

The coordinator here owns the policy, and the executors only run attempts: it decides which members
still need to run (a finished member is never run again), retries a failed member (the retry resumes
from the member's own checkpoints), records each final row atomically as soon as it is known, and
writes the table. An executor gets MemberJobs and reports a row per attempt (see executor_inprocess.py
for the smallest one).
"""
import dataclasses
import logging
import os

from . import members as members_mod
from .attempt import MemberJob
from .store import EnsembleStore
from .table import EnsembleResult

__all__ = ["Ensemble"]

log = logging.getLogger("hyflow.ensemble")

EXECUTORS = ("inprocess", "process", "dask", "mpi")


class Ensemble:
    """Run `build_workflow(params)` for every member and gather the results.

    build_workflow: params dict -> hyflow.workflow.Workflow. With executor="process" or "dask" it runs
        in other processes, so it (and `metrics`) must be picklable: a module-level function, not a
        lambda or a closure.
    members / grid / seeds: the members (see hyflow.ensemble.members): a list of parameter dicts (ids
        "0000", "0001", ...), a dict of id -> params, grid={"nu": [...], "forcing": [...]} (every
        combination), and/or seeds=N or [seeds] (crossed with the list or grid, as params["seed"]).
    steps: the steps each member's workflow runs.
    directory: the ensemble's folder (members/<id>/ with the checkpoints, results.json/.csv).
    executor: "inprocess" (default: one member after the other in this process), "process" (a pool of
        spawned processes), "dask" (a dask.distributed cluster), "mpi" (sub-communicators of the MPI
        world), or an executor object (InProcessExecutor, LocalPoolExecutor, DaskExecutor, MPIExecutor).
    retries: how many more times a failed member is tried; each retry resumes from its checkpoints.
    metrics: metrics(result, params) -> dict of numbers/strings for the table (result: the RunResult).
    checkpoint_every: steps between a member's checkpoints ("auto": steps // 10; None: none).
    resume: continue the ensemble already in `directory` (finished members are not run again). Without
        it, a directory holding an earlier run is refused; a second run() of the same Ensemble resumes.
    run_options: more Workflow.run keywords for every member (threads, lookahead, timeout).
    max_workers, threads_per_member, dask_client, address, ranks_per_member: options of the executor
        named by a string (see docs/ensembles.md).
    """

    def __init__(self, build_workflow, members=None, *, steps, directory, grid=None, seeds=None,
                 executor="inprocess", retries=0, metrics=None, checkpoint_every="auto", keep_checkpoints=2,
                 resume=False, run_options=None, max_workers=None, threads_per_member=None, dask_client=None,
                 address=None, ranks_per_member=None):
        if not callable(build_workflow):
            raise TypeError(f"Ensemble: build_workflow must be a callable params -> Workflow, got "
                            f"{type(build_workflow).__name__}")
        if metrics is not None and not callable(metrics):
            raise TypeError(f"Ensemble: metrics must be a callable (result, params) -> dict, got "
                            f"{type(metrics).__name__}")
        self.build_workflow = build_workflow
        self.metrics = metrics
        self.members = members_mod.resolve_members(members, grid, seeds)
        self.steps = _check_int(steps, "steps", 1)
        self.retries = _check_int(retries, "retries", 0)
        if checkpoint_every == "auto":
            checkpoint_every = max(1, self.steps // 10)
        self.checkpoint_every = None if checkpoint_every is None else _check_int(checkpoint_every,
                                                                                 "checkpoint_every", 1)
        self.keep_checkpoints = None if keep_checkpoints is None else _check_int(keep_checkpoints,
                                                                                 "keep_checkpoints", 1)
        self.run_options = dict(run_options or {})
        reserved = {"checkpoint_every", "checkpoint_dir", "keep_checkpoints", "resume", "progress", "comm", "steps"}
        clash = sorted(reserved & set(self.run_options))
        if clash:
            raise ValueError(f"Ensemble: run_options may not set {', '.join(clash)}: the ensemble chooses them "
                             "(use Ensemble's own arguments)")
        if not isinstance(resume, bool):
            raise TypeError(f"Ensemble: resume must be True or False, got {resume!r}")
        self.resume = resume
        self.store = EnsembleStore(directory)
        self.executor = make_executor(executor, max_workers=max_workers, threads_per_member=threads_per_member,
                                      dask_client=dask_client, address=address, ranks_per_member=ranks_per_member)
        self._ran = False

    @property
    def directory(self):
        return self.store.directory

    def job(self, member_id, attempt=0, threads=None):
        return MemberJob(member_id=member_id, params=self.members[member_id], attempt=attempt, steps=self.steps,
                         checkpoint_dir=self.store.checkpoint_dir(member_id), checkpoint_every=self.checkpoint_every,
                         keep_checkpoints=self.keep_checkpoints, run_options=self.run_options,
                         build=self.build_workflow, metrics=self.metrics, threads=threads,
                         store_directory=self.store.directory)

    def run(self):
        """Run every member not finished yet; returns the EnsembleResult (also in results.json/.csv).
        Ctrl-C stops the run: the members not finished are marked "skipped" in the table written
        before the KeyboardInterrupt propagates, and the next run() (or resume=True) continues."""
        if hasattr(self.executor, "run_ensemble"):  # MPI: every rank runs the whole plan itself
            return self.executor.run_ensemble(self)
        rows, pending = self.plan()
        threads = self.executor.threads_per_member(len(pending))
        recorder = Recorder(self, rows)
        try:
            self.executor.execute([dataclasses.replace(j, threads=threads) for j in pending], recorder.report)
        except BaseException:
            self.store.write_table(recorder.table())
            raise
        table = recorder.table()
        self.store.write_table(table)
        return table

    def plan(self):
        """({member id: reused row} for finished members, [MemberJob] for the others); checks the
        directory against this ensemble first."""
        if not self._ran and not self.resume and self.store.has_previous_run():
            raise ValueError(f"Ensemble: {self.directory} already holds an ensemble run: pass resume=True to "
                             "continue it (finished members are not run again), or choose an empty directory")
        self.store.check_manifest(self.members)
        self.store.write_manifest(self.members, self.steps)
        self._ran = True
        rows, pending = {}, []
        for member_id, params in self.members.items():
            row = self.store.finished_row(member_id, params, self.steps)
            if row is not None:
                rows[member_id] = dict(row, reused=True)
            else:
                self.store.prepare_member(member_id, params)
                pending.append(self.job(member_id))
        if rows:
            log.info("ensemble %s: %d of %d members finished earlier; running %d", self.directory, len(rows),
                     len(self.members), len(pending))
        return rows, pending

    def skipped_row(self, member_id):
        return {"member": member_id, "params": self.members[member_id], "status": "skipped", "attempts": 0,
                "wall_s": 0.0, "start_step": None, "steps": self.steps, "reused": False, "metrics": {},
                "error": None}

    def __repr__(self):
        return (f"Ensemble({len(self.members)} members, steps={self.steps}, executor={self.executor!r}, "
                f"directory={self.directory!r})")


def next_attempt(job, row, retries, report=True):
    """The job to run next after `row` (a failed attempt with retries left), else None. report: log
    the retry (the MPI executor logs it on one rank of the member's group)."""
    if row["status"] == "failed" and job.attempt < retries:
        e = row["error"] or {}
        if report:
            log.warning("ensemble member %s attempt %d failed (%s); retrying from its checkpoints", job.member_id,
                        job.attempt + 1, e.get("message"))
        return dataclasses.replace(job, attempt=job.attempt + 1, previous_wall_s=row["wall_s"])
    return None


class Recorder:
    """Collects final rows as attempts report in: retries go back to the executor, final rows are
    written to members/<id>/result.json and the table is rewritten, so a crash of the coordinator
    loses nothing that finished."""

    def __init__(self, ensemble, rows):
        self.ensemble = ensemble
        self.rows = dict(rows)

    def report(self, job, row):
        retry = next_attempt(job, row, self.ensemble.retries)
        if retry is not None:
            return retry
        self.rows[job.member_id] = row
        self.ensemble.store.write_row(row)
        self.ensemble.store.write_table(self.table())
        if row["status"] == "failed":
            e = row["error"] or {}
            log.warning("ensemble member %s failed after %d attempt(s): %s", job.member_id, row["attempts"],
                        e.get("message"))
        return None

    def table(self):
        ens = self.ensemble
        return EnsembleResult(self.rows.get(m) or ens.skipped_row(m) for m in ens.members)


def make_executor(spec, *, max_workers=None, threads_per_member=None, dask_client=None, address=None,
                  ranks_per_member=None):
    options = {"max_workers": max_workers, "threads_per_member": threads_per_member, "dask_client": dask_client,
               "address": address, "ranks_per_member": ranks_per_member}
    given = {k for k, v in options.items() if v is not None}
    if not isinstance(spec, str):
        if not (hasattr(spec, "execute") or hasattr(spec, "run_ensemble")):
            raise TypeError(f"Ensemble: executor must be one of {', '.join(EXECUTORS)} or an executor object, "
                            f"got {type(spec).__name__}")
        if given:
            raise ValueError(f"Ensemble: {', '.join(sorted(given))} configure an executor named by a string; "
                             "pass them to the executor object instead")
        return spec
    allowed = {"inprocess": set(), "process": {"max_workers", "threads_per_member"},
               "dask": {"max_workers", "threads_per_member", "dask_client", "address"},
               "mpi": {"ranks_per_member"}}
    if spec not in allowed:
        raise ValueError(f"Ensemble: executor must be one of {', '.join(EXECUTORS)}, got {spec!r}")
    wrong = sorted(given - allowed[spec])
    if wrong:
        raise ValueError(f"Ensemble: {', '.join(wrong)} do not apply to executor={spec!r}")
    kwargs = {k: options[k] for k in given}
    if spec == "inprocess":
        from .executor_inprocess import InProcessExecutor
        return InProcessExecutor()
    if spec == "process":
        from .executor_pool import LocalPoolExecutor
        return LocalPoolExecutor(**kwargs)
    if spec == "dask":
        from .executor_dask import DaskExecutor
        kwargs["client"] = kwargs.pop("dask_client", None)
        return DaskExecutor(**kwargs)
    from .executor_mpi import MPIExecutor
    return MPIExecutor(**kwargs)


def default_threads(concurrent_members):
    """Kernel threads per member when `concurrent_members` run at once on this machine: the cores
    shared out, at least one, so members never oversubscribe the CPU."""
    return max(1, (os.cpu_count() or 1) // max(1, concurrent_members))


def _check_int(value, what, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Ensemble: {what} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"Ensemble: {what} must be >= {minimum}, got {value}")
    return value
