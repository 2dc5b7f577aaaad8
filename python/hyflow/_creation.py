"""Tensor factories with PyTorch's calling conventions (varargs sizes, *_like)."""
import builtins

import numpy as np

from . import _C
from ._C import Tensor

__all__ = ["tensor", "as_tensor", "empty", "zeros", "ones", "full", "arange", "linspace", "logspace", "eye", "rand",
           "randn", "randint", "empty_like", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like",
           "randint_like", "manual_seed", "randperm"]


def _size(size):
    if len(size) == 1 and not isinstance(size[0], builtins.int) and hasattr(size[0], "__len__"):
        return tuple(size[0])
    return tuple(size)


def _infer_dtype(data, arr):
    """torch.tensor's rule: Python floats become the default dtype (hy.get_default_dtype(), float32 unless
    changed), complex numbers the default complex dtype; NumPy arrays keep their dtype. A name (str) for those
    two, since bfloat16 has no NumPy dtype."""
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return arr.dtype
    if arr.dtype.kind == "f":
        return _C.get_default_dtype().name
    if arr.dtype.kind == "c":
        return _C.get_default_complex_dtype().name
    if arr.dtype.kind in "iu":
        return np.int64
    return arr.dtype


def _first_in(data, pred):
    """The first element of nested lists/tuples ``data`` for which ``pred`` holds, or None."""
    stack = [data]
    while stack:
        x = stack.pop()
        if pred(x):
            return x
        if isinstance(x, (list, tuple)):
            stack.extend(reversed(x))
    return None


def _first_big_int(data):
    """The first Python int in nested ``data`` that int64 cannot hold, or None."""
    return _first_in(data, lambda x: isinstance(x, builtins.int) and not isinstance(x, builtins.bool)
                     and not -2**63 <= x < 2**63)


def _has_float(data):
    return _first_in(data, lambda x: isinstance(x, (builtins.float, np.floating))) is not None


def _check_fits(arr, name):
    """Raise ValueError naming the first value of ``arr`` that integer dtype ``name`` cannot hold.

    NumPy's astype would wrap (uint64 2**64-1 -> -1) or turn nan/inf into INT_MIN silently; floats convert
    by truncation (3.7 -> 3) as in torch, so only their integer part must fit."""
    if arr.size == 0 or arr.dtype.kind == "b":
        return
    info = np.iinfo(name)
    if arr.dtype.kind == "f":
        t = np.trunc(arr.astype(np.float64))
        # 2**63 is the first double past int64; int32's bounds are exact doubles
        ok = (t >= info.min) & ((t < 2.0**63) if name == "int64" else (t <= info.max))
    else:
        ok = (arr >= info.min) & (arr <= info.max)
    if not ok.all():
        bad = arr[~ok].flat[0]
        raise ValueError(f"tensor(): value {bad.item()!r} cannot be converted to {name} without overflow"
                         + ("; pass dtype=hyflow.float64 to convert it" if arr.dtype.kind == "u" else ""))


def tensor(data, *, dtype=None, device=None) -> Tensor:
    """A new tensor with its own copy of ``data`` (nested lists, numbers, NumPy arrays or tensors)."""
    if device is not None and str(device) != "cpu":
        return tensor(data, dtype=dtype).to(device)  # built on the CPU, then copied (docs/cuda.md)
    if isinstance(data, Tensor):
        out = data.detach().clone()
        return out if dtype is None else out.to(dtype)
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as e:
        raise ValueError(f"tensor(): cannot build a tensor from {type(data).__name__}: {e}") from None
    dt = None if dtype is None else dtype if isinstance(dtype, _C.dtype) else _C.promote_types(dtype, dtype)
    if arr.dtype == object or (arr.dtype.kind == "f" and not isinstance(data, (np.ndarray, np.generic))
                               and dt is None and not _has_float(data)):
        # NumPy keeps Python ints beyond int64 (and mixed objects) as objects, and turns ints mixed with
        # ones in uint64's range ([0, 2**63]) into float64: either way only a float dtype holds them.
        big = _first_big_int(data)
        if big is not None and dt is not None and dt.is_floating_point:
            try:
                arr = np.asarray(data, dtype=np.float64)
            except OverflowError:
                raise ValueError(f"tensor(): Python integer {big} is too large for {dt.name}") from None
        elif big is not None:
            raise ValueError(f"tensor(): Python integer {big} cannot be converted to "
                             f"{dt.name if dt is not None else 'int64'} without overflow")
    if arr.dtype == object or arr.dtype.kind not in "biufc":
        raise TypeError(f"tensor(): data must be numbers (bool, int, float, complex), got elements of type {arr.dtype}")
    if arr.dtype.kind == "c" and dt is not None and not dt.is_complex:
        raise TypeError(f"tensor(): complex data cannot be stored as {dt.name} (it would drop the imaginary parts); "
                        "take .real of the data or pass a complex dtype")
    if arr.dtype.kind == "b":
        arr = arr.view(np.uint8) != 0  # bytes other than 0/1 (a viewed uint8 array) become True
    inferred = _infer_dtype(data, arr) if dt is None else None
    if inferred == "bfloat16":  # a bfloat16 default dtype: NumPy has none, so the dtype= path converts
        dt = _C.bfloat16
    if dt is None:
        target = np.dtype(inferred)
        if target.kind == "u" or (target.kind == "i" and target.itemsize < 4):
            target = np.dtype(np.int64)
        if arr.dtype.kind == "u" and target.kind == "i":
            _check_fits(arr, target.name)  # uint8/16/32 always fit int64; uint64 above 2**63-1 raises
        arr = arr.astype(target, copy=False)
    else:
        if dt == _C.bfloat16:
            return _C.ops.to_dtype(tensor(arr.astype(np.float32)), dt, False)
        if dt in (_C.int32, _C.int64):
            _check_fits(arr, dt.name)
        arr = arr.astype(dt.name, copy=False)
    return _C.from_numpy(np.array(arr, copy=True, order="C")).clone()


def as_tensor(data, dtype=None) -> Tensor:
    """Share memory with ``data`` when possible (a NumPy array of a supported dtype), else copy."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and dtype is None and data.flags.writeable:
        try:
            return _C.from_numpy(data)
        except (TypeError, ValueError):
            pass
    return tensor(data, dtype=dtype)


def empty(*size, dtype=None, device=None) -> Tensor:
    return _C.ops.empty(_size(size), dtype=dtype, device=device)


def zeros(*size, dtype=None, device=None) -> Tensor:
    return _C.ops.zeros(_size(size), dtype=dtype, device=device)


def ones(*size, dtype=None, device=None) -> Tensor:
    return _C.ops.ones(_size(size), dtype=dtype, device=device)


def full(size, fill_value, *, dtype=None, device=None) -> Tensor:
    if isinstance(size, builtins.int):
        size = (size,)
    if is_complex_number(fill_value):
        return _complex_full(tuple(size), builtins.complex(fill_value), dtype, device)
    return _C.ops.full(tuple(size), fill_value, dtype=dtype, device=device)


def is_complex_number(value):
    """A Python or NumPy complex scalar (the op table's Scalar is real: complex fills go through here)."""
    return isinstance(value, (builtins.complex, np.complexfloating))


def _complex_full(size, value, dtype, device):
    # torch: a complex fill value gives the default complex dtype and refuses a real dtype.
    dtype = _C.get_default_complex_dtype() if dtype is None else dtype
    if not dtype.is_complex:
        raise TypeError(f"full(): fill_value {value!r} is complex but dtype is {dtype.name}; pass a complex dtype "
                        "(hy.complex64, hy.complex128) or a real fill_value")
    return _C.ops.full(size, 0.0, dtype=dtype, device=device).fill_(value)


def arange(start, end=None, step=1, *, dtype=None, device=None) -> Tensor:
    if end is None:
        start, end = 0, start
    return _C.ops.arange(start, end, step, dtype=dtype, device=device)


def linspace(start, end, steps, *, dtype=None, device=None) -> Tensor:
    return _C.ops.linspace(start, end, steps, dtype=dtype, device=device)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None) -> Tensor:
    """``steps`` values ``base ** e`` for ``e`` evenly spaced from start to end (torch.logspace), in ``dtype``
    (the default dtype when None). The exponents and powers are computed in float64 and rounded once."""
    if isinstance(base, builtins.bool) or not isinstance(base, (builtins.int, builtins.float)):
        raise TypeError(f"logspace(): base must be a number, got {type(base).__name__}")
    exps = _C.ops.linspace(start, end, steps, dtype=_C.float64)
    out = _C.ops.to_dtype(builtins.float(base) ** exps, _C.get_default_dtype() if dtype is None else dtype, False)
    return out if device is None or str(device) == "cpu" else out.to(device)


def eye(n, m=None, *, dtype=None, device=None) -> Tensor:
    return _C.ops.eye(n, m, dtype=dtype, device=device)


def rand(*size, generator=None, dtype=None, device=None) -> Tensor:
    return _C.ops.rand(_size(size), generator=generator, dtype=dtype, device=device)


def randn(*size, generator=None, dtype=None, device=None) -> Tensor:
    return _C.ops.randn(_size(size), generator=generator, dtype=dtype, device=device)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """randint(high, size) or randint(low, high, size), like torch."""
    if size is None:
        if high is None or not hasattr(high, "__len__"):
            raise TypeError("randint() needs a size, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    if isinstance(size, builtins.int):
        size = (size,)
    return _C.ops.randint(low, high, tuple(size), generator=generator, dtype=dtype, device=device)


def randperm(n, *, generator=None, dtype=None, device=None) -> Tensor:
    """A uniformly random permutation of 0..n-1 (int64 unless dtype says otherwise), like torch.randperm.

    Drawn from ``generator`` (the default generator when None), so a seed reproduces it; the values differ
    from torch's. The permutation is the stable argsort of n float64 uniform draws on the host: every order
    of distinct draws is equally likely, and a tie (probability about n**2 / 2**54) keeps index order."""
    if not isinstance(n, builtins.int) or isinstance(n, builtins.bool):
        raise TypeError(f"randperm(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    dtype = _C.int64 if dtype is None else dtype
    if dtype == _C.bool or dtype.is_complex:
        raise NotImplementedError(f'"randperm" not implemented for \'{dtype.name}\'')
    if dtype != _C.int64 and n > 0:
        limit = {"int32": 2**31, "float16": 2049, "bfloat16": 257, "float32": 2**24 + 1, "float64": 2**53 + 1}
        if n > limit.get(dtype.name, n):
            raise RuntimeError(f"n cannot be greater than {limit[dtype.name]} for {dtype.name} (its values would "
                               "not all be distinct)")
    draws = _C.ops.rand((n,), generator=generator, dtype=_C.float64)
    out = _C.ops.argsort(draws, 0, False, stable=True)
    if dtype != _C.int64:
        out = _C.ops.to_dtype(out, dtype, False)
    if device is not None and str(device) != "cpu":
        out = out.to(device)
    return out


def _check_like_format(fn, memory_format):
    # memory_format= of the *_like factories: a layout hint, as for contiguous()/clone() (hy.channels_last
    # gives the same row-major tensor); None means torch's default, preserve_format.
    if memory_format is not None:
        from ._tensor_compat import check_memory_format
        check_memory_format(fn, memory_format)


def empty_like(input, *, dtype=None, memory_format=None) -> Tensor:
    _check_like_format("empty_like", memory_format)
    return empty(input.shape, dtype=dtype or input.dtype)


def zeros_like(input, *, dtype=None, memory_format=None) -> Tensor:
    _check_like_format("zeros_like", memory_format)
    return zeros(input.shape, dtype=dtype or input.dtype)


def ones_like(input, *, dtype=None, memory_format=None) -> Tensor:
    _check_like_format("ones_like", memory_format)
    return ones(input.shape, dtype=dtype or input.dtype)


def full_like(input, fill_value, *, dtype=None, memory_format=None) -> Tensor:
    _check_like_format("full_like", memory_format)
    return full(input.shape, fill_value, dtype=dtype or input.dtype)


def rand_like(input, *, generator=None, dtype=None, memory_format=None) -> Tensor:
    _check_like_format("rand_like", memory_format)
    return rand(input.shape, generator=generator, dtype=dtype or input.dtype)


def randn_like(input, *, generator=None, dtype=None, memory_format=None) -> Tensor:
    _check_like_format("randn_like", memory_format)
    return randn(input.shape, generator=generator, dtype=dtype or input.dtype)


def randint_like(input, low, high=None, *, generator=None, dtype=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, generator=generator, dtype=dtype or input.dtype)


def manual_seed(seed) -> _C.Generator:
    """Seed the default generator (used when no generator= is passed)."""
    return _C.default_generator().manual_seed(seed)


def _with_requires_grad(fn):
    """Give a factory torch's `requires_grad=` keyword."""
    import functools

    import inspect

    @functools.wraps(fn)
    def factory(*args, requires_grad=False, **kwargs):
        out = fn(*args, **kwargs)
        if requires_grad:
            out.requires_grad_(True)
        return out
    # inspect.signature (and the type stubs made from it) show the factory's own arguments plus requires_grad
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    extra = inspect.Parameter("requires_grad", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=builtins.bool)
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    factory.__signature__ = sig.replace(parameters=params[:at] + [extra] + params[at:])
    return factory


for _name in ["tensor", "empty", "zeros", "ones", "full", "arange", "linspace", "logspace", "eye", "rand", "randn",
              "empty_like", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "randperm"]:
    globals()[_name] = _with_requires_grad(globals()[_name])
