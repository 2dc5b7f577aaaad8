"""The graph compiler (docs/compiler.md): ``hy.compile`` traces Python code into an SSA graph of op-table
calls, optimizes it with one pass per file, and runs it: elementwise fusion groups as generated native kernels
(``codegen/``), every other node by replaying its op (the eager backend).

Layout mirrors csrc/compiler/: ``capture`` (tracing through the dispatcher's capture hook), ``ir`` (Graph,
Node, Value, printer), ``passes/`` (one pass per file), ``pipeline`` (the pass order), ``codegen/`` (native
kernels), ``replay`` (runs a graph), ``backward_trace`` / ``saved_values`` / ``autograd_program`` (the
compiled backward: a region that requires grad as one autograd node), ``guards``, ``api`` (``hy.compile``),
``explain``.
"""
from . import api as _api
from . import autograd_program as _autograd_program
from .api import CompiledFunction, CompiledModule, CompileWarning, compile  # noqa: A004
from .capture import trace, Trace, is_tracing
from .explain import explain, Explanation
from .ir import Graph, Node, Value, TensorMeta
from .pipeline import optimize
from .replay import Program
from . import passes

__all__ = ["compile", "explain", "Explanation", "CompiledFunction", "CompiledModule", "CompileWarning",
           "trace", "Trace", "is_tracing", "Graph", "Node", "Value", "TensorMeta", "optimize", "Program",
           "passes", "cache_size_limit", "set_cache_size_limit", "backward_policy", "set_backward_policy",
           "fallback_policy", "set_fallback_policy"]


def __getattr__(name):
    if name == "cache_size_limit":
        return _api.cache_size_limit
    if name == "backward_policy":
        return _autograd_program.backward_policy
    if name == "fallback_policy":
        return _api.fallback_policy
    raise AttributeError(f"module 'hyflow.compiler' has no attribute '{name}'")


def set_cache_size_limit(n):
    """How many signatures a compiled function traces before new ones run eagerly (default 8)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_cache_size_limit(): n must be a positive int, got {n!r}")
    _api.cache_size_limit = n


def set_backward_policy(policy):
    """When a compiled region that requires grad becomes ONE autograd node with a compiled backward:
    "auto" (default) only where its forward fuses two or more elementwise/reduction ops — elsewhere (an
    MLP) the node measured slower than eager autograd, so the region records its ops one by one;
    "always" wherever it can. Affects compilations made after the call (docs/compiler.md)."""
    if policy not in ("auto", "always"):
        raise ValueError(f"set_backward_policy(): policy must be 'auto' or 'always', got {policy!r}")
    _autograd_program.backward_policy = policy


def set_fallback_policy(policy):
    """Whether a compiled function may run eagerly where that is faster: "measured" (default) times each
    new static entry's first calls (one warm-up, then 4 eager and 4 compiled runs, alternating, the guard's
    cost added to the compiled side) and keeps the faster — so a compiled function is never slower than
    its eager self; "never" always runs the compiled code. Affects compilations made after the call."""
    if policy not in ("measured", "never"):
        raise ValueError(f"set_fallback_policy(): policy must be 'measured' or 'never', got {policy!r}")
    _api.fallback_policy = policy
