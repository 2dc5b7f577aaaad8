"""What a task body receives as `ctx`: its step, its state, its random generator, and ways to emit
items and spawn sub-tasks."""
import difflib
import hashlib
import logging

from .. import _C
from .graph import Channel

__all__ = ["Context", "SubTaskFuture", "task_seed"]

log = logging.getLogger("hyflow.workflow")


def task_seed(workflow_seed, task_name):
    """A seed for one task's generator that is the same in every process and every run."""
    digest = hashlib.blake2b(f"{workflow_seed}/{task_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1  # keep it a non-negative int64


class SubTaskFuture:
    """The handle ctx.spawn returns: result() waits (running other work meanwhile) and returns fn's
    value or raises its exception."""

    def __init__(self, fn, args, kwargs):
        # The running body writes into this cell, never into the future: the engine's task must not own
        # the handle that waits for it.
        cell = self._cell = [None, None]  # value, error

        def body():
            try:
                cell[0] = fn(*args, **kwargs)
            except BaseException as e:  # noqa: B036 — handed to whoever calls result()
                cell[1] = e

        self._handle = _C._workflow.spawn(body)

    def done(self):
        return self._handle.done()

    def result(self):
        self._handle.wait()
        if self._cell[1] is not None:
            raise self._cell[1]
        return self._cell[0]


class Context:
    """Per-task view of a running workflow (one object per task, updated every step).

    Attributes: workflow, task (name), step, attempt (0 on the first try), state (a dict saved in
    checkpoints), rng (a hy.Generator seeded from the workflow seed and the task name, saved in
    checkpoints: use it for anything random so runs and resumed runs agree), rank and world_size,
    log (the "hyflow.workflow" logger).
    """

    def __init__(self, workflow, task, state, rng, rank=0, world_size=1):
        self.workflow = workflow
        self.task = task.name
        self._task = task
        self.step = -1
        self.attempt = 0
        self.state = state
        self.rng = rng
        self.rank = rank
        self.world_size = world_size
        self.log = log
        self._emitted = []
        self._subtasks = []

    def emit(self, channel, value):
        """Push `value` to one of this task's output channels (in addition to the return value, which
        goes to all of them)."""
        outs = [o.name for o in self._task.outputs]
        if isinstance(channel, str):
            declared = [c.name for c in self.workflow.channels]
            if channel not in declared:
                close = difflib.get_close_matches(channel, outs or declared, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f"; its outputs are {outs}"
                raise ValueError(f"task '{self.task}': ctx.emit to unknown channel '{channel}'{hint}")
            channel = self.workflow[channel]
        if not isinstance(channel, Channel) or not any(o is channel for o in self._task.outputs):
            shown = f"channel '{channel.name}'" if isinstance(channel, Channel) else repr(channel)
            fix = (f"; add '{channel.name}' to the task's outputs=[...] to emit to it" if isinstance(channel, Channel)
                   else "")
            raise ValueError(f"task '{self.task}' can only emit to its outputs {outs}, got {shown}{fix}")
        if value is None:
            raise ValueError(f"task '{self.task}': cannot emit None to channel '{channel.name}'")
        self._emitted.append((channel.index, value))

    def spawn(self, fn, *args, **kwargs):
        """Run fn(*args, **kwargs) concurrently on the workflow's threads; returns a future. The task's
        step ends only when all its sub-tasks have; an exception in one fails the task."""
        if not callable(fn):
            raise TypeError(f"ctx.spawn needs a callable, got {type(fn).__name__}")
        fut = SubTaskFuture(fn, args, kwargs)
        self._subtasks.append(fut)
        return fut

    def compile(self, fn):
        """``fn`` compiled with hy.compile when the task was declared with ``compile=True`` (or options),
        else ``fn`` itself: the body marks its pure tensor code, the flag decides. One compiled function
        per ``fn`` and task, kept across steps (its guards and cache live as long as the workflow).

        Why not trace the whole body: a compiled replay runs only the recorded tensor ops, so the body's
        Python effects — ``ctx.state`` updates, ``ctx.emit``, reading ``ctx.step`` — would be skipped."""
        if not callable(fn):
            raise TypeError(f"ctx.compile needs a callable, got {type(fn).__name__}")
        options = self._task.compile
        if options is False:
            return fn
        hit = self._task._compiled.get(id(fn))
        if hit is None or hit[0] is not fn:
            from ..compiler import compile as hy_compile
            hit = self._task._compiled[id(fn)] = (fn, hy_compile(fn, **({} if options is True else options)))
        return hit[1]

    def _begin(self, step, attempt):
        self.step = step
        self.attempt = attempt
        self._emitted = []
        self._subtasks = []

    def _join_subtasks(self):
        """Wait for every sub-task, including those spawned by sub-tasks while joining; return the first
        error (or None) once all have finished."""
        first = None
        while self._subtasks:
            pending, self._subtasks = self._subtasks, []
            for fut in pending:
                try:
                    fut.result()
                except BaseException as e:  # noqa: B036 — every sub-task is joined before any error counts
                    first = first or e
        return first

    def __repr__(self):
        return f"Context(task={self.task!r}, step={self.step}, attempt={self.attempt}, rank={self.rank})"


def new_generator(workflow_seed, task_name):
    return _C.Generator(task_seed(workflow_seed, task_name))
