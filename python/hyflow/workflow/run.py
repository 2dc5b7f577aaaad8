"""Running a declared Workflow on the C++ engine: the Python half of the host interface (task bodies,
predicates, checkpoints, progress) and the RunResult / WorkflowError a user gets back.

The engine (csrc/workflow/engine.h) decides what runs when; this module turns an instance (task,
step) into a call fn(ctx, *inputs), keeps each task's Context, and writes and restores checkpoints.
Under MPI each rank runs the part of the graph placed on it (see local_graph.py).
"""
import logging
import os
import traceback

from .. import _C
from . import local_graph
from .context import Context, new_generator
from .graph import MAX_COUNT, check_timeout, show_int
from .lint import warn_graph_problems
from .task_state import TaskState

__all__ = ["run_workflow", "RunResult", "WorkflowError", "WorkflowTimeoutError"]

# After a call was told to stop (a timeout, a second Ctrl-C), how long the engine waits for it before it
# abandons the thread: a thread stuck in C code cannot be stopped.
ABANDON_AFTER_S = 1.0

log = logging.getLogger("hyflow.workflow")


class WorkflowError(RuntimeError):
    """A task failed after its retries (or the run could not go on). `task`, `step`, `attempts` and
    `traceback` (text) describe the first failure, whose exception is the error's __cause__; `failures` lists all of them; `result` holds what the run
    produced (final states of every task, statistics)."""

    def __init__(self, message, *, task=None, step=None, attempts=None, traceback_text=None, failures=(),
                 cancelled=(), result=None):
        super().__init__(message)
        self.task = task
        self.step = step
        self.attempts = attempts
        self.traceback = traceback_text
        self.failures = list(failures)
        self.cancelled = list(cancelled)
        self.result = result


class WorkflowTimeoutError(WorkflowError):
    """A task attempt ran past its `timeout` (then `task`/`step` name it), or the whole run past the
    run's `timeout` (then they name the first instance still running, if any). `timeout` is the limit in
    seconds; `abandoned` lists the instances ({"task", "step"}) whose threads did not stop and were left
    behind (stuck in C code, or in a body that swallowed the TimeoutError)."""

    def __init__(self, message, *, timeout=None, abandoned=(), **kwargs):
        super().__init__(message, **kwargs)
        self.timeout = timeout
        self.abandoned = list(abandoned)


class RunResult:
    """What Workflow.run returns: `state` (task name -> its final ctx.state), `stats` (per-task timings,
    per-channel queue statistics, steps and wall time), `events` (one per task attempt), and
    `start_step`/`steps` (the range this run covered)."""

    def __init__(self, workflow, state, stats, events, start_step, steps, rank, checkpoint=None):
        self.workflow = workflow
        self.state = state
        self.stats = stats
        self.events = events
        self.start_step = start_step
        self.steps = steps
        self.rank = rank
        self.checkpoint = checkpoint  # the folder of the last checkpoint this run wrote, if any

    def trace(self, path=None):
        """The run's timeline in Chrome-trace JSON (one row per task; under MPI, one process per rank
        in the file rank 0 writes). Returns the trace dict; writes it to `path` when given."""
        from .observe import chrome_trace
        return chrome_trace(self.events, path, workflow=self.workflow, rank=self.rank)

    def format_stats(self):
        from .observe import format_stats
        return format_stats(self.stats)

    def __repr__(self):
        return (f"RunResult(workflow={self.workflow!r}, steps={self.start_step}..{self.steps}, "
                f"wall={self.stats.get('wall_s', 0.0):.3f}s, tasks={list(self.state)})")


class _Driver:
    """The host the engine calls back (see csrc/bindings/bind_workflow.cpp's PyHost)."""

    def __init__(self, wf, graph, states, rngs, engine, progress, checkpointing):
        self.wf = wf
        self.graph = graph
        self.engine = engine
        self.progress = progress
        self.checkpointing = checkpointing
        # A context describes the declared task (its outputs are the Channels ctx.emit checks against),
        # not the local stand-in the engine runs, whose outputs are local channel indices.
        self.contexts = [Context(wf, wf[t.name], states[t.name], rngs[t.name], graph.rank, graph.size)
                         if t.fn is not None else None for t in graph.tasks]
        self.interrupt = None  # a KeyboardInterrupt (or other BaseException) to re-raise after the run
        self.timed_out_at = {}  # task index -> the step at which it ran past its timeout
        self.any_rank_failed = False
        self.last_checkpoint = None
        # (task name, step) -> (what raised it, the exception that failed it for good), which the WorkflowError chains
        # (`raise ... from`), so the user's traceback reaches them as a traceback, not as text
        self.errors = {}
        self.checkpoint_error = None

    def predicate(self, task, step):
        ctx = self.contexts[task]
        ctx._begin(step, 0)
        previous = _C._set_thread_generator(ctx.rng)
        try:
            try:
                answer = bool(self.graph.tasks[task].when(ctx))
            finally:
                sub_error = ctx._join_subtasks()
            if sub_error is not None:
                raise sub_error
            return answer
        except Exception as e:
            # the engine fails the task (no retries for predicates), naming the predicate
            self.errors[(self.graph.tasks[task].name, step)] = ("its `when` predicate raised ", e)
            self._failed(task, step, f"its `when` predicate raised {type(e).__name__}: {e}")
            raise
        except BaseException as e:
            # KeyboardInterrupt, SystemExit: the engine would report it as a failed predicate, so keep
            # it here; the next heartbeat stops the run with it and run() re-raises it as it is.
            self.interrupt = self.interrupt or e
            raise
        finally:
            _C._set_thread_generator(previous)

    def invoke(self, task, step, attempt, args):
        t = self.graph.tasks[task]
        if t.fn is None:  # a proxy for a remote task (see local_graph.py)
            try:
                outcome = t.proxy(step, args)
            except Exception as e:  # noqa: BLE001 — e.g. a peer died: the proxy's task fails
                outcome = (False, "".join(traceback.format_exception(type(e), e, e.__traceback__)), None)
            if not outcome[0]:
                self._failed(task, step, outcome[1])
            return outcome
        ctx = self.contexts[task]
        ctx._begin(step, attempt)
        args = [_unwrap(x, pol) for x, pol in zip(args, t.input_policies)]
        if t.retries:
            before = ctx.state.copy()
        # The task's own generator is the default while it runs: random init, dropout and hy.randn
        # inside it are reproducible whichever thread runs it and whatever else runs meanwhile.
        previous = _C._set_thread_generator(ctx.rng)
        try:
            try:
                value = t.fn(ctx, *args)
            finally:
                sub_error = ctx._join_subtasks()  # on every path: no sub-task outlives its step
            if sub_error is not None:
                raise sub_error
            _check_typed_outputs(ctx, value)
        except Exception as e:  # noqa: BLE001 — reported to the engine, which retries or fails the task
            text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            timed_out = self.timed_out_at.get(task) == step  # final: the engine does not retry it
            if t.retries:
                # A retry starts from the state the failed attempt started from. In place: the run's
                # result and its checkpoints hold this very object.
                ctx.state.rollback_to(before)
                if attempt < t.retries and not timed_out:
                    log.warning("task '%s' step %d attempt %d failed (%s: %s); retrying", t.name, step, attempt + 1,
                                type(e).__name__, e)
            if attempt >= t.retries or timed_out:
                self.errors[(t.name, step)] = ("", e)
            if attempt >= t.retries and not timed_out:
                self._failed(task, step, f"{type(e).__name__}: {e}")
            return (False, text, None)
        except BaseException as e:
            self.interrupt = self.interrupt or e
            raise
        finally:
            _C._set_thread_generator(previous)
        emitted = ctx._emitted
        ctx._emitted = []
        return (True, value, [(lc, v) for c, v in emitted for lc in t.channel_map[c]])

    def timed_out(self, task, step, message):
        """The engine is stopping local task `task` at `step`: it ran past its timeout (a TimeoutError is
        being raised in its thread). That failure is final, so its MPI peers hear of it now."""
        self.timed_out_at[task] = step
        self._failed(task, step, message)

    def _failed(self, task, step, error):
        """Local task `task` failed for good at `step`: the engine stops it and its dependents; tell the
        ranks that wait for their outputs (see local_graph.py's stop notices)."""
        error = error.strip().splitlines()[-1] if error.strip() else "?"
        self.graph.stop_downstream(task, f"task '{self.graph.tasks[task].name}' failed at step {step} on rank "
                                         f"{self.graph.rank}: {error}")

    def checkpoint(self, next_step, failed):
        try:
            self._checkpoint(next_step, failed)
        except BaseException as e:
            if not isinstance(e, Exception):  # Ctrl-C while saving: run() re-raises it as it is
                self.interrupt = self.interrupt or e
            else:  # stops the run; the WorkflowError chains it
                self.checkpoint_error = self.checkpoint_error or e
            raise

    def _checkpoint(self, next_step, failed):
        if self.checkpointing is None:
            return
        if self.graph.size > 1:
            # One collective decision per cut: every rank reaches it (all messages of earlier steps are
            # sent by then), so ranks stay within one checkpoint of each other, and with
            # keep_checkpoints >= 2 they always share a step to resume from. After a failure on any
            # rank nobody writes: the last checkpoint stays the last consistent one.
            import hyflow as hy
            from .. import distributed as dist
            flag = hy.tensor([1 if (failed or self.any_rank_failed) else 0], dtype=hy.int64)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self.graph.group)
            self.any_rank_failed = bool(flag.tolist()[0])
        else:
            self.any_rank_failed = failed
        if self.any_rank_failed:
            return
        directory, keep = self.checkpointing
        from .checkpoint import save_checkpoint
        payload = self.graph.checkpoint_payload(self.engine, self.contexts, next_step)
        self.last_checkpoint = save_checkpoint(directory, next_step, payload, keep=keep)
        log.info("workflow '%s': checkpoint at step %d -> %s", self.wf.name, next_step, self.last_checkpoint)

    def heartbeat(self, steps_done):
        if self.interrupt is not None:
            raise self.interrupt  # stops the run (see predicate)
        if self.progress is not None:
            self.progress.update_to(steps_done - self.graph.start_step)


def _check_typed_outputs(ctx, value):
    """Typed channels (Workflow.channel's type/dtype/shape) check what the task sends them."""
    task = ctx._task
    if value is not None:
        for ch in task.outputs:
            if ch.typed:
                ch.check_item(value, task.name)
    for index, item in ctx._emitted:
        ch = task.workflow.channels[index]
        if ch.typed:
            ch.check_item(item, task.name)


def _unwrap(value, policy):
    # "latest" channels deliver one item, not a list (None when nothing arrived)
    if policy == "latest":
        return value[-1] if value else None
    return value


def _check_run_int(value, what, minimum, maximum=MAX_COUNT, none_ok=False):
    """run()'s int arguments, checked before anything reaches the C++ engine (whose int64 arguments would
    otherwise fail with pybind11's "incompatible function arguments", naming nothing)."""
    if none_ok and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        shown = show_int(value) if isinstance(value, int) and not isinstance(value, bool) else f"{value!r:.40}"
        limit = "2**62" if maximum == MAX_COUNT else maximum
        raise ValueError(f"run: {what} must be an int >= {minimum} and <= {limit}{' or None' if none_ok else ''}, "
                         f"got {shown}")
    return value


def run_workflow(wf, steps, *, checkpoint_every=None, checkpoint_dir=None, resume=False, keep_checkpoints=2,
                 progress=None, threads=None, lookahead=16, timeout=None, comm=None):
    steps = _check_run_int(steps, "steps", 0)
    if checkpoint_every is not None:
        _check_run_int(checkpoint_every, "checkpoint_every", 1)
        if checkpoint_dir is None:
            raise ValueError("run: checkpoint_every needs a checkpoint_dir")
    if resume and checkpoint_dir is None:
        raise ValueError("run: resume=True needs the checkpoint_dir to resume from")
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise TypeError(f"run: checkpoint_dir must be a path, got {type(checkpoint_dir).__name__}")
    # Checked here, not at the first checkpoint, which may come after hours of steps.
    if keep_checkpoints is not None and (isinstance(keep_checkpoints, bool) or not isinstance(keep_checkpoints, int)
                                         or keep_checkpoints < 1):
        raise ValueError(f"run: keep_checkpoints must be an int >= 1 or None, got {keep_checkpoints!r}")
    if progress not in (None, True, False):
        raise TypeError(f"run: progress must be True, False or None (automatic), got {progress!r}")
    # An upper bound: a million threads made oneTBB abort the process in a later call.
    _check_run_int(threads, "threads", 1, _C._workflow.MAX_THREADS, none_ok=True)
    _check_run_int(lookahead, "lookahead", 1)
    timeout = check_timeout(timeout, "run: timeout")
    if not wf.tasks:
        raise ValueError(f"workflow '{wf.name}' has no tasks")

    graph = local_graph.build(wf, comm)
    states = {t.name: TaskState() for t in wf.tasks}
    rngs = {t.name: new_generator(wf.seed, t.name) for t in wf.tasks}
    engine = _C._workflow.Engine(graph.engine_tasks(), graph.engine_channels())
    start = 0
    if resume:
        start = graph.restore(engine, checkpoint_dir, states, rngs)
    graph.start_step = start
    if start > steps:
        raise ValueError(f"run: the checkpoint in {checkpoint_dir!r} is at step {start}, past steps={steps}")
    if graph.rank == 0:
        warn_graph_problems(wf, start, steps)  # one copy of each warning, not one per rank

    from .observe import Progress
    checkpointing = None
    if checkpoint_dir is not None and checkpoint_every is not None:
        checkpointing = (graph.checkpoint_dir(os.fspath(checkpoint_dir)), keep_checkpoints)
    with Progress(steps - start, enabled=progress if graph.rank == 0 else False, desc=wf.name) as bar:
        driver = _Driver(wf, graph, states, rngs, engine, bar, checkpointing)
        # Proxies block a worker while they wait for a peer: they get threads of their own on top.
        threads = (threads if threads is not None else max(2, _C.get_num_threads())) + graph.blocking_tasks
        if threads > _C._workflow.MAX_THREADS:
            raise ValueError(f"run: threads plus the {graph.blocking_tasks} MPI proxies of this rank come to "
                             f"{threads}, more than {_C._workflow.MAX_THREADS}: ask for fewer threads")
        report = engine.run(driver, start, steps, checkpoint_every or 0, threads, lookahead, 0.1, timeout or 0.0,
                            ABANDON_AFTER_S)
        if not report["aborted"] and not report["failures"]:
            bar.update_to(steps - start)
    graph.finish(steps)

    stats = {"tasks": report["tasks"], "channels": report["channels"], "steps": steps - start,
             "start_step": start, "wall_s": report["wall_s"], "trace_events_dropped": report["events_dropped"]}
    local_states = {t.name: states[t.name] for t in graph.tasks if t.fn is not None}
    for state in local_states.values():
        # Entries restored from the checkpoint that no step of this run claimed (a run resumed at its last
        # step, a task that did not fire again) come back as their saved state dicts, not as KeyErrors.
        state.materialise_pending()
    result = RunResult(wf.name, local_states, stats, report["events"], start, steps, graph.rank,
                       driver.last_checkpoint)
    wf.last_result = result
    if report["hard_stopped"]:
        # A second Ctrl-C while the run waited for running bodies: it returned without them.
        raise KeyboardInterrupt(f"workflow '{wf.name}' interrupted again: stopped without waiting for "
                                f"{_instances(report['abandoned']) or 'running tasks'}")
    if driver.interrupt is not None:
        raise driver.interrupt
    if report["aborted"].startswith("KeyboardInterrupt"):
        # Ctrl-C: the engine's supervising thread checks for signals between heartbeats and reports the
        # KeyboardInterrupt it got as text. The user pressed Ctrl-C, so give them KeyboardInterrupt.
        raise KeyboardInterrupt(f"workflow '{wf.name}' interrupted")
    if report["timed_out"]:
        raise _run_timeout_error(wf, report, result, timeout)
    if report["aborted"]:
        reason, cause = report["aborted"], driver.checkpoint_error
        if cause is not None:  # the text pybind11 made of it ends with a copy of the traceback ("At: ...")
            reason = reason.split("\n\nAt:\n")[0]
        raise WorkflowError(f"workflow '{wf.name}' stopped: {reason}", result=result) from cause
    if report["failures"]:
        raise _failure_error(wf, report, result, driver.errors)
    return result


def _instances(items):
    return ", ".join(f"task '{i['task']}' step {i['step']}" for i in items)


def _run_timeout_error(wf, report, result, timeout):
    running = report["running_at_timeout"]
    message = f"workflow '{wf.name}' stopped: it ran past its timeout of {timeout:g} s"
    if running:
        message += f"; running then: {_instances(running)}"
    if report["abandoned"]:
        message += f"; abandoned (their threads did not stop): {_instances(report['abandoned'])}"
    first = running[0] if running else {}
    return WorkflowTimeoutError(message, task=first.get("task"), step=first.get("step"), timeout=timeout,
                                abandoned=report["abandoned"], failures=report["failures"],
                                cancelled=report["cancelled"], result=result)


def _failure_error(wf, report, result, errors):
    """The WorkflowError for the run's first failure. Its exception, when it was raised in this process,
    becomes the error's __cause__ (its traceback printed above the WorkflowError's, as Python does for
    `raise ... from`); a failure on another rank arrives as text and is quoted in the message."""
    first = report["failures"][0]
    where, cause = errors.get((first["task"], first["step"]), ("", None))
    if first["timeout"]:
        timeout = wf[first["task"]].timeout
        head = f"workflow '{wf.name}': task '{first['task']}' timed out at step {first['step']} (timeout={timeout:g} s):"
        lines = [head, first["error"].rstrip()]  # the engine's account of the timeout
    else:
        head = f"workflow '{wf.name}': task '{first['task']}' failed at step {first['step']} " \
               f"after {first['attempts']} attempt(s):"
        if cause is not None:
            lines = [f"{head} {where}{type(cause).__name__}: {cause}"]
        else:
            lines = [head, first["error"].rstrip()]
    for other in report["failures"][1:]:
        lines.append(f"also failed: task '{other['task']}' at step {other['step']}: "
                     f"{other['error'].strip().splitlines()[-1]}")
    if report["cancelled"]:
        lines.append("stopped because they depend on it: " + ", ".join(f"'{c}'" for c in report["cancelled"]))
    kwargs = dict(task=first["task"], step=first["step"], attempts=first["attempts"], traceback_text=first["error"],
                  failures=report["failures"], cancelled=report["cancelled"], result=result)
    if first["timeout"]:
        error = WorkflowTimeoutError("\n".join(lines), timeout=wf[first["task"]].timeout,
                                     abandoned=report["abandoned"], **kwargs)
    else:
        error = WorkflowError("\n".join(lines), **kwargs)
    error.__cause__ = cause  # as `raise error from cause`
    return error
