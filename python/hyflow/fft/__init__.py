"""hy.fft: discrete Fourier transforms with NumPy/torch semantics (docs/fft.md).

Every transform is one of three op-table ops (csrc/ops/table/fft.yaml: _fft_c2c, _fft_r2c, _fft_c2r, each
with its backward formula); this module only does torch's argument handling: `n`/`s` crop or zero-pad
the input, `dim` picks the dims, `norm` ("backward", "ortho", "forward") picks the scaling. Real inputs
of fft/fftn go through the real-to-complex transform; integer and bool inputs compute in float32.
"""
import builtins

from .. import _C
from .._C import Tensor

__all__ = ["fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = ("backward", "ortho", "forward")


def _normalization(norm, forward):
    """The kernels' scaling code: 0 none, 1 1/sqrt(n), 2 1/n; `norm` names the forward transform's."""
    if norm is None:
        norm = "backward"
    if norm not in _NORMS:
        raise ValueError(f"Invalid normalization mode: {norm!r} (expected one of {', '.join(map(repr, _NORMS))} or None)")
    if norm == "ortho":
        return 1
    return 0 if (norm == "backward") == forward else 2


def _check_tensor(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): input must be a hyflow Tensor, got {type(x).__name__}")


_REAL_OF_COMPLEX = {_C.complex64: _C.float32, _C.complex128: _C.float64}


def _as_float(x):
    """Inputs that are neither float32/float64 nor complex compute in the real dtype of the default complex
    dtype (the default dtype, or float32 when that is float16/bfloat16, which the transforms do not take), so
    their spectrum has the default complex dtype, as torch's."""
    if x.dtype.is_complex or x.dtype in (_C.float32, _C.float64):
        return x
    return x.to(_REAL_OF_COMPLEX[_C.get_default_complex_dtype()])


def _as_complex(x):
    x = _as_float(x)
    if x.dtype.is_complex:
        return x
    return _C.ops.complex(x, _C.ops.zeros(list(x.shape), dtype=x.dtype, device=x.device))


def _resize(x, dim, n, name):
    """x cropped or zero-padded along `dim` to `n` points (torch's `n` argument)."""
    if n is None:
        return x
    if not isinstance(n, builtins.int) or isinstance(n, builtins.bool) or n < 1:
        raise ValueError(f"{name}(): invalid number of data points ({n!r}) specified; n must be an int >= 1")
    size = x.shape[dim]
    if n == size:
        return x
    if n < size:
        return _C.ops.slice(x, dim, 0, n, 1)
    shape = list(x.shape)
    shape[dim] = n - size
    return _C.ops.cat([x, _C.ops.zeros(shape, dtype=x.dtype, device=x.device)], dim)


def _wrap_dims(x, dims, name):
    out = []
    for d in dims:
        if not isinstance(d, builtins.int) or isinstance(d, builtins.bool):
            raise TypeError(f"{name}(): dim must be an int or a sequence of ints, got {d!r}")
        if not -x.dim() <= d < x.dim():
            raise IndexError(f"{name}(): dim {d} is out of range for a tensor with {x.dim()} dims")
        w = d % x.dim()
        if w in out:
            raise ValueError(f"{name}(): dim {d} appears more than once")
        out.append(w)
    return out


def _dims_and_sizes(x, s, dim, name, default_all=True):
    """torch's (s, dim) rules: dim defaults to the last len(s) dims, or all dims (or the last two)."""
    if x.dim() == 0:
        raise IndexError(f"{name}(): a 0-d tensor has no dim to transform")
    if isinstance(dim, builtins.int):
        dim = (dim,)
    if s is not None:
        s = list(s)
        if dim is None:
            dim = list(range(x.dim() - len(s), x.dim()))
        if len(s) != len(dim):
            raise ValueError(f"{name}(): s has {len(s)} sizes but dim has {len(dim)} dims; they must match")
    elif dim is None:
        dim = list(range(x.dim())) if default_all else [x.dim() - 2, x.dim() - 1]
    dims = _wrap_dims(x, list(dim), name)
    if not dims:
        raise ValueError(f"{name}(): dim must name at least one dim")
    if s is None:
        s = [None] * len(dims)
    return dims, s


def _c2c(x, s, dim, norm, forward, name, default_all=True):
    _check_tensor(x, name)
    dims, sizes = _dims_and_sizes(x, s, dim, name, default_all)
    x = _as_float(x)
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n, name)
    normalization = _normalization(norm, forward)
    if not x.dtype.is_complex and forward:  # a real signal: the real-to-complex transform, full spectrum
        return _C.ops._fft_r2c(x, dims, normalization, False)
    return _C.ops._fft_c2c(_as_complex(x), dims, normalization, forward)


def _r2c(x, s, dim, norm, name, default_all=True):
    _check_tensor(x, name)
    if x.dtype.is_complex:
        raise TypeError(f"{name}(): expects a real input tensor, got {x.dtype.name}")
    dims, sizes = _dims_and_sizes(x, s, dim, name, default_all)
    x = _as_float(x)
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n, name)
    return _C.ops._fft_r2c(x, dims, _normalization(norm, True), True)


def _c2r(x, s, dim, norm, name, default_all=True):
    _check_tensor(x, name)
    dims, sizes = _dims_and_sizes(x, s, dim, name, default_all)
    x = _as_complex(x)
    last = dims[-1]
    out_n = sizes[-1] if sizes[-1] is not None else 2 * (x.shape[last] - 1)
    if out_n < 1:
        raise ValueError(f"{name}(): invalid number of data points ({out_n}) specified")
    for d, n in zip(dims[:-1], sizes[:-1]):
        x = _resize(x, d, n, name)
    x = _resize(x, last, out_n // 2 + 1, name)
    return _C.ops._fft_c2r(x, dims, _normalization(norm, False), out_n)


def fft(input, n=None, dim=-1, norm=None) -> Tensor:
    """1-D DFT along `dim` (complex result)."""
    return _c2c(input, None if n is None else [n], [dim], norm, True, "fft")


def ifft(input, n=None, dim=-1, norm=None) -> Tensor:
    """1-D inverse DFT along `dim`."""
    return _c2c(input, None if n is None else [n], [dim], norm, False, "ifft")


def rfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """1-D DFT of a real signal: the n//2+1 non-negative-frequency bins."""
    return _r2c(input, None if n is None else [n], [dim], norm, "rfft")


def irfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """Inverse of rfft: a real signal of n points (default 2*(m-1) for m bins)."""
    return _c2r(input, None if n is None else [n], [dim], norm, "irfft")


def fft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """2-D DFT over `dim` (the last two dims)."""
    return _c2c(input, s, dim, norm, True, "fft2")


def ifft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """2-D inverse DFT."""
    return _c2c(input, s, dim, norm, False, "ifft2")


def rfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """2-D DFT of a real input, one-sided in the last dim."""
    return _r2c(input, s, dim, norm, "rfft2")


def irfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """Inverse of rfft2."""
    return _c2r(input, s, dim, norm, "irfft2")


def fftn(input, s=None, dim=None, norm=None) -> Tensor:
    """N-D DFT over `dim` (all dims by default, or the last len(s))."""
    return _c2c(input, s, dim, norm, True, "fftn")


def ifftn(input, s=None, dim=None, norm=None) -> Tensor:
    """N-D inverse DFT."""
    return _c2c(input, s, dim, norm, False, "ifftn")


def rfftn(input, s=None, dim=None, norm=None) -> Tensor:
    """N-D DFT of a real input, one-sided in the last transformed dim."""
    return _r2c(input, s, dim, norm, "rfftn")


def irfftn(input, s=None, dim=None, norm=None) -> Tensor:
    """Inverse of rfftn."""
    return _c2r(input, s, dim, norm, "irfftn")


def _check_n(n, name):
    if not isinstance(n, builtins.int) or isinstance(n, builtins.bool) or n < 1:
        raise ValueError(f"{name}(): n must be an int >= 1, got {n!r}")


def fftfreq(n, d=1.0, *, dtype=None, device=None) -> Tensor:
    """Sample frequencies of an n-point DFT with sample spacing d: [0, 1, ..., -1] / (d*n), on `device`."""
    _check_n(n, "fftfreq")
    k = _C.ops.arange(0, n, 1, dtype=_C.int64, device=device)
    k = _C.ops.where(k < (n + 1) // 2, k, k - n) if n > 1 else k
    return k.to(dtype or _C.get_default_dtype()) * (1.0 / (d * n))


def rfftfreq(n, d=1.0, *, dtype=None, device=None) -> Tensor:
    """Sample frequencies of rfft's n//2+1 bins: [0, 1, ..., n//2] / (d*n), on `device`."""
    _check_n(n, "rfftfreq")
    return _C.ops.arange(0, n // 2 + 1, 1, dtype=dtype or _C.get_default_dtype(), device=device) * (1.0 / (d * n))


def _shift(x, dim, sign, name):
    _check_tensor(x, name)
    if dim is None:
        dim = list(range(x.dim()))
    elif isinstance(dim, builtins.int):
        dim = [dim]
    dims = _wrap_dims(x, list(dim), name)
    if not dims:
        return x
    shifts = [(x.shape[d] // 2) if sign > 0 else -(x.shape[d] // 2) for d in dims]
    return _C.ops.roll(x, shifts, dims)


def fftshift(input, dim=None) -> Tensor:
    """Move the zero-frequency bin to the centre of each dim in `dim` (all dims by default)."""
    return _shift(input, dim, 1, "fftshift")


def ifftshift(input, dim=None) -> Tensor:
    """Inverse of fftshift."""
    return _shift(input, dim, -1, "ifftshift")
