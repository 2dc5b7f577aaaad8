"""Tensor factories with PyTorch's calling conventions (varargs sizes, *_like)."""
import builtins

import numpy as np

from . import _C
from ._C import Tensor

__all__ = ["tensor", "as_tensor", "empty", "zeros", "ones", "full", "arange", "linspace", "eye", "rand",
           "randn", "randint", "empty_like", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like",
           "randint_like", "manual_seed"]


def _size(size):
    if len(size) == 1 and not isinstance(size[0], builtins.int) and hasattr(size[0], "__len__"):
        return tuple(size[0])
    return tuple(size)


def _infer_dtype(data, arr):
    """torch.tensor's rule: Python floats become float32; NumPy arrays keep their dtype."""
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return arr.dtype
    if arr.dtype.kind == "f":
        return np.float32
    if arr.dtype.kind in "iu":
        return np.int64
    return arr.dtype


def tensor(data, *, dtype=None, device=None):
    """A new tensor with its own copy of ``data`` (nested lists, numbers, NumPy arrays or tensors)."""
    if device is not None and str(device) != "cpu":
        raise NotImplementedError(f"tensor(): device {device!r} needs the CUDA backend, not in this build")
    if isinstance(data, Tensor):
        out = data.detach().clone()
        return out if dtype is None else out.to(dtype)
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as e:
        raise ValueError(f"tensor(): cannot build a tensor from {type(data).__name__}: {e}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"tensor(): data must be numbers (bool, int, float), got elements of type {arr.dtype}")
    if dtype is None:
        arr = arr.astype(_infer_dtype(data, arr), copy=False)
        if arr.dtype.kind == "u" or (arr.dtype.kind == "i" and arr.dtype.itemsize < 4):
            arr = arr.astype(np.int64)
    else:
        dt = dtype if isinstance(dtype, _C.dtype) else _C.promote_types(dtype, dtype)
        if dt == _C.bfloat16:
            return _C.ops.to_dtype(tensor(arr.astype(np.float32)), dt, False)
        arr = arr.astype(dt.name, copy=False)
    return _C.from_numpy(np.array(arr, copy=True, order="C")).clone()


def as_tensor(data, dtype=None):
    """Share memory with ``data`` when possible (a NumPy array of a supported dtype), else copy."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and dtype is None and data.flags.writeable:
        try:
            return _C.from_numpy(data)
        except (TypeError, ValueError):
            pass
    return tensor(data, dtype=dtype)


def empty(*size, dtype=None, device=None):
    return _C.ops.empty(_size(size), dtype=dtype, device=device)


def zeros(*size, dtype=None, device=None):
    return _C.ops.zeros(_size(size), dtype=dtype, device=device)


def ones(*size, dtype=None, device=None):
    return _C.ops.ones(_size(size), dtype=dtype, device=device)


def full(size, fill_value, *, dtype=None, device=None):
    if isinstance(size, builtins.int):
        size = (size,)
    return _C.ops.full(tuple(size), fill_value, dtype=dtype, device=device)


def arange(start, end=None, step=1, *, dtype=None, device=None):
    if end is None:
        start, end = 0, start
    return _C.ops.arange(start, end, step, dtype=dtype, device=device)


def linspace(start, end, steps, *, dtype=None, device=None):
    return _C.ops.linspace(start, end, steps, dtype=dtype, device=device)


def eye(n, m=None, *, dtype=None, device=None):
    return _C.ops.eye(n, m, dtype=dtype, device=device)


def rand(*size, generator=None, dtype=None, device=None):
    return _C.ops.rand(_size(size), generator=generator, dtype=dtype, device=device)


def randn(*size, generator=None, dtype=None, device=None):
    return _C.ops.randn(_size(size), generator=generator, dtype=dtype, device=device)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None):
    """randint(high, size) or randint(low, high, size), like torch."""
    if size is None:
        if high is None or not hasattr(high, "__len__"):
            raise TypeError("randint() needs a size, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    if isinstance(size, builtins.int):
        size = (size,)
    return _C.ops.randint(low, high, tuple(size), generator=generator, dtype=dtype, device=device)


def empty_like(input, *, dtype=None):
    return empty(input.shape, dtype=dtype or input.dtype)


def zeros_like(input, *, dtype=None):
    return zeros(input.shape, dtype=dtype or input.dtype)


def ones_like(input, *, dtype=None):
    return ones(input.shape, dtype=dtype or input.dtype)


def full_like(input, fill_value, *, dtype=None):
    return full(input.shape, fill_value, dtype=dtype or input.dtype)


def rand_like(input, *, generator=None, dtype=None):
    return rand(input.shape, generator=generator, dtype=dtype or input.dtype)


def randn_like(input, *, generator=None, dtype=None):
    return randn(input.shape, generator=generator, dtype=dtype or input.dtype)


def randint_like(input, low, high=None, *, generator=None, dtype=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, generator=generator, dtype=dtype or input.dtype)


def manual_seed(seed):
    """Seed the default generator (used when no generator= is passed)."""
    return _C.default_generator().manual_seed(seed)


def _with_requires_grad(fn):
    """Give a factory torch's `requires_grad=` keyword."""
    import functools

    @functools.wraps(fn)
    def factory(*args, requires_grad=False, **kwargs):
        out = fn(*args, **kwargs)
        if requires_grad:
            out.requires_grad_(True)
        return out
    return factory


for _name in ["tensor", "empty", "zeros", "ones", "full", "arange", "linspace", "eye", "rand", "randn",
              "empty_like", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like"]:
    globals()[_name] = _with_requires_grad(globals()[_name])
