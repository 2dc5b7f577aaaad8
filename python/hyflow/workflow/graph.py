"""Declaring a workflow: tasks, channels and the edges between them.

    wf = Workflow("shallow-water-surrogate", seed=0)
    states = wf.channel("states", capacity=16, policy="block")
    @wf.task(outputs=[states])
    def simulate(ctx): ...
    @wf.task(inputs=[states], every=10, retries=2)
    def train(ctx, batch): ...
    result = wf.run(steps=2000)

Declarations only record what the user said and check it; running is hyflow/workflow/run.py's job
and scheduling the C++ engine's (csrc/workflow/engine.h). See docs/workflow.md.
"""
import inspect
import math
import numbers
import re
from builtins import type as builtins_type

from . import placement

__all__ = ["Workflow", "Task", "Channel"]

POLICIES = ("block", "latest", "drop_oldest")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
# The largest steps, every, offset, capacity, lookahead, checkpoint_every and retries the C++ engine
# takes (csrc/workflow/graph_spec.h kMaxCount): the sum of two stays inside int64.
MAX_COUNT = 2**62


def show_int(value):
    """An int for an error message; a huge one is not written out (str() refuses past 4300 digits)."""
    return str(value) if abs(value) < 10**30 else f"an int of {value.bit_length()} bits"


def _check_int(value, what, minimum, maximum=MAX_COUNT):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {show_int(value)}")
    if value > maximum:
        raise ValueError(f"{what} must be <= {'2**62' if maximum == MAX_COUNT else maximum}, got {show_int(value)}")
    return value


def check_timeout(value, what):
    """None (no limit) or a positive, finite number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number of seconds or None, got {type(value).__name__}")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not (seconds > 0 and math.isfinite(seconds)):
        shown = show_int(value) if isinstance(value, int) else f"{value!r:.40}"
        raise ValueError(f"{what} must be a positive, finite number of seconds or None, got {shown}")
    return seconds


class Channel:
    """A bounded queue of items between tasks. Items are passed by reference: a tensor is never copied.

    policy "block": producers wait while the channel holds `capacity` unread items (backpressure) and the
    consumer receives every item as a list. "drop_oldest": the consumer receives the newest `capacity`
    items. "latest": the consumer receives only the newest item (not a list).
    """

    def __init__(self, workflow, name, capacity, policy, delay, index, item_type=None, dtype=None, shape=None):
        self.workflow = workflow
        self.name = name
        self.capacity = capacity
        self.policy = policy
        self.delay = delay  # None: decided from declaration order (see Workflow.effective_delay)
        self.index = index
        self.item_type = item_type  # optional: what every item must be (checked when a task sends it)
        self.dtype = dtype
        self.shape = tuple(shape) if shape is not None else None

    @property
    def typed(self):
        return self.item_type is not None or self.dtype is not None or self.shape is not None

    def check_item(self, value, task):
        """Raise TypeError/ValueError when `value`, sent by `task`, is not what this channel carries."""
        where = f"task '{task}' sent to channel '{self.name}'"
        if self.item_type is not None and not isinstance(value, self.item_type):
            raise TypeError(f"{where} a {type(value).__name__}; the channel carries {_type_name(self.item_type)}")
        if self.dtype is None and self.shape is None:
            return
        from .. import Tensor
        if not isinstance(value, Tensor):
            raise TypeError(f"{where} a {type(value).__name__}; the channel carries tensors")
        if self.dtype is not None and value.dtype != self.dtype:
            raise TypeError(f"{where} a tensor of dtype {value.dtype}; the channel carries {self.dtype}")
        if self.shape is not None:
            got = tuple(value.shape)
            if len(got) != len(self.shape) or any(w is not None and w != g for w, g in zip(self.shape, got)):
                raise ValueError(f"{where} a tensor of shape {got}; the channel carries shape {self.shape} "
                                 "(None matches any size)")

    def __repr__(self):
        return f"Channel({self.name!r}, capacity={self.capacity}, policy={self.policy!r})"


class Task:
    """A declared task. Calling it calls the wrapped function (handy in unit tests)."""

    def __init__(self, workflow, fn, name, inputs, outputs, every, offset, when, retries, ranks, index, timeout=None,
                 compile=False):  # noqa: A002 (the decorator's keyword)
        self.workflow = workflow
        self.fn = fn
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.every = every
        self.offset = offset
        self.when = when
        self.retries = retries
        self.ranks = ranks
        self.index = index
        self.timeout = timeout  # seconds one attempt may run, or None
        self.compile = compile  # False, or the hy.compile options of ctx.compile (docs/workflow.md)
        self._compiled = {}     # id(fn) -> (fn, its compiled version): ctx.compile's cache, kept across runs
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return f"Task({self.name!r}, every={self.every}, inputs={[i.name for i in self.inputs]})"


class Workflow:
    """A task graph run step by step by hyflow's C++ engine. See docs/workflow.md."""

    def __init__(self, name="workflow", *, seed=0):
        if not isinstance(name, str) or not name:
            raise ValueError(f"Workflow name must be a non-empty string, got {name!r}")
        self.name = name
        self.seed = _check_int(seed, "Workflow seed", 0)
        self._tasks = []
        self._channels = []
        self._by_name = {}
        self.last_result = None

    # ------------------------------------------------------------------------------- declaring

    def channel(self, name, capacity=1, policy="block", *, delay=None, type=None, dtype=None, shape=None):  # noqa: A002
        """Declare a channel. `delay=1` makes consumers see only items of earlier steps (a feedback
        edge); by default that is chosen when a producer is declared after a consumer.

        Typed channels: `type` (a class or tuple of classes), `dtype` and `shape` (a tuple whose None
        entries match any size) are checked on every item a task sends; a mismatch fails that task with
        an error naming the channel.
        """
        self._check_new_name(name)
        _check_int(capacity, f"channel '{name}' capacity", 1)
        if policy not in POLICIES:
            raise ValueError(f"channel '{name}' policy must be one of {POLICIES}, got {policy!r}")
        if delay is not None and delay not in (0, 1):
            raise ValueError(f"channel '{name}' delay must be 0, 1 or None, got {delay!r}")
        if type is not None and not (isinstance(type, builtins_type) or
                                     (isinstance(type, tuple) and all(isinstance(x, builtins_type) for x in type))):
            raise TypeError(f"channel '{name}' type must be a class or a tuple of classes, got {type!r}")
        if dtype is not None:
            from .. import dtype as hy_dtype
            if not isinstance(dtype, hy_dtype):
                raise TypeError(f"channel '{name}' dtype must be a hyflow dtype (e.g. hy.float64), got {dtype!r}")
        if shape is not None:
            if not isinstance(shape, (tuple, list)) or not all(
                    x is None or (isinstance(x, int) and not isinstance(x, bool) and x >= 0) for x in shape):
                raise TypeError(f"channel '{name}' shape must be a tuple of sizes (int >= 0) or None, got {shape!r}")
        ch = Channel(self, name, capacity, policy, delay, len(self._channels), type, dtype, shape)
        self._channels.append(ch)
        self._by_name[name] = ch
        return ch

    def task(self, fn=None, *, name=None, inputs=(), outputs=(), every=1, offset=0, when=None, retries=0,
             ranks=None, timeout=None, onnx=None, compile=False):  # noqa: A002 (like hy.compile)
        """Declare a task: as a decorator (``@wf.task(every=10)``) or a call (``wf.task(fn, ...)``).

        fn(ctx, *inputs) runs at the steps its trigger selects: every `every` steps from `offset`, only
        when each task input produced a value this step and (for channel inputs) some channel has
        items, and only when `when(ctx)` is true. Its return value goes to every output channel and to
        tasks that take this task as an input; None means "no output this step". `timeout`: seconds
        one attempt may run before the task fails with WorkflowTimeoutError (never retried).
        `onnx`: a model path, model bytes or a hy.onnx.InferenceSession; fn then takes the session as one
        more, last argument, fn(ctx, *inputs, session), shared by all instances (docs/onnx.md).
        `compile`: True (or a dict of hy.compile options) compiles the tensor functions the body runs
        through ``ctx.compile(fn)``; False runs them eagerly (docs/workflow.md, "Compiled task code").
        """
        if fn is None:
            return lambda f: self.task(f, name=name, inputs=inputs, outputs=outputs, every=every, offset=offset,
                                       when=when, retries=retries, ranks=ranks, timeout=timeout, onnx=onnx,
                                       compile=compile)
        if isinstance(fn, Task):
            fn = fn.fn
        if not callable(fn):
            raise TypeError(f"task function must be callable, got {type(fn).__name__}")
        name = name if name is not None else getattr(fn, "__name__", None)
        self._check_new_name(name)
        ins = [self._resolve(x, f"task '{name}' input", (Task, Channel)) for x in _as_list(inputs, "inputs")]
        outs = [self._resolve(x, f"task '{name}' output", (Channel,)) for x in _as_list(outputs, "outputs")]
        if len(set(map(id, outs))) != len(outs):
            raise ValueError(f"task '{name}': an output channel is listed twice")
        _check_int(every, f"task '{name}' every", 1)
        _check_int(offset, f"task '{name}' offset", 0)
        _check_int(retries, f"task '{name}' retries", 0)
        timeout = check_timeout(timeout, f"task '{name}' timeout")
        if when is not None and not callable(when):
            raise TypeError(f"task '{name}': when must be a callable taking ctx, got {type(when).__name__}")
        placement.check_ranks(ranks, f"task '{name}' ranks")
        _check_arity(fn, name, len(ins) + (onnx is not None))
        if onnx is not None:
            from ..onnx import _workflow  # imports onnxruntime: only for tasks that use it
            fn = _workflow.with_session(fn, _workflow.check_spec(onnx, name), name)
        compile = _check_compile(compile, name)
        t = Task(self, fn, name, ins, outs, every, offset, when, retries, ranks, len(self._tasks), timeout, compile)
        self._tasks.append(t)
        self._by_name[name] = t
        return t

    def _check_new_name(self, name):
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"workflow names must be identifiers (letters, digits, _ . -), got {name!r}")
        if name in self._by_name:
            raise ValueError(f"workflow '{self.name}' already has a task or channel named '{name}'")

    def _resolve(self, x, what, kinds):
        if isinstance(x, str):
            if x not in self._by_name:
                raise ValueError(f"{what} '{x}' is not a declared task or channel of workflow '{self.name}'"
                                 " (declare it first)")
            x = self._by_name[x]
        if not isinstance(x, kinds) or x.workflow is not self:
            allowed = " or ".join(k.__name__ for k in kinds)
            raise TypeError(f"{what} must be a {allowed} of this workflow (or its name), got {x!r}")
        return x

    # ------------------------------------------------------------------------------- inspecting

    @property
    def tasks(self):
        return list(self._tasks)

    @property
    def channels(self):
        return list(self._channels)

    def __getitem__(self, name):
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"workflow '{self.name}' has no task or channel named '{name}'") from None

    def producers(self, channel):
        return [t for t in self._tasks if any(o is channel for o in t.outputs)]

    def consumers(self, channel):
        return [t for t in self._tasks if any(i is channel for i in t.inputs)]

    def effective_delay(self, channel):
        """0 or 1: whether consumers of `channel` see items of the same step (see Workflow.channel)."""
        if channel.delay is not None:
            return channel.delay
        prods, cons = self.producers(channel), self.consumers(channel)
        if prods and cons and max(p.index for p in prods) >= min(c.index for c in cons):
            return 1
        return 0

    def describe(self):
        """The graph as plain data: what to_dot draws and what equal declarations compare equal on."""
        def trig(t):
            if t.when is None:
                return None
            return getattr(t.when, "__qualname__", None) or repr(t.when)
        return {
            "name": self.name,
            "seed": self.seed,
            "channels": [{"name": c.name, "capacity": c.capacity, "policy": c.policy,
                          "delay": self.effective_delay(c)} for c in self._channels],
            "tasks": [{"name": t.name,
                       "fn": f"{getattr(t.fn, '__module__', '?')}:{getattr(t.fn, '__qualname__', repr(t.fn))}",
                       "inputs": [{"kind": "task" if isinstance(i, Task) else "channel", "name": i.name}
                                  for i in t.inputs],
                       "outputs": [o.name for o in t.outputs],
                       "every": t.every, "offset": t.offset, "when": trig(t), "retries": t.retries,
                       "timeout": t.timeout, "ranks": placement.describe_ranks(t.ranks)} for t in self._tasks],
        }

    def to_dot(self, path=None):
        """The graph in Graphviz DOT; also written to `path` when given."""
        from .observe import graph_dot
        text = graph_dot(self.describe())
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Jupyter's display: the graph as SVG (Graphviz), else its DOT text. One bundle with one copy of
        the SVG: Jupyter calls every `_repr_*_` method an object has, so a `_repr_svg_` beside a
        `_repr_html_` that returned the same SVG rendered it twice and stored it twice in the notebook."""
        from .observe import render_svg
        dot = self.to_dot()
        svg = render_svg(dot)
        if svg is not None:
            return {"image/svg+xml": svg, "text/plain": repr(self)}
        import html
        return {"text/html": f"<pre>{html.escape(dot)}</pre>", "text/plain": repr(self)}

    def __repr__(self):
        return (f"Workflow({self.name!r}, tasks={[t.name for t in self._tasks]}, "
                f"channels={[c.name for c in self._channels]})")

    # ------------------------------------------------------------------------------- running

    def run(self, steps, **kwargs):
        """Run steps [0, steps) (or continue from the last checkpoint with resume=True).

        Keyword arguments: checkpoint_every, checkpoint_dir, resume, keep_checkpoints, progress,
        threads, lookahead, timeout, comm. Returns a RunResult; raises WorkflowError naming the failed
        task and its step, chained to the task's exception (its __cause__), when a task fails after its
        retries (WorkflowTimeoutError
        when a task or the run ran past its timeout). See docs/workflow.md.
        """
        from .run import run_workflow
        return run_workflow(self, steps, **kwargs)

    def trace(self, path):
        """Write the last run's timeline as Chrome-trace JSON (open it in https://ui.perfetto.dev)."""
        if self.last_result is None:
            raise RuntimeError(f"workflow '{self.name}' has not run yet: nothing to trace")
        return self.last_result.trace(path)


def _type_name(t):
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return t.__name__


def _as_list(x, what):
    if isinstance(x, (Task, Channel, str)):
        return [x]
    try:
        return list(x)
    except TypeError:
        raise TypeError(f"{what} must be a list of tasks/channels, got {type(x).__name__}") from None


def _check_arity(fn, name, n_inputs):
    """fn must take ctx plus one positional argument per input: say so now, not at step 0."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # builtins and C functions: trust them
    try:
        sig.bind(*([None] * (n_inputs + 1)))
    except TypeError:
        raise TypeError(f"task '{name}': {fn.__qualname__ if hasattr(fn, '__qualname__') else fn}{sig} cannot be "
                        f"called as fn(ctx{', input' * n_inputs}) — it has {n_inputs} input(s)") from None


_COMPILE_OPTIONS = ("dynamic", "mode")


def _check_compile(compile, name):  # noqa: A002
    """False, True or a dict of hy.compile options (validated by hy.compile itself on first use)."""
    if isinstance(compile, bool):
        return compile
    if isinstance(compile, dict):
        unknown = sorted(set(compile) - set(_COMPILE_OPTIONS))
        if unknown:
            raise ValueError(f"task '{name}': compile options must be among {list(_COMPILE_OPTIONS)}, got {unknown}")
        return dict(compile)
    raise TypeError(f"task '{name}': compile must be True, False or a dict of hy.compile options, "
                    f"got {type(compile).__name__}")
