"""The precision scheduler: ``hy.amp.plan`` chooses, per module (or, for a plain function, per op call:
function_planner.py), the cheapest precision whose error stays within a budget — by measuring, not from a
fixed list.

    plan = hy.amp.plan(model, calib_batches, budget=1e-3, metric="rel_l2")
    print(plan)                 # per module: chosen dtype, measured error, measured time, expected speed-up
    with hy.amp.apply(plan, model):
        y = model(x)            # each planned module in its dtype
    plan.apply(model)           # or permanently; hy.amp.Plan.from_json(plan.to_json()) round-trips

How it decides (deterministic for the same model, batches and timings):

1. The model runs on the calibration batches in float32: the reference outputs (and, with ``loss_fn``,
   the reference parameter gradients).
2. Each *unit* (a leaf module with parameters: Linear, Conv, ...) runs alone in each candidate dtype,
   all others in float32: its error at the output (the metric against the reference) and its forward time
   against float32 (median of ``repeats`` runs, the unit timed on its own inputs).
3. Units with a measured gain are ordered by gain per unit of error (ties by name). The plan is the longest
   prefix of that order whose *measured* end-to-end error — every unit of the prefix lowered at once, and
   the error of each shorter prefix too — stays within the budget. Because prefixes are checked in order
   and the running maximum is used, a tighter budget never picks lower precision than a looser one.

A unit in lower precision runs inside ``hy.autocast(dtype)``; its floating outputs are cast back to the
dtype its input had, so the next unit sees what it would see without the plan.
"""
import contextlib
import json
import math
import statistics
import time

from .. import _C
from .autocast_mode import autocast

__all__ = ["Plan", "plan", "apply"]

_DTYPES = {"float32": _C.float32, "bfloat16": _C.bfloat16, "float16": _C.float16}
# A unit the plan keeps at full precision: "float32" (a module's unit), "traced" (a function's op call,
# which keeps whatever dtype the trace saw, float64 in a float64 simulation).
_KEPT = ("float32", "traced")


def _dtype_name(d):
    return str(d).replace("hyflow.", "")


def _as_float64_flat(outputs):
    """The floating tensors of an output pytree, as one list of float64 NumPy arrays (no grad)."""
    import numpy as np
    leaves = []

    def walk(o):
        if isinstance(o, _C.Tensor):
            leaves.append(np.asarray(o.detach().to(_C.float64).numpy(), dtype=np.float64).ravel())
        elif isinstance(o, (list, tuple)):
            for x in o:
                walk(x)
        elif isinstance(o, dict):
            for k in sorted(o):
                walk(o[k])
    walk(outputs)
    return np.concatenate(leaves) if leaves else np.zeros(0)


def _rel_l2(got, want):
    import numpy as np
    denom = float(np.linalg.norm(want))
    diff = float(np.linalg.norm(got - want))
    return diff / denom if denom > 0 else diff


def _max_abs(got, want):
    import numpy as np
    return float(np.max(np.abs(got - want))) if got.size else 0.0


_METRICS = {"rel_l2": _rel_l2, "max_abs": _max_abs}


def _metric_fn(metric):
    if callable(metric):
        return metric
    if metric not in _METRICS:
        raise ValueError(f"hy.amp.plan: metric must be one of {', '.join(_METRICS)} or a callable "
                         f"(got, want) -> float, got {metric!r}")
    return _METRICS[metric]


def _units(model):
    """Leaf modules that own parameters, by qualified name, in registration order."""
    out = []
    for name, m in model.named_modules():
        if name and not any(True for _ in m.children()) and any(True for _ in m.parameters(recurse=False)):
            out.append((name, m))
    return out


def _fingerprint(model, names):
    mods = dict(model.named_modules())
    fp = {}
    for n in names:
        m = mods.get(n)
        if m is None:
            continue
        fp[n] = [type(m).__name__] + [[k, list(p.shape)] for k, p in m.named_parameters(recurse=False)]
    return fp


def _cast_back(outputs, dtype):
    if isinstance(outputs, _C.Tensor):
        return outputs.to(dtype) if outputs.dtype != dtype and outputs.dtype.is_floating_point else outputs
    if isinstance(outputs, tuple):
        return tuple(_cast_back(o, dtype) for o in outputs)
    if isinstance(outputs, list):
        return [_cast_back(o, dtype) for o in outputs]
    return outputs


def _first_float_dtype(args):
    for a in args:
        if isinstance(a, _C.Tensor) and a.dtype.is_floating_point:
            return a.dtype
    return None


@contextlib.contextmanager
def _lowered(modules_dtypes):
    """Run each (module, dtype) in its dtype for the scope (instance ``forward`` wrapped, then restored)."""
    saved = []
    try:
        for m, dtype in modules_dtypes:
            saved.append((m, m.__dict__.get("forward")))
            object.__setattr__(m, "forward", _precision_forward(m, type(m).forward.__get__(m), dtype))
        yield
    finally:
        for m, old in reversed(saved):
            if old is None:
                m.__dict__.pop("forward", None)
            else:
                object.__setattr__(m, "forward", old)


def _precision_forward(module, inner, dtype):
    def forward(*args, **kwargs):
        back = _first_float_dtype(args)
        with autocast(dtype=dtype):
            out = inner(*args, **kwargs)
        return _cast_back(out, back) if back is not None else out
    forward.__hyflow_precision__ = _dtype_name(dtype)
    return forward


class Plan:
    """The scheduler's result: per unit the chosen dtype and what was measured. Print it, serialize it
    (``to_json`` / ``from_json``), apply it (``apply(model)`` or ``with hy.amp.apply(plan, model)``)."""

    def __init__(self, entries, budget, metric, measured_error, fingerprint, candidates):
        self.entries = entries              # list of dicts: unit, dtype, error, time_fp32, time_low, speedup
        self.budget = budget
        self.metric = metric
        self.measured_error = measured_error  # end-to-end error of the whole plan on the calibration data
        self.fingerprint = fingerprint
        self.candidates = candidates

    @property
    def assignments(self):
        """{unit name: dtype name} for every unit (float32 where the plan keeps full precision)."""
        return {e["unit"]: e["dtype"] for e in self.entries}

    def lowered(self):
        return [e["unit"] for e in self.entries if e["dtype"] not in _KEPT]

    @property
    def is_function_plan(self):
        """True for a plan of a plain function's op calls (apply it with ``plan.apply(fn)``)."""
        return "function" in self.fingerprint

    def expected_speedup(self):
        """Summed float32 unit time over summed planned unit time (the units only)."""
        t32 = sum(e["time_fp32"] for e in self.entries)
        tp = sum(e["time_low"] if e["dtype"] not in _KEPT else e["time_fp32"] for e in self.entries)
        return t32 / tp if tp > 0 else 1.0

    def _check_fits(self, model):
        names = [e["unit"] for e in self.entries]
        now = _fingerprint(model, names)
        for n in names:
            if n not in now:
                raise ValueError(f"hy.amp plan does not fit this model: it has no module {n!r} "
                                 f"(plan the model again)")
            if now[n] != self.fingerprint.get(n):
                raise ValueError(f"hy.amp plan does not fit this model: module {n!r} is {now[n]}, the plan was "
                                 f"made for {self.fingerprint.get(n)} (plan the model again)")

    def _pairs(self, model):
        if self.is_function_plan:
            raise TypeError(f"this hy.amp plan is of the function {self.fingerprint['function']!r}: use "
                            f"plan.apply(fn), which returns the planned function")
        self._check_fits(model)
        mods = dict(model.named_modules())
        return [(mods[e["unit"]], _DTYPES[e["dtype"]]) for e in self.entries if e["dtype"] not in _KEPT]

    def apply(self, model):
        """Make the plan permanent on ``model`` (its units' forward wrapped); returns the model. For a plan
        of a function: returns the planned function (``plan.apply(fn)(*args)``)."""
        if self.is_function_plan:
            from ..nn import Module
            if isinstance(model, Module) or not callable(model):
                raise TypeError(f"this hy.amp plan is of the function {self.fingerprint['function']!r}; "
                                f"apply it to that function, got {type(model).__name__}")
            from .function_planner import PlannedFunction
            return PlannedFunction(model, self)
        for m, dtype in self._pairs(model):
            object.__setattr__(m, "forward", _precision_forward(m, type(m).forward.__get__(m), dtype))
        return model

    def to_json(self):
        return json.dumps({"version": 1, "budget": self.budget, "metric": self.metric,
                           "measured_error": self.measured_error, "candidates": self.candidates,
                           "entries": self.entries, "fingerprint": self.fingerprint}, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        try:
            d = json.loads(text)
        except (TypeError, ValueError) as e:
            raise ValueError(f"hy.amp.Plan.from_json: not a plan ({e})") from None
        if not isinstance(d, dict) or d.get("version") != 1 or not isinstance(d.get("entries"), list):
            raise ValueError("hy.amp.Plan.from_json: not a version-1 hyflow precision plan")
        for e in d["entries"]:
            if not isinstance(e, dict) or (e.get("dtype") not in _DTYPES and e.get("dtype") not in _KEPT) \
                    or not isinstance(e.get("unit"), str):
                raise ValueError(f"hy.amp.Plan.from_json: bad entry {e!r}")
        return cls(d["entries"], d["budget"], d["metric"], d["measured_error"], d["fingerprint"],
                   d.get("candidates", []))

    def __eq__(self, other):
        return isinstance(other, Plan) and self.to_json() == other.to_json()

    def __repr__(self, max_rows=20):
        what = f" of {self.fingerprint['function']}" if self.is_function_plan else ""
        lines = [f"hy.amp plan{what}: budget {self.budget:g} ({self.metric}), measured error "
                 f"{self.measured_error:.3g}, {len(self.lowered())}/{len(self.entries)} units lowered, expected "
                 f"unit speed-up {self.expected_speedup():.2f}x"]
        w = max([len(e["unit"]) for e in self.entries] + [4])
        lines.append(f"  {'unit':<{w}}  {'dtype':<8}  {'alone error':>11}  {'fp32 ms':>8}  {'low ms':>8}  speed-up")
        shown = self.entries
        if len(shown) > max_rows:   # a simulation step has hundreds of op calls: those kept precise first
            kept = [i for i, e in enumerate(shown) if e["dtype"] in _KEPT][:max_rows]
            low = [i for i, e in enumerate(shown) if e["dtype"] not in _KEPT][:max_rows - len(kept)]
            shown = [self.entries[i] for i in sorted(kept + low)]
        for e in shown:
            lines.append(f"  {e['unit']:<{w}}  {e['dtype']:<8}  {e['error']:>11.3g}  {e['time_fp32'] * 1e3:>8.3f}"
                         f"  {e['time_low'] * 1e3:>8.3f}  {e['speedup']:.2f}x  ({e['low_dtype']})")
        if len(shown) < len(self.entries):
            more = [e for e in self.entries if e not in shown]
            n_low = sum(e["dtype"] not in _KEPT for e in more)
            lines.append(f"  ... {len(more)} more units ({n_low} lowered, {len(more) - n_low} kept)")
        return "\n".join(lines)


def _run(model, batches, loss_fn):
    """Outputs (flattened float64) and, with loss_fn, parameter gradients, over all batches."""
    import numpy as np
    outs, grads = [], []
    params = [p for p in model.parameters() if p.requires_grad] if loss_fn is not None else []
    for batch in batches:
        args = batch if isinstance(batch, tuple) else (batch,)
        if loss_fn is None:
            from ..autograd import no_grad
            with no_grad():
                out = model(*args)
        else:
            for p in params:
                p.grad = None
            out = model(*args)
            loss_fn(out, *args).backward()
            grads.append(np.concatenate([np.asarray(p.grad.to(_C.float64).numpy()).ravel()
                                         for p in params if p.grad is not None] or [np.zeros(0)]))
        outs.append(_as_float64_flat(out))
    return outs, grads


def _error(metric, run, ref):
    outs, grads = run
    ref_outs, ref_grads = ref
    err = max((metric(o, r) for o, r in zip(outs, ref_outs)), default=0.0)
    if grads:
        err = max([err] + [metric(g, r) for g, r in zip(grads, ref_grads)])
    return float(err)


def _time_unit(module, inputs, dtype, repeats):
    """Median seconds of the unit's forward on its recorded inputs, in float32 (dtype None) or dtype."""
    from ..autograd import no_grad
    fwd = type(module).forward.__get__(module)
    samples = []
    with no_grad():
        for _ in range(repeats):
            t0 = time.perf_counter()
            for args, kwargs in inputs:
                if dtype is None:
                    fwd(*args, **kwargs)
                else:
                    with autocast(dtype=dtype):
                        fwd(*args, **kwargs)
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def _record_inputs(model, units, batches):
    """The inputs each unit sees over the calibration batches (for timing units on their own)."""
    from ..autograd import no_grad
    seen = {name: [] for name, _ in units}
    handles = []
    for name, m in units:
        handles.append(m.register_forward_pre_hook(
            lambda mod, args, kwargs, _n=name: seen[_n].append((args, kwargs)), with_kwargs=True))
    try:
        with no_grad():
            for batch in batches:
                model(*(batch if isinstance(batch, tuple) else (batch,)))
    finally:
        for h in handles:
            h.remove()
    return seen


def plan(model, calib_batches, budget=1e-3, metric="rel_l2", candidates=None, loss_fn=None, repeats=5,
         speedups=None):
    """Choose per unit (leaf module with parameters) of ``model`` the cheapest precision whose measured
    end-to-end error on ``calib_batches`` stays within ``budget``. ``model`` may also be a plain function
    of tensors (a simulation step): its units are then its traced op calls (function_planner.py), and
    ``plan.apply(fn)`` returns the planned function.

    ``calib_batches``: an iterable of inputs (a tensor, or a tuple of positional arguments) — a few
    representative batches. ``metric``: ``"rel_l2"`` (‖y − y₃₂‖ / ‖y₃₂‖, the default), ``"max_abs"``, or a
    callable ``(got, want) -> float`` on float64 NumPy arrays (e.g. a conservation error). ``candidates``:
    lower dtypes to try (default ``(hy.bfloat16,)``). ``loss_fn(output, *inputs) -> loss``: also bound
    the error of the parameter gradients (training). ``speedups``: ``{dtype: factor}`` to use instead of
    measured unit times (plan on one machine for another); otherwise each unit is timed (median of
    ``repeats``)."""
    from ..nn import Module
    if not isinstance(model, Module) and not callable(model):
        raise TypeError(f"hy.amp.plan: model must be a hy.nn.Module or a function, got {type(model).__name__}")
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not (budget >= 0 and math.isfinite(budget)):
        raise ValueError(f"hy.amp.plan: budget must be a finite number >= 0, got {budget!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"hy.amp.plan: repeats must be a positive int, got {repeats!r}")
    metric_fn = _metric_fn(metric)
    candidates = tuple(candidates) if candidates is not None else (_C.bfloat16,)
    for c in candidates:
        if c not in (_C.bfloat16, _C.float16):
            raise ValueError(f"hy.amp.plan: candidates must be hy.bfloat16 / hy.float16, got {c!r}")
    if speedups is not None:
        if not isinstance(speedups, dict) or any(c not in speedups for c in candidates):
            raise ValueError("hy.amp.plan: speedups must map every candidate dtype to a factor")
    batches = list(calib_batches)
    if not batches:
        raise ValueError("hy.amp.plan: calib_batches is empty")
    metric_name = metric if isinstance(metric, str) else getattr(metric, "__name__", "custom")
    if not isinstance(model, Module):
        if loss_fn is not None:
            raise ValueError("hy.amp.plan: loss_fn applies to a module's parameters; a function has none")
        return _plan_function(model, batches, float(budget), metric_fn, metric_name, candidates, repeats, speedups)
    units = _units(model)
    if not units:
        raise ValueError(f"hy.amp.plan: {type(model).__name__} has no leaf module with parameters to plan")

    ref = _run(model, batches, loss_fn)
    inputs = _record_inputs(model, units, batches) if speedups is None else None
    entries, order = [], []
    for name, m in units:
        t32 = _time_unit(m, inputs[name], None, repeats) if inputs is not None else 1.0
        best = None
        for c in candidates:
            with _lowered([(m, c)]):
                err = _error(metric_fn, _run(model, batches, loss_fn), ref)
            tlow = _time_unit(m, inputs[name], c, repeats) if inputs is not None else t32 / float(speedups[c])
            gain = t32 - tlow
            if best is None or (gain / max(err, 1e-30)) > (best[2] / max(best[1], 1e-30)):
                best = (c, err, gain, tlow)
        c, err, gain, tlow = best
        entries.append({"unit": name, "dtype": "float32", "low_dtype": _dtype_name(c), "error": err,
                        "time_fp32": t32, "time_low": tlow, "speedup": t32 / tlow if tlow > 0 else 1.0})
        if gain > 0:
            order.append((-(gain / max(err, 1e-30)), name, len(entries) - 1))

    mods = dict(units)

    def error_of(idx):
        with _lowered([(mods[entries[j]["unit"]], _DTYPES[entries[j]["low_dtype"]]) for j in idx]):
            return _error(metric_fn, _run(model, batches, loss_fn), ref)
    measured = _choose(entries, order, budget, error_of)
    return Plan(entries, float(budget), metric_name, measured, _fingerprint(model, [e["unit"] for e in entries]),
                [_dtype_name(c) for c in candidates])


def _choose(entries, order, budget, error_of):
    """The longest prefix of `order` whose error, and the running maximum over shorter prefixes, stays
    within `budget` (so a tighter budget never lowers more); marks those entries lowered and returns
    the plan's measured error. error_of(indices) measures the error with those entries lowered."""
    chosen, running_max, measured = [], 0.0, 0.0
    for _, _, i in sorted(order):
        trial = chosen + [i]
        err = error_of(trial)
        running_max = max(running_max, err)
        if running_max > budget:
            break
        chosen, measured = trial, err
    for j in chosen:
        entries[j]["dtype"] = entries[j]["low_dtype"]
    return measured


def _plan_function(fn, batches, budget, metric_fn, metric_name, candidates, repeats, speedups):
    """plan() of a plain function: units are its op calls (function_planner.py)."""
    from . import function_planner as fp
    batches = [b if isinstance(b, tuple) else (b,) for b in batches]
    traced = fp.TracedFunction(fn, batches[0])
    for b in batches[1:]:
        traced.check(b)
    if not traced.units:
        raise ValueError(f"hy.amp.plan: {traced.name} makes no op call on float32/float64 tensors to plan")

    def outputs(lowered):
        prog = traced.program(lowered)
        return [_as_float64_flat(traced.run(prog, b)) for b in batches]

    def error(lowered):
        return _error(metric_fn, (outputs(lowered), []), ref)

    ref = (outputs({}), [])
    envs = fp.node_environments(traced, batches) if speedups is None else None
    entries, order = [], []
    for k, name in traced.units:
        t32 = fp.time_node(traced, k, envs, None, repeats) if envs is not None else 1.0
        best = None
        for c in candidates:
            err = error({k: c})
            tlow = fp.time_node(traced, k, envs, c, repeats) if envs is not None else t32 / float(speedups[c])
            gain = t32 - tlow
            if best is None or (gain / max(err, 1e-30)) > (best[2] / max(best[1], 1e-30)):
                best = (c, err, gain, tlow)
        c, err, gain, tlow = best
        entries.append({"unit": name, "node": k, "dtype": "traced", "low_dtype": _dtype_name(c), "error": err,
                        "time_fp32": t32, "time_low": tlow, "speedup": t32 / tlow if tlow > 0 else 1.0})
        if gain > 0:
            order.append((-(gain / max(err, 1e-30)), len(entries) - 1, len(entries) - 1))
    measured = _choose(entries, order, budget, lambda idx: error(
        {entries[j]["node"]: _DTYPES[entries[j]["low_dtype"]] for j in idx}))
    fingerprint = {"function": traced.name, "ops": traced.ops, "signature": traced.signature}
    return Plan(entries, budget, metric_name, measured, fingerprint, [_dtype_name(c) for c in candidates])


@contextlib.contextmanager
def apply(plan_, model):
    """Run ``model``'s planned units in their dtypes for the scope of a ``with`` block."""
    if not isinstance(plan_, Plan):
        raise TypeError(f"hy.amp.apply: expected a hy.amp.Plan, got {type(plan_).__name__}")
    with _lowered(plan_._pairs(model)):
        yield model
