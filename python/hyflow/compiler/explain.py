"""``hy.compiler.explain(fn, *args)``: what the compiler does with a call, as text and as data.

It traces ``fn(*args, **kwargs)`` once (the call really runs) and reports the captured graph before and
after the passes, the guards the entry would check, the fusion groups the code generator will compile,
graph breaks, the native kernels (which groups compile, why others replay, the generated C++, compile
time and disk-cache hit or miss), and timings. For a function already compiled with ``hy.compile`` it
also lists the recompiles of that function so far and their reasons. For a function compiled with
symbolic sizes (``dynamic=True``, or automatically after sizes changed) the graph is shown with its
symbols (``float32[s0, 10]``), and ``symbolic sizes:`` says which dims are dynamic and which symbols were
specialized, and why.
"""
import time

from .. import _C
from . import capture
from .autograd_program import NotTraceable, compile_autograd, needs_autograd
from .api import CompiledFunction, CompiledModule
from .codegen import build_graph_kernels
from .guards import signature
from .dynamic_guards import shape_class
from . import symbolic
from .passes import partition_fusion_groups
from .pipeline import optimize

__all__ = ["explain", "Explanation"]


class Explanation:
    """Fields: ``graph`` (optimized, None after a break), ``captured_graph`` (text before the passes),
    ``guards`` (lines), ``fusion_groups``, ``break_reasons``, ``recompiles``, ``timings`` (seconds),
    ``kernels`` (a codegen.GraphKernels: ``plans``, ``source``, ``cache``, ``error``, ``not_lowered``),
    ``backward_note`` and ``backward`` (the compiled backward: ``backward_graph``, ``backward_kernels``,
    ``saved_plan``) when the call requires grad."""

    def __init__(self):
        self.graph = None
        self.captured_graph = ""
        self.guards, self.fusion_groups, self.break_reasons, self.recompiles = [], [], [], []
        self.timings = {}
        self.kernels = None
        self.backward = None         # an AutogradProgram when the region has a compiled backward
        self.backward_note = None    # what happens to its backward, in words (None: grad not needed)
        self.symbolic = []           # lines: each symbol, dynamic or specialized (and why)
        self.measured = []           # the compiled function's entries: compiled or eager, as timed

    def format(self):
        out = []
        if self.break_reasons:
            out.append("graph breaks (the call runs eagerly):")
            out += [f"  - {r}" for r in self.break_reasons]
        if self.graph is not None:
            out.append("captured graph:")
            out.append(_indent(self.captured_graph))
            out.append("optimized graph:")
            out.append(_indent(self.graph.format()))
            out.append("guards:")
            out += [f"  - {g}" for g in self.guards]
            if self.symbolic:
                out.append("symbolic sizes:")
                out += [f"  - {line}" for line in self.symbolic]
            out.append(f"fusion groups ({len(self.fusion_groups)}):")
            for i, grp in enumerate(self.fusion_groups):
                vals = ", ".join(repr(v) for n in grp.nodes for v in n.output_values())
                out.append(f"  group {i} [{grp.kind}]: {' -> '.join(n.op for n in grp.nodes)}  ({vals})")
            out += _kernel_lines(self.kernels)
            out += _backward_lines(self)
        if self.measured:
            out.append("measured (compiled vs eager, per cached signature):")
            out += [f"  - {m}" for m in self.measured]
        if self.recompiles:
            out.append("recompiles:")
            out += [f"  - {r}" for r in self.recompiles]
        out.append("timings: " + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in self.timings.items()))
        return "\n".join(out)

    def __str__(self):
        return self.format()

    __repr__ = __str__


def _backward_lines(ex):
    if ex.backward_note is None:
        return []
    out = [f"backward: {ex.backward_note}"]
    b = ex.backward
    if b is not None:
        out.append(f"  saved for backward: {len(b.saved_plan)} value(s) "
                   f"({sum(1 for k, _, _ in b.saved_plan if k == 'out')} intermediates; elementwise values "
                   f"are recomputed)")
        out.append("backward graph:")
        out.append(_indent(b.backward_graph.format()))
        out.append("backward graph's kernels:")
        out += _kernel_lines(b.backward_kernels)
    return out


def _kernel_lines(gk):
    if gk is None:
        return []
    n = len([p for p in gk.plans if p.spec is not None]) if gk.error is None else 0
    head = f"native kernels ({n}"
    if gk.source is not None:
        head += f"; compile+load {gk.seconds * 1e3:.1f} ms, disk cache {gk.cache or 'not used'}"
    out = [head + "):"]
    out += [f"  - {line}" for line in gk.report()]
    if gk.error is not None:
        out.append(f"  fallback: {gk.error}")
    # Refusals under the heading of what was refused: a reduction or a shifted read that stays eager is
    # not an elementwise node.
    for kind, heading in _REFUSAL_HEADINGS:
        reasons = {r for i, r in gk.not_lowered.items() if gk.not_lowered_kind.get(i, "elementwise") == kind}
        if reasons:
            out.append(f"  {heading} left to eager:")
            out += sorted(f"    - {r}" for r in reasons)
    if gk.source is not None:
        out.append("generated source:")
        out.append(_indent(gk.source))
    return out


_REFUSAL_HEADINGS = (("elementwise", "elementwise nodes"), ("reduction", "reductions"),
                     ("stencil", "shifted reads (stencils)"))


def _indent(text):
    return "\n".join("    " + line for line in text.splitlines())


def explain(fn, *args, print_=False, **kwargs):
    """Trace ``fn(*args, **kwargs)`` and return an :class:`Explanation` (printed too when ``print_``)."""
    ex = Explanation()
    target, compiled = fn, None
    if isinstance(fn, CompiledModule):
        compiled = fn._compiled
        target = fn._orig_mod
    elif isinstance(fn, CompiledFunction):
        compiled = fn
        target = fn._fn
    if compiled is not None:
        ex.recompiles = list(compiled.recompiles)
        ex.measured = [e.measured for e in compiled.entries() if e.measured]
    key, leaves = signature(args, kwargs)
    t0 = time.perf_counter()
    tr = capture.trace(target, args, kwargs, input_leaves=leaves)
    ex.timings["trace"] = time.perf_counter() - t0
    if tr.break_reason is not None:
        ex.break_reasons.append(tr.break_reason)
        return _done(ex, print_)
    ex.captured_graph = tr.graph.format()
    t0 = time.perf_counter()
    ex.graph = optimize(tr.graph, ex.timings)
    ex.timings["passes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ex.fusion_groups = partition_fusion_groups(ex.graph)
    ex.timings["fusion_partition"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    signature(args, kwargs)
    ex.timings["guard_check"] = time.perf_counter() - t0
    ex.guards = _guard_lines(ex.graph, key)
    dynamic = compiled is not None and (compiled.dynamic is True or compiled._mask is not None)
    if dynamic and not needs_autograd(ex.graph):
        _, values, dims_of = shape_class(key, compiled._mask)
        if values:
            sym = symbolic.symbolize(ex.graph, values, [dims_of.get(i) for i in range(len(ex.graph.inputs))],
                                     getattr(tr.graph, "size_reads", ()))
            symbolic.apply(ex.graph, sym)
            ex.symbolic = _symbol_lines(ex.graph, sym, dims_of)
            ex.guards = _guard_lines(ex.graph, key, dims_of)
    elif dynamic:
        ex.symbolic = ["the call requires grad: sizes are specialized (the compiled backward is static)"]
    if needs_autograd(ex.graph):
        t0 = time.perf_counter()
        try:
            name = getattr(target, "__qualname__", None) or type(target).__name__   # a module: its class
            ex.backward = compile_autograd(ex.graph, list(_unique(leaves)), name)
            ex.kernels = ex.backward.kernels
            ex.backward_note = "compiled backward (one autograd node)"
            ex.timings["backward"] = time.perf_counter() - t0
        except NotTraceable as e:
            ex.backward_note = f"backward replays op by op: {e}"
    if ex.kernels is None:
        ex.kernels = build_graph_kernels(ex.graph)
    ex.timings["codegen"] = ex.kernels.seconds
    return _done(ex, print_)


def _unique(leaves):
    seen = set()
    for x in leaves:
        if isinstance(x, _C.Tensor) and id(x) not in seen:
            seen.add(id(x))
            yield x


def _done(ex, print_):
    if print_:
        print(ex.format())
    return ex


def _symbol_lines(graph, sym, dims_of):
    where = {}
    for i, v in enumerate(graph.inputs):
        for d, x in enumerate(dims_of.get(i) or ()):
            if isinstance(x, tuple):
                where.setdefault(x[1], []).append(f"{v!r} dim {d}")
    lines = []
    for s, value in enumerate(sym.values):
        at = ", ".join(where.get(s, []))
        if s in sym.specialized:
            lines.append(f"s{s} = {value} specialized ({sym.specialized[s][1]}): {at}")
        else:
            least = sym.lower_bounds().get(s)
            bound = f", serves sizes >= {least}" if least else ""
            lines.append(f"s{s} dynamic (traced at {value}{bound}): {at}")
    return lines


def _guard_lines(graph, key, dims_of=None):
    """The guards as sentences; ``dims_of`` (a shape class's dims per input) for symbolic sizes."""
    _, leaves, (grad_on, autocast, default_dtype) = key   # (grad mode, autocast dtype or None, default dtype)
    lines = [f"grad mode is {'on' if grad_on else 'off'}"]
    if default_dtype != _C.float32:
        lines.append(f"the default dtype is {default_dtype.name}")
    if autocast is not None:
        lines.append(f"inside an autocast region computing in {autocast.name}")
    tensors = [k for k in leaves if k[0] == "T"]
    for v, k in zip(graph.inputs, [k for i, k in enumerate(tensors) if k[-1] not in [t[-1] for t in tensors[:i]]]):
        _, dtype, device, shape, strides, rg, _ = k
        dims = (dims_of or {}).get(graph.inputs.index(v))
        if dims is not None:
            text = ", ".join(f"s{d[1]}" if isinstance(d, tuple) else str(d) for d in dims)
            lines.append(f"{v!r}: {dtype.replace('hyflow.', '')} on {device}, rank {len(dims)}, sizes ({text}) "
                         f"(symbols: any size >= 2, equal symbols equal), contiguous, requires_grad={rg}")
            continue
        lines.append(f"{v!r}: {dtype.replace('hyflow.', '')} on {device}, sizes {tuple(shape)}, "
                     f"strides {tuple(strides)}, requires_grad={rg}")
    others = [k for k in leaves if k[0] != "T"]
    for k in others:
        lines.append(f"argument == {k[1]!r}" if k[0] != "id" else "argument is the same object")
    for v in graph.captured:
        if v.kind == "captured" and not v.is_literal_number():
            lines.append(f"{v!r} (captured by reference): {v.meta.short()}, requires_grad={v.meta.requires_grad}")
    return lines
