"""``hy.compile``: trace on the first call, replay the optimized graph on later calls whose guards hold.

    @hy.compile
    def step(h, u, v, dt): ...

    model = hy.compile(model)          # an nn.Module: its forward is compiled, training works

Each compiled function keeps a cache of entries keyed by the call's signature (guards.py). A call whose
signature has an entry replays it; a new signature traces again (a recompile, logged with its reason) until
``cache_size_limit`` entries exist, after which new signatures run eagerly with one warning.

Symbolic sizes (``dynamic=True``, or ``dynamic=None`` once a call differs from an earlier one only in
sizes): the entry is keyed by the signature's shape class (dynamic_guards.py), its graph's sizes are
symbolic (symbolic.py) and its kernels read them at run time, so calls with other sizes of that class
replay it without a trace. ``dynamic=False`` specializes every trace to exact sizes. A trace that
hits a graph break caches "run eagerly" for its signature. ``HYFLOW_COMPILE=0`` makes every compiled
function call its original. Anything the compiler itself fails at falls back to eager with one warning
naming the reason; exceptions of the user's code propagate unchanged.
"""
import functools
import os
import time
import warnings

from .. import _C
from ..nn.module import Module
from . import capture
from .guards import CapturedGuard, call_key, describe_mismatch
from . import symbolic
from .dynamic_guards import changed_dims, constraints_hold, shape_class
from ._log import log
from .codegen import build_graph_kernels
from .autograd_program import NotTraceable, compile_autograd, needs_autograd
from .pipeline import optimize
from .replay import Program


# HYFLOW_COMPILE is read at every call (a test or a notebook may set it between calls), so the read must
# be cheap: os.environ.get decodes and encodes through _Environ (~0.7 µs, 15% of a small compiled call).
# On POSIX CPython os.environ keeps its bytes dict in _data, updated by every os.environ assignment.
_ENV_DATA = getattr(os.environ, "_data", None)
try:
    _ENV_KEY, _ENV_OFF = os.environ.encodekey("HYFLOW_COMPILE"), os.environ.encodevalue("0")
except AttributeError:
    _ENV_DATA = None


def _compile_disabled():
    if _ENV_DATA is not None:
        return _ENV_DATA.get(_ENV_KEY) == _ENV_OFF
    return os.environ.get("HYFLOW_COMPILE", "1") == "0"

__all__ = ["compile", "CompiledFunction", "CompiledModule", "cache_size_limit", "CompileWarning"]

#: How many signatures one compiled function traces before new ones run eagerly (torch's default is 8).
cache_size_limit = 8

_MODES = ("default", "max-autotune")


class CompileWarning(UserWarning):
    """A compiled function fell back to eager code (the message names why)."""


def compile(fn=None, *, dynamic=None, mode="default"):  # noqa: A001 (hy.compile, like torch.compile)
    """Compile a function or an nn.Module; usable as ``@hy.compile`` and ``@hy.compile(mode=...)``.

    ``dynamic``: True compiles with symbolic sizes from the first call (a changing batch or grid size
    does not recompile); None (default) specializes to exact sizes until a call differs from an earlier
    one only in sizes, then compiles the dims that changed symbolically; False always specializes.
    ``mode``: "default" (heuristic launch parameters) or "max-autotune" (each kernel's launch grain is
    measured once per kernel, size class and machine, and cached on disk: codegen/autotune.py).
    """
    if dynamic is not None and not isinstance(dynamic, bool):
        raise TypeError(f"compile(): dynamic must be None, True or False, got {dynamic!r}")
    if mode not in _MODES:
        raise ValueError(f"compile(): mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
    if fn is None:
        return lambda f: compile(f, dynamic=dynamic, mode=mode)
    if isinstance(fn, Module):
        return CompiledModule(fn, dynamic=dynamic, mode=mode)
    if not callable(fn):
        raise TypeError(f"compile(): expected a function or an nn.Module, got {type(fn).__name__}")
    return CompiledFunction(fn, dynamic=dynamic, mode=mode)


class _Entry:
    """One cached compilation: the optimized graph and its program, or the reason to run eagerly."""

    __slots__ = ("program", "graph", "captured", "held", "eager_reason", "timings", "raw_graph_text", "kernels",
                 "backward_note", "autograd", "symbolic", "constraints", "bounds", "trial", "measured",
                 "compiled_program")

    def __init__(self, held):
        self.program = self.graph = self.kernels = self.backward_note = self.autograd = None
        self.symbolic = None      # a symbolic.Symbolization for an entry with symbolic sizes
        self.constraints = {}     # {symbol: value} that entry was specialized to
        self.bounds = {}          # {symbol: least size} it serves (stencil offsets)
        self.captured = None      # a CapturedGuard once traced
        self.held = held          # non-tensor argument objects guarded by identity: kept alive
        self.eager_reason = None
        self.timings = {}
        self.raw_graph_text = None
        self.trial = None         # a _Trial while the first calls time compiled against eager
        self.measured = None      # the trial's verdict, in words (explain shows it)
        self.compiled_program = None   # the program an entry that measured slower than eager keeps


class _Trial:
    """The first calls of a new entry: one untimed compiled run (kernel loading, autotuning), then
    ``ROUNDS`` eager and ``ROUNDS`` compiled runs, alternating, each timed; the best of each decides."""

    ROUNDS = 4
    __slots__ = ("calls", "eager", "compiled", "guard_ns")

    def __init__(self):
        self.calls = 0
        self.eager, self.compiled = [], []
        self.guard_ns = 0


class CompiledFunction:
    """A function with a cache of traced graphs; call it like the original."""

    def __init__(self, fn, dynamic=None, mode="default", guard_extra=None, name=None):
        functools.update_wrapper(self, fn)
        self._display_name = name         # logs and the backward node's name (a module: its class name)
        self._fn, self.dynamic, self.mode = fn, dynamic, mode
        self._guard_extra = guard_extra   # () -> hashable, part of every signature (module state)
        self._cache = {}
        self._dyn = {}                    # shape class -> [entries with symbolic sizes]
        self._memo = {}                   # exact signature -> (entry, symbol values): repeated sizes
        self._mask = None                 # dynamic=None: the (tensor, dim)s that became symbolic
        self.compiles = 0                 # traces made (static and symbolic), for tests and benchmarks
        self._last_key = None
        self._warned = set()
        self.recompiles = []              # reasons, in order (also in explain)
        self._all_eager = False           # every cached entry runs eagerly: calls skip the guard
        self._eager_calls = 0

    # ---- calling ----------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if self._all_eager:
            # Every signature seen runs eagerly (graph breaks, compiler errors, or measured no faster):
            # skip the guard too, except on every 64th call, which still looks the signature up so a new
            # one (other sizes or dtypes, eval mode) gets traced and measured.
            self._eager_calls += 1
            if self._eager_calls & 63:
                return self._fn(*args, **kwargs)
        if _compile_disabled() or capture.is_tracing():
            # Disabled, or called from code another compiled function traces: run as plain code, so the
            # outer trace records these ops itself.
            return self._fn(*args, **kwargs)
        key, leaves, tensors = call_key(args, kwargs)
        if self._guard_extra is not None:
            key = key + (self._guard_extra(),)
        entry = self._cache.get(key)
        if entry is not None and entry.program is not None and not entry.captured.ok():
            self._cache.pop(key)
            self._note_recompile("a captured tensor (parameter or global) changed dtype, sizes, strides "
                                 "or requires_grad")
            entry = None
        if entry is None:
            if self.dynamic is True or self._mask is not None:
                hit = self._memo.get(key) or self._dynamic_lookup(key)
                if hit is not None:
                    entry, values = hit
                    if entry.program is None:
                        return self._fn(*args, **kwargs)
                    if entry.captured.ok():
                        return entry.program.run(tensors, values)
                    self._drop_dynamic(entry)
                    self._note_recompile("a captured tensor (parameter or global) changed dtype, sizes, "
                                         "strides or requires_grad")
            return self._trace_call(key, leaves, args, kwargs)
        if entry.program is None:
            return self._fn(*args, **kwargs)
        if entry.trial is not None:
            return self._trial_call(entry, tensors, args, kwargs)
        return entry.program.run(tensors)

    # ---- compiled or eager: measured on the first calls -------------------------------------------------
    def _trial_call(self, entry, tensors, args, kwargs):
        trial = entry.trial
        n = trial.calls
        trial.calls += 1
        if n == 0:
            out = entry.program.run(tensors)          # warm-up, untimed
            trial.guard_ns = _guard_ns(args, kwargs, self._guard_extra)
            return out
        clock = time.perf_counter_ns
        if n % 2:
            t0 = clock()
            out = self._fn(*args, **kwargs)
            trial.eager.append(clock() - t0)
        else:
            t0 = clock()
            out = entry.program.run(tensors)
            trial.compiled.append(clock() - t0)
        if len(trial.compiled) >= _Trial.ROUNDS:
            self._decide(entry)
        return out

    def _decide(self, entry):
        trial, entry.trial = entry.trial, None
        eager = min(trial.eager)
        compiled = min(trial.compiled) + trial.guard_ns
        verdict = (f"compiled {compiled / 1e3:.1f} µs (guard {trial.guard_ns / 1e3:.1f} µs included) vs eager "
                   f"{eager / 1e3:.1f} µs, best of {_Trial.ROUNDS} each")
        if compiled < eager:
            entry.measured = f"runs compiled: {verdict}"
        else:
            entry.measured = f"runs eagerly: {verdict}"
            entry.eager_reason = f"measured no faster than eager ({verdict})"
            entry.compiled_program, entry.program = entry.program, None
        log(f"{self._name()}: {entry.measured}")
        self._update_all_eager()

    def _update_all_eager(self):
        self._all_eager = (bool(self._cache) and not any(self._dyn.values())
                           and all(e.program is None for e in self._cache.values()))
        self._eager_calls = 0

    def _dynamic_lookup(self, key):
        """(entry, symbol values) of an entry with symbolic sizes that stands for this call, or None."""
        ckey, values, _ = shape_class(key[:3], self._mask)
        for entry in self._dyn.get(ckey + key[3:], ()):
            if constraints_hold(entry.constraints, values, entry.bounds):
                if len(self._memo) >= 64:     # repeated sizes skip the class computation; bounded
                    self._memo.clear()
                self._memo[key] = (entry, values)
                return entry, values
        return None

    def _drop_dynamic(self, entry):
        for entries in self._dyn.values():
            if entry in entries:
                entries.remove(entry)
        self._memo.clear()

    def _n_entries(self):
        return len(self._cache) + sum(len(e) for e in self._dyn.values())

    def _dynamic_plan(self, key):
        """(class key, symbol values, dims per tensor) when this call compiles with symbolic sizes, else
        None. dynamic=None turns symbolic for the dims that changed once a call differs from an earlier
        one only in sizes (torch's automatic dynamic)."""
        if self.dynamic is False:
            return None
        if self.dynamic is None:
            changed = set()
            for old in self._cache:
                if old[3:] == key[3:]:
                    changed |= changed_dims(old[:3], key[:3]) or set()
            if changed - (self._mask or set()):
                self._mask = (self._mask or set()) | changed
                self._memo.clear()
                log(f"{self._name()}: sizes changed ({_dims_text(changed)}): compiling them symbolically")
            if self._mask is None:
                return None
        ckey, values, dims_of = shape_class(key[:3], self._mask)
        if not values:
            return None
        return ckey + key[3:], values, dims_of

    def _trace_call(self, key, leaves, args, kwargs):
        dyn = self._dynamic_plan(key)
        if self._n_entries():
            reason = _recompile_reason(self._last_key, key)
            if self._n_entries() >= cache_size_limit:
                self._warn_once("limit", f"{self._name()} was recompiled {self._n_entries()} times "
                                f"(hy.compiler.cache_size_limit = {cache_size_limit}); new signatures run "
                                f"eagerly. Last reason: {reason}")
                return self._fn(*args, **kwargs)
            if dyn is not None:
                reason += " (compiling with symbolic sizes)"
            self._note_recompile(reason)
        self._last_key = key
        self.compiles += 1
        entry = _Entry([x for x in leaves if not _is_plain(x)])
        t0 = time.perf_counter()
        tr = capture.trace(self._fn, args, kwargs, input_leaves=leaves)
        entry.timings["trace"] = time.perf_counter() - t0
        if tr.break_reason is not None:
            entry.eager_reason = f"graph break: {tr.break_reason}"
            log(f"{self._name()}: {entry.eager_reason}; this signature runs eagerly")
            self._cache[key] = entry
            self._update_all_eager()
            return tr.result
        if dyn is not None:
            self._dyn.setdefault(dyn[0], []).append(entry)
            self._memo.clear()
        else:
            self._cache[key] = entry
        try:
            entry.raw_graph_text = tr.graph.format()
            t0 = time.perf_counter()
            entry.graph = optimize(tr.graph, entry.timings)
            entry.timings["passes"] = time.perf_counter() - t0
            entry.captured = CapturedGuard(v.tensor for v in entry.graph.captured
                                           if v.kind == "captured" and not v.is_literal_number())
            if needs_autograd(entry.graph):
                entry.program = self._compile_autograd(entry, list(_unique_tensors(leaves)), tr.graph, dyn)
                if entry.program is None and dyn is not None:
                    # Replayed under eager autograd: nothing in it depends on sizes but its kernels.
                    self._symbolize(entry, tr.graph, dyn)
            elif dyn is not None:
                self._symbolize(entry, tr.graph, dyn)
            if entry.program is None:
                entry.kernels = build_graph_kernels(entry.graph)
                entry.program = Program(entry.graph, entry.kernels, autotune=self.mode == "max-autotune")
            entry.timings["codegen"] = entry.kernels.seconds
            if entry.kernels.error is not None:
                _warn_codegen_once(f"{self._name()}: fused groups run op by op (no native code): "
                                   f"{entry.kernels.error}")
            log(f"{self._name()}: traced {len(tr.graph.nodes)} nodes in {entry.timings['trace'] * 1e3:.2f} ms")
        except Exception as e:  # noqa: BLE001 - the compiler's own failure must never break the user's call
            entry.program = entry.graph = None
            entry.eager_reason = f"compiler error: {type(e).__name__}: {e}"
            if dyn is not None:   # a failure with symbolic sizes stands for this call's sizes only
                entry.constraints = dict(enumerate(dyn[1]))
            self._warn_once("error", f"{self._name()} runs eagerly: {entry.eager_reason}")
        if (fallback_policy == "measured" and entry.program is not None and entry.autograd is None
                and dyn is None):
            # A region with a compiled backward node is kept: its gain is in backward(), which a call
            # does not time. Entries with symbolic sizes serve many sizes, whose times do not compare.
            entry.trial = _Trial()
        self._update_all_eager()
        return tr.result

    def _symbolization(self, graph, traced, dyn):
        _, values, dims_of = dyn
        return symbolic.symbolize(graph, values, [dims_of.get(i) for i in range(len(graph.inputs))],
                                  getattr(traced, "size_reads", ()))

    def _symbolize(self, entry, traced, dyn):
        """Give the entry's graph symbolic sizes; the symbols it must fix become its constraints."""
        sym = self._symbolization(entry.graph, traced, dyn)
        symbolic.apply(entry.graph, sym)
        self._note_symbolic(entry, sym)

    def _note_symbolic(self, entry, sym):
        values = sym.values
        entry.symbolic = sym
        entry.constraints = sym.constraints()
        entry.bounds = sym.lower_bounds()
        dynamic = ", ".join(f"s{s}={values[s]}" for s in sym.dynamic_symbols()) or "none"
        fixed = "; ".join(f"s{s}={v} ({why})" for s, (v, why) in sorted(sym.specialized.items()))
        log(f"{self._name()}: symbolic sizes: dynamic {dynamic}" + (f"; specialized {fixed}" if fixed else ""))

    def _compile_autograd(self, entry, tensors, traced, dyn):
        """The region as one autograd node with a compiled backward, or None (then autograd records the
        replayed ops one by one, as eager would; ``entry.backward_note`` says why)."""
        t0 = time.perf_counter()
        symbolize = None
        if dyn is not None:
            def symbolize(graph):
                return self._symbolization(graph, traced, dyn)
        try:
            program = compile_autograd(entry.graph, tensors, self._name(), entry.timings, symbolize)
        except NotTraceable as e:
            entry.backward_note = f"backward replays op by op: {e}"
            log(f"{self._name()}: {entry.backward_note}")
            return None
        entry.timings["backward"] = time.perf_counter() - t0
        entry.kernels = program.kernels
        entry.backward_note = "compiled backward (one autograd node)"
        entry.autograd = program
        if program.symbolic is not None:
            self._note_symbolic(entry, program.symbolic)
        return program

    # ---- introspection --------------------------------------------------------------------------------
    def entries(self):
        """The cached compilations, static ones first, then those with symbolic sizes (used by explain)."""
        return list(self._cache.values()) + [e for es in self._dyn.values() for e in es]

    def reset(self):
        """Forget every compilation (the next call traces again)."""
        self._cache.clear()
        self._dyn.clear()
        self._memo.clear()
        self._mask = None
        self._last_key = None
        self.recompiles.clear()
        self.compiles = 0
        self._all_eager = False

    def _name(self):
        return self._display_name or getattr(self._fn, "__qualname__", None) or repr(self._fn)

    def _note_recompile(self, reason):
        self.recompiles.append(reason)
        log(f"{self._name()}: recompiling ({reason})")

    def _warn_once(self, kind, msg):
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(msg, CompileWarning, stacklevel=4)

    def __get__(self, obj, objtype=None):
        # A compiled method: bind like a function would.
        return self if obj is None else functools.partial(self, obj)


_codegen_warned = set()

# "measured": a new entry's first calls time it against eager and keep the faster (default);
# "never": always run the compiled code (hy.compiler.set_fallback_policy, or HYFLOW_COMPILE_FALLBACK at
# import; the test suite sets it so that compiled code is what its differential tests compare, also in
# the processes tests start).
fallback_policy = os.environ.get("HYFLOW_COMPILE_FALLBACK", "measured")
if fallback_policy not in ("measured", "never"):
    warnings.warn(f"HYFLOW_COMPILE_FALLBACK={fallback_policy!r} is not 'measured' or 'never'; using 'measured'",
                  RuntimeWarning, stacklevel=2)
    fallback_policy = "measured"


def _guard_ns(args, kwargs, extra):
    """The per-call price of looking an entry up (the signature, and a module's state), best of 3."""
    best = None
    for _ in range(3):
        t0 = time.perf_counter_ns()
        call_key(args, kwargs)
        if extra is not None:
            extra()
        dt = time.perf_counter_ns() - t0
        best = dt if best is None else min(best, dt)
    return best


def _warn_codegen_once(msg):
    """One CompileWarning per distinct reason per process (a missing compiler is said once, not per
    function or per signature)."""
    reason = msg.split(": ", 1)[-1]
    if reason not in _codegen_warned:
        _codegen_warned.add(reason)
        warnings.warn(msg, CompileWarning, stacklevel=5)


def _recompile_reason(old, new):
    if old is None:
        return "new signature"
    if old[:3] == new[:3]:
        return "a module parameter or buffer was replaced, or a training flag changed"
    return describe_mismatch(old[:3], new[:3])


def _dims_text(dims):
    return ", ".join(f"tensor {i} dim {d}" for i, d in sorted(dims))


def _is_plain(x):
    return x is None or type(x) in (int, float, bool, str, complex, bytes) or isinstance(x, _C.Tensor)


def _unique_tensors(leaves):
    seen = set()
    for x in leaves:
        if isinstance(x, _C.Tensor) and id(x) not in seen:
            seen.add(id(x))
            yield x


class CompiledModule(Module):
    """An nn.Module whose forward runs compiled; the original is ``_orig_mod`` (parameters, state_dict and
    training mode are the original's, under the ``_orig_mod.`` prefix as in torch)."""

    def __init__(self, module, dynamic=None, mode="default"):
        super().__init__()
        self._orig_mod = module
        # The parameters and buffers are captured by reference; these guards retrace when one is replaced
        # (module.weight = Parameter(...)) or the training flag of any submodule changes.
        # Computed in C++ on every call (csrc/bindings/bind_compiler_guards.cpp, module_state_key).
        def state(key=_C._compiler.module_state_key):
            return key(module)
        self._compiled = CompiledFunction(module.__call__, dynamic=dynamic, mode=mode, guard_extra=state,
                                          name=type(module).__name__)

    def forward(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            orig = self.__dict__.get("_modules", {}).get("_orig_mod")
            if orig is None:
                raise
            return getattr(orig, name)
