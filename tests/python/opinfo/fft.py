"""Discrete Fourier transforms (csrc/ops/table/fft.yaml) against numpy.fft: the three building blocks that
hy.fft's functions call (docs/fft.md), with NumPy's normalizations (0: none, 1: 1/sqrt(n), 2: 1/n over the
transformed sizes). Gradients (and the *_backward ops) are gradchecked in test_fft.py and
test_autograd_ops.py, which also compare the public functions with torch.fft."""
import numpy as np

from . import COMPLEX, OpInfo, Sample, rand_array

TOL = {"float32": (2e-5, 2e-4), "complex64": (2e-5, 2e-4)}
_NORM = {0: "backward", 1: "ortho", 2: "forward"}   # hyflow normalization -> numpy norm (forward transform)
_INV = {0: "forward", 1: "ortho", 2: "backward"}    # the same scaling, seen from numpy's inverse transform


def ref_c2c(x, dim, normalization, forward):
    if forward:
        return np.fft.fftn(x, axes=dim, norm=_NORM[normalization]).astype(x.dtype)
    # hyflow's inverse applies `normalization` itself; numpy's ifftn divides by n for norm="backward".
    return np.fft.ifftn(x, axes=dim, norm=_INV[normalization]).astype(x.dtype)


def ref_r2c(x, dim, normalization, onesided):
    out = np.fft.fftn(x, axes=dim, norm=_NORM[normalization])
    if onesided:
        last = dim[-1] % x.ndim
        out = np.take(out, np.arange(x.shape[last] // 2 + 1), axis=last)
    return out.astype(np.complex64 if x.dtype == np.float32 else np.complex128)


def ref_c2r(x, dim, normalization, last_dim_size):
    axes = [d % x.ndim for d in dim]
    s = [x.shape[a] for a in axes[:-1]] + [last_dim_size]
    return np.fft.irfftn(x, s=s, axes=axes, norm=_INV[normalization]).astype(
        np.float32 if x.dtype == np.complex64 else np.float64)


def c2c_samples(dtype, rng):
    a = lambda *s, nc=False: rand_array(rng, s, dtype, -1, 1, nc)  # noqa: E731
    yield Sample((a(16), [0], 0, True), desc="1-D, power of two")
    yield Sample((a(12), [0], 2, False), desc="1-D inverse, n=12 (not a power of two), 1/n")
    yield Sample((a(3, 8, 10), [1, 2], 1, True), desc="2-D over the last dims, ortho")
    yield Sample((a(6, 5, nc=True), [0], 0, False), desc="non-contiguous, inverse down dim 0")
    yield Sample((a(4, 9), [1], 0, True), desc="last dim, n=9")


def r2c_samples(dtype, rng):
    a = lambda *s, nc=False: rand_array(rng, s, dtype, -1, 1, nc)  # noqa: E731
    yield Sample((a(32), [0], 0, True), desc="1-D onesided")
    yield Sample((a(15), [0], 2, False), desc="1-D full spectrum, odd n, 1/n")
    yield Sample((a(2, 16, 12), [1, 2], 1, True), desc="2-D onesided, ortho")
    yield Sample((a(8, 6, nc=True), [0, 1], 0, True), desc="non-contiguous")
    yield Sample((a(5, 7), [0], 0, True), desc="down dim 0 (onesided over it), odd n")


def c2r_samples(dtype, rng):
    a = lambda *s, nc=False: rand_array(rng, s, dtype, -1, 1, nc)  # noqa: E731
    yield Sample((a(9), [0], 2, 16), desc="1-D, 16 real outputs, 1/n")
    yield Sample((a(8), [0], 0, 15), desc="1-D, odd real size")
    yield Sample((a(2, 6, 7), [1, 2], 1, 12), desc="2-D, ortho")
    yield Sample((a(6, 5, nc=True), [0, 1], 0, 8), desc="non-contiguous")


OPS = [
    OpInfo("_fft_c2c", ref_c2c, c2c_samples, COMPLEX, tol=TOL, grad=False),
    OpInfo("_fft_r2c", ref_r2c, r2c_samples, ("float32", "float64"), tol=TOL, grad=False),
    OpInfo("_fft_c2r", ref_c2r, c2r_samples, COMPLEX, tol=TOL, grad=False),
]
