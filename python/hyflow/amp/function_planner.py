"""``hy.amp.plan`` on a plain function (a simulation step): the precision of each op call, not of a module.

    def sw_step(h, u, v):                       # tensors in, tensors out
        s = shallow_water.step(State(h, u, v), params)
        return s.h, s.u, s.v

    plan = hy.amp.plan(sw_step, calib_inputs, budget=1e-7, metric=mass_error, speedups={hy.bfloat16: 2.0})
    print(plan)                                  # per op call: chosen dtype, error alone, call site
    fast_step = plan.apply(sw_step)              # runs the traced op sequence with the planned dtypes
    h, u, v = fast_step(h, u, v)

The function is traced once (hyflow.compiler.capture, so it must not read tensor data in Python) on the
first calibration input; every op call that computes on floating tensors, writes nothing and draws no
random numbers is a *unit*. A lowered unit gets its floating tensor arguments cast to the lower dtype and
its results cast back to the dtype the trace saw, so the next op sees what it would see without the plan.
Units are then chosen exactly as for modules (planner.py): each alone, ordered by gain per error, and the
longest prefix whose measured error, and the running maximum over shorter prefixes, stays in the budget
— so a tighter budget never lowers more.

The planned function replays the trace: it accepts inputs with the traced shapes and dtypes (anything
else raises ValueError naming the difference), and follows the control flow of the traced call.
"""
import copy
import os
import time
import statistics

from .. import _C

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_FLOATS = (_C.float16, _C.bfloat16, _C.float32, _C.float64)


def _leaf_tensors(args):
    from ..compiler import _pytree
    leaves, _ = _pytree.flatten((tuple(args), {}))
    seen, out = set(), []
    for x in leaves:
        if _pytree.is_tensor(x) and id(x) not in seen:
            seen.add(id(x))
            out.append(x)
    return out


def _signature(tensors):
    return [[list(t.shape), str(t.dtype)] for t in tensors]   # lists: equal after a JSON round trip


def _is_unit(node):
    """Computes on floating tensors, and lowering it cannot change what other calls see in memory."""
    if node.has_side_effects() or node.lowering in ("view", "opaque"):
        return False
    return any(v.meta.dtype in _FLOATS and v.meta.dtype != _C.float16 and v.meta.dtype != _C.bfloat16
               for v in node.input_values())


def _lower(x, dtype):
    if isinstance(x, _C.Tensor):
        return x.to(dtype) if x.dtype in (_C.float32, _C.float64) else x
    if isinstance(x, list):
        return [_lower(y, dtype) for y in x]
    return x


def _lowered_call(fn, dtype, result_dtypes):
    """fn with floating tensor arguments in `dtype` and each result cast back to its traced dtype."""
    def call(*args, **kwargs):
        res = fn(*[_lower(a, dtype) for a in args], **{k: _lower(v, dtype) for k, v in kwargs.items()})
        single = not isinstance(res, tuple)
        parts = (res,) if single else res
        back = tuple(r.to(d) if isinstance(r, _C.Tensor) and r.dtype != d and d in _FLOATS else r
                     for r, d in zip(parts, result_dtypes))
        return back[0] if single else back
    return call


class TracedFunction:
    """A function traced once, replayable with chosen op calls in lower dtypes."""

    def __init__(self, fn, args):
        from ..compiler import capture
        name = getattr(fn, "__name__", type(fn).__name__)
        tr = capture.trace(fn, tuple(args), {}, site_skip_prefix=_PACKAGE_DIR)
        if tr.graph is None:
            raise ValueError(f"hy.amp.plan: {name} cannot be planned: tracing it stopped at a graph break "
                             f"({tr.break_reason}); plan a function that does not read tensor data in Python")
        self.name = name
        self.graph = tr.graph
        self.signature = _signature(_leaf_tensors(args))
        sites = getattr(tr.graph, "call_sites", None) or [None] * len(tr.graph.nodes)
        self.units = []   # (node index, unit name)
        for k, (node, site) in enumerate(zip(tr.graph.nodes, sites)):
            if _is_unit(node):
                where = f" @ {_short_site(site)}" if site else ""
                self.units.append((k, f"{k}:{node.op}{where}"))
        self.ops = [n.op for n in tr.graph.nodes]
        self._base = None

    def check(self, args):
        got = _signature(_leaf_tensors(args))
        if got != self.signature:
            raise ValueError(f"hy.amp plan of {self.name}: called with tensors {got}, but the plan was traced "
                             f"with {self.signature} (plan the function again for these shapes/dtypes)")

    def program(self, lowered):
        """A replay of the trace with node k run in dtype lowered[k]."""
        from ..compiler.replay import Program
        if self._base is None:
            self._base = Program(self.graph)
        prog = copy.copy(self._base)      # planning makes one per trial: share the resolved steps
        prog.steps = list(self._base.steps)
        for k, dtype in lowered.items():
            fn, pos, kw, outs, grad = prog.steps[k]
            dtypes = [r.meta.dtype if not isinstance(r, list) else None for r in self.graph.nodes[k].results]
            prog.steps[k] = (_lowered_call(fn, dtype, dtypes), pos, kw, outs, grad)
        return prog

    def run(self, prog, args):
        self.check(args)
        return prog.run(_leaf_tensors(args))


def _short_site(site):
    s = str(site)
    return os.path.basename(s) if os.sep in s else s


def time_node(traced, k, inputs, dtype, repeats):
    """Median seconds of node k's call on the values it saw in the trace replay of `inputs`."""
    from ..compiler.replay import _resolve
    prog = traced.program({} if dtype is None else {k: dtype})
    samples = []
    for _ in range(repeats):
        total = 0.0
        for env in inputs:
            fn, pos, kw, _, _ = prog.steps[k]
            a = [_resolve(r, env) for _, r in pos]
            b = {n: _resolve(r, env) for n, r in kw}
            t0 = time.perf_counter()
            fn(*a, **b)
            total += time.perf_counter() - t0
        samples.append(total)
    return statistics.median(samples)


def node_environments(traced, batches):
    """Every slot's tensor of a plain replay of each batch (the inputs each node sees)."""
    prog = traced.program({})
    return [prog.execute(_leaf_tensors(b)) for b in batches]


class PlannedFunction:
    """``plan.apply(fn)``: fn with the plan's op calls in their dtypes; called like fn. The first call traces
    fn on its arguments and checks that the trace is the planned one (same op sequence and tensor
    signature), then every call replays it."""

    def __init__(self, fn, plan_):
        self._fn, self._plan = fn, plan_
        self._traced = self._program = None
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args):
        if self._traced is None:
            traced = TracedFunction(self._fn, args)
            fp = self._plan.fingerprint
            if traced.ops != fp.get("ops") or traced.signature != fp.get("signature"):
                raise ValueError(f"hy.amp plan does not fit {self.__name__}: its trace on these arguments is not "
                                 f"the planned one (other ops or tensor shapes/dtypes); plan the function again")
            lowered = {e["node"]: _DTYPE_OF[e["dtype"]] for e in self._plan.entries if e["dtype"] in _DTYPE_OF}
            self._program = traced.program(lowered)
            self._traced = traced
        return self._traced.run(self._program, args)

    def __repr__(self):
        return f"<hy.amp planned function {self.__name__}>"


_DTYPE_OF = {"bfloat16": _C.bfloat16, "float16": _C.float16}
