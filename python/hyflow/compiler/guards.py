"""Guards: when a compiled graph may stand for a call.

A trace is specialized to what the call looked like, so the cache key of a call is its *signature*: the
structure of the arguments (tuples, lists, dicts), for every tensor its dtype, device, sizes, strides and
requires_grad, for every other argument its value (numbers, strings, None) or its identity (any other
object), which arguments are the same tensor, whether grad mode is on, the autocast region (a trace
holds the casts its policy made) and the default dtype (a trace holds the dtypes its factories and Python
floats got). Equal signatures reuse the
compiled entry through one dict lookup.

Captured tensors (module parameters, globals) are read by reference at each call; an entry also checks that
each still has the dtype, sizes, strides and requires_grad it was traced with (:class:`CapturedGuard`).
"""
from .._C import Tensor
from .._device import raw_device as _raw_device
from .. import _C
from . import _pytree

__all__ = ["signature", "describe_mismatch", "captured_ok", "CapturedGuard"]

_grad_enabled = _C._autograd.is_grad_enabled


def _modes():
    """The state a trace depends on: grad mode and the dtype of an active autocast region (this thread's), and
    the default dtype (the process's: hy.set_default_dtype). The dtypes are the module's singleton objects:
    hashed as ints and compared by identity, with no str built per call."""
    return (_grad_enabled(), _C._amp.dtype() if _C._amp.is_active() else None, _C.get_default_dtype())


def _leaf_key(x, first_seen):
    if isinstance(x, Tensor):
        i = first_seen.setdefault(id(x), len(first_seen))
        return ("T", str(x.dtype), _raw_device(x), tuple(x.shape), tuple(x.stride()), x.requires_grad, i)
    t = type(x)
    if t is float and x != x:
        return ("nan",)
    if x is None or t in (int, float, bool, str, complex, bytes):
        return (t, x)
    return ("id", id(x))


_call_signature = _C._compiler.call_signature


def signature(args, kwargs):
    """(key, leaves in order) of a call. The key is (pytree structure, one key per leaf as
    :func:`_leaf_key` makes it, modes); computed in one C++ pass (csrc/bindings/bind_compiler_guards.cpp),
    as it is the per-call cost of every compiled function."""
    structure, key, leaves, _ = _call_signature(args, kwargs)
    return (structure, key, _modes()), leaves


def call_key(args, kwargs):
    """(key, leaves, tensors): :func:`signature` plus the distinct tensor leaves in first-seen order (the
    inputs of the compiled graph), for the per-call path of hy.compile."""
    structure, key, leaves, tensors = _call_signature(args, kwargs)
    return (structure, key, _modes()), leaves, tensors


def signature_py(args, kwargs):
    """The same signature built in Python: the reference the C++ version is tested against."""
    leaves, structure = _pytree.flatten((args, kwargs))
    first_seen = {}
    key = tuple(_leaf_key(x, first_seen) for x in leaves)
    return (structure, key, _modes()), leaves


def describe_mismatch(old, new):
    """Why signature ``new`` differs from ``old``, in words (for the recompile log and explain)."""
    (s0, k0, g0), (s1, k1, g1) = old, new
    if g0[0] != g1[0]:
        return f"grad mode changed ({'on' if g0[0] else 'off'} -> {'on' if g1[0] else 'off'})"
    if g0[1] != g1[1]:
        return f"autocast changed ({g0[1] or 'off'} -> {g1[1] or 'off'})"
    if g0[2] != g1[2]:
        return f"the default dtype changed ({g0[2]} -> {g1[2]})"
    if s0 != s1 or len(k0) != len(k1):
        return "the structure of the arguments changed"
    names = ("", "dtype", "device", "sizes", "strides", "requires_grad", "aliasing")
    for pos, (a, b) in enumerate(zip(k0, k1)):
        if a == b:
            continue
        if a[0] == "T" and b[0] == "T":
            for j in range(1, len(a)):
                if a[j] != b[j]:
                    return f"argument leaf {pos}: {names[j]} {a[j]!r} -> {b[j]!r}"
        return f"argument leaf {pos}: {a[-1]!r} -> {b[-1]!r}"
    return "unknown"


_tensor_keys = _C._compiler.tensor_keys


class CapturedGuard:
    """The captured tensors of an entry (parameters, globals) and their guard keys when traced; ``ok()``
    says whether each still has that dtype, device, sizes, strides and requires_grad (one C++ pass)."""

    __slots__ = ("tensors", "key")

    def __init__(self, tensors):
        self.tensors = list(tensors)
        self.key = _tensor_keys(self.tensors)

    def ok(self):
        return not self.tensors or _tensor_keys(self.tensors) == self.key


def captured_ok(entries):
    """Whether every (tensor, meta) still matches what the trace saw (Python reference of CapturedGuard)."""
    for t, meta in entries:
        if (tuple(t.shape) != meta.shape or tuple(t.stride()) != meta.strides or t.dtype != meta.dtype
                or t.requires_grad != meta.requires_grad):
            return False
    return True
