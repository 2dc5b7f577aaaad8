"""Testing helpers for hyflow users and hyflow's own tests: assert_close, make_tensor, gradcheck and
gradgradcheck."""
import numpy as np

from .. import _C
from .._creation import tensor

from ._gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402

__all__ = ["assert_close", "make_tensor", "default_tolerances", "gradcheck", "gradgradcheck", "GradcheckError"]

_TOL = {  # (rtol, atol) by dtype name, as torch.testing uses
    "float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7),  # those of the parts' dtype, as torch does
}


def default_tolerances(dtype):
    """(rtol, atol) for comparing values of ``dtype``; exact for integers and bools."""
    return _TOL.get(getattr(dtype, "name", str(dtype)), (0.0, 0.0))


def _to_numpy(x):
    if isinstance(x, _C.Tensor):
        x = x.detach()  # comparing reads values only; numpy() refuses tensors that require grad
        if x.dtype == _C.bfloat16:
            x = x.to(_C.float32)
        return np.asarray(x.contiguous().numpy())
    return np.asarray(x)


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=True, check_dtype=True, msg=""):
    """Raise AssertionError unless ``actual`` and ``expected`` (tensors, arrays or numbers) match
    in shape, dtype (when both are tensors and check_dtype) and values within rtol/atol."""
    if check_dtype and isinstance(actual, _C.Tensor) and isinstance(expected, _C.Tensor):
        if actual.dtype != expected.dtype:
            raise AssertionError(f"dtype mismatch: {actual.dtype} vs {expected.dtype}. {msg}")
    a, e = _to_numpy(actual), _to_numpy(expected)
    if a.shape != e.shape:
        raise AssertionError(f"shape mismatch: {a.shape} vs {e.shape}. {msg}")
    if rtol is None or atol is None:
        dt = actual.dtype if isinstance(actual, _C.Tensor) else a.dtype
        r, t = default_tolerances(dt)
        rtol = r if rtol is None else rtol
        atol = t if atol is None else atol
    if a.dtype.kind in "biu" and e.dtype.kind in "biu":
        if not np.array_equal(a, e):
            bad = np.argwhere(a != e)
            raise AssertionError(f"values differ at {len(bad)} positions, first {tuple(bad[0])}: "
                                 f"{a[tuple(bad[0])]} vs {e[tuple(bad[0])]}. {msg}")
        return
    # Complex values compare as complex (|a - e| <= atol + rtol*|e|): casting them to float64 would
    # drop the imaginary parts.
    wide = np.complex128 if a.dtype.kind == "c" or e.dtype.kind == "c" else np.float64
    a64, e64 = a.astype(wide), e.astype(wide)
    ok = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if not ok.all():
        bad = np.argwhere(~ok)
        i = tuple(bad[0])
        raise AssertionError(f"values differ at {len(bad)} of {a.size} positions (rtol={rtol}, atol={atol}); "
                             f"first at {i}: {a64[i]!r} vs {e64[i]!r}. {msg}")


def make_tensor(*shape, dtype=_C.float32, low=None, high=None, noncontiguous=False, seed=0):
    """A tensor of random values in [low, high) (defaults: [-9, 9] for numbers, {0, 1} for bool).
    ``noncontiguous=True`` returns a strided view with the same values."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    rng = np.random.default_rng(seed)
    name = dtype.name
    if name == "bool":
        arr = rng.integers(0, 2, size=shape).astype(bool)
    elif name in ("int32", "int64"):
        arr = rng.integers(-9 if low is None else low, 10 if high is None else high, size=shape).astype(name)
    else:
        lo, hi = (-9.0 if low is None else low), (9.0 if high is None else high)
        arr = rng.uniform(lo, hi, size=shape).astype(np.float32 if name == "bfloat16" else name)
    t = tensor(arr, dtype=dtype)
    if noncontiguous and t.numel() > 0:
        big = _C.ops.zeros(tuple(shape) + (2,), dtype=dtype)
        view = _C.ops.select(big, -1, 0)
        view.copy_(t)
        return view
    return t
