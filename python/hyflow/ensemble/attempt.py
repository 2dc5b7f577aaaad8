"""One attempt at one member: build its workflow from its parameters, run it from its own checkpoints,
measure it, and describe the outcome as a results-table row. This is what every executor runs, in this
process, a pool worker, a Dask worker or on an MPI sub-communicator, so it takes and returns plain,
picklable data (MemberJob in, a row dict out) and never raises for a failure of the member itself.
"""
import dataclasses
import math
import numbers
import time
import traceback
from typing import Any, Callable, Optional

__all__ = ["MemberJob", "run_member_attempt", "failed_row"]


@dataclasses.dataclass
class MemberJob:
    member_id: str
    params: dict
    attempt: int                     # 0 on the first try
    steps: int
    checkpoint_dir: str
    checkpoint_every: Optional[int]
    keep_checkpoints: Optional[int]
    run_options: dict                # extra Workflow.run keywords (threads, lookahead, timeout)
    build: Callable[[dict], Any]
    metrics: Optional[Callable[[Any, dict], dict]]
    threads: Optional[int] = None    # hy.set_num_threads for the member's kernels (None: leave as is)
    store_directory: Optional[str] = None  # where the finished row goes (members/<id>/result.json)
    previous_wall_s: float = 0.0     # wall time of the earlier attempts, so the row shows the total


def run_member_attempt(job, comm=None, write_row=True, agree_built=None):
    """Run `job`; returns its row with status "ok" or "failed". comm: the process group an MPI member
    runs on. write_row: store an ok row in members/<id>/result.json right away, from the process that
    ran it, so a finished member stays finished even if the coordinator dies before hearing of it.
    agree_built(built_here) -> built on every rank: under MPI, the ranks of the member's group agree
    that they all built the workflow before any of them starts it, since a rank whose build failed
    would leave the others waiting in the workflow's communication until the timeout."""
    import hyflow as hy
    from ..workflow import Workflow

    if job.threads is not None:
        hy.set_num_threads(job.threads)
    started = time.perf_counter()
    wf, build_error = None, None
    try:
        wf = job.build(dict(job.params))
        if not isinstance(wf, Workflow):
            raise TypeError(f"build_workflow must return a hyflow.workflow.Workflow, got {type(wf).__name__}")
    except Exception as e:  # noqa: BLE001 — the member failed; the ensemble goes on with the others
        build_error = e
    built_everywhere = agree_built(build_error is None) if agree_built is not None else build_error is None
    if build_error is not None:
        return failed_row(job, time.perf_counter() - started, _phase_error("build_workflow", build_error))
    if not built_everywhere:
        return failed_row(job, time.perf_counter() - started,
                          {"task": None, "step": None, "type": "BuildFailedElsewhere",
                           "message": "build_workflow failed on another rank of the member's group"})
    return _run_built(job, wf, comm, write_row, started)


def _run_built(job, wf, comm, write_row, started):
    from ..workflow import WorkflowError
    phase, start_step = "run", None
    try:
        result = wf.run(job.steps, checkpoint_every=job.checkpoint_every,
                        checkpoint_dir=job.checkpoint_dir, keep_checkpoints=job.keep_checkpoints, resume=True,
                        progress=False, comm=comm, **job.run_options)
        start_step = result.start_step
        phase = "metrics"
        metrics = clean_metrics(job.metrics(result, dict(job.params)) if job.metrics is not None else {})
    except WorkflowError as e:
        if e.result is not None:
            start_step = e.result.start_step
        return failed_row(job, time.perf_counter() - started, _workflow_error(e), start_step)
    except Exception as e:  # noqa: BLE001 — the member failed; the ensemble goes on with the others
        return failed_row(job, time.perf_counter() - started, _phase_error(phase, e), start_step)
    row = _row(job, "ok", time.perf_counter() - started, start_step, metrics, None)
    if write_row and job.store_directory is not None:
        from .store import EnsembleStore
        EnsembleStore(job.store_directory).write_row(row)
    return row


def _phase_error(phase, e):
    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    return {"task": None, "step": None, "type": type(e).__name__, "message": f"{phase} raised {type(e).__name__}: {e}",
            "traceback": text}


def failed_row(job, wall_s, error, start_step=None):
    return _row(job, "failed", wall_s, start_step, {}, error)


def _row(job, status, wall_s, start_step, metrics, error):
    return {"member": job.member_id, "params": job.params, "status": status, "attempts": job.attempt + 1,
            "wall_s": job.previous_wall_s + wall_s, "start_step": start_step, "steps": job.steps, "reused": False,
            "metrics": metrics, "error": error}


def _workflow_error(e):
    """The failed task, its step and the exception's own line (the WorkflowError message adds the
    traceback, which the JSON row keeps)."""
    text = e.traceback or str(e)
    last = next((line for line in reversed(text.strip().splitlines()) if line.strip()), str(e))
    return {"task": e.task, "step": e.step, "type": type(e).__name__, "message": last.strip(),
            "traceback": str(e)}


def clean_metrics(metrics):
    """Metrics as JSON data: numbers (NumPy scalars and one-element tensors included), strings, bools,
    None, lists and str-keyed dicts of them. NaN and infinities become None (JSON has no NaN)."""
    if not isinstance(metrics, dict):
        raise TypeError(f"the metrics function must return a dict, got {type(metrics).__name__}")
    return _clean(metrics, "metrics")


def _clean(value, where):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} has a non-str key {k!r}")
            out[k] = _clean(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "numel") and hasattr(value, "item") and value.numel() == 1:  # a one-element tensor
        return _clean(value.item(), where)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # a NumPy 0-d array
        return _clean(value.item(), where)
    raise TypeError(f"{where} is a {type(value).__name__}; metrics must be numbers, strings, bools, None, or "
                    "lists/dicts of them (use .item() or .tolist() for tensors)")
