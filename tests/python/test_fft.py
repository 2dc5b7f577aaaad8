"""hy.fft against numpy.fft and torch.fft: values, n/s/dim/norm handling, gradients (torch's conventions
for rfft/irfft), thread-count independence and the errors of bad arguments (docs/fft.md)."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

NORMS = [None, "backward", "ortho", "forward"]


def _r(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _c(shape, dtype=np.complex128, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _close(got, want, dtype):
    tol = 1e-4 if dtype in (np.float32, np.complex64) else 1e-10
    np.testing.assert_allclose(got.numpy(), want, rtol=tol, atol=tol * max(1.0, np.abs(want).max(initial=0)))


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n", [None, 5, 12])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_fft_ifft_match_numpy(norm, n, dtype):
    x = _c((3, 8), dtype)
    _close(hy.fft.fft(hy.tensor(x), n=n, norm=norm), np.fft.fft(x, n=n, norm=norm), dtype)
    _close(hy.fft.ifft(hy.tensor(x), n=n, dim=0, norm=norm), np.fft.ifft(x, n=n, axis=0, norm=norm), dtype)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n", [None, 7, 10, 17])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rfft_irfft_match_numpy(norm, n, dtype):
    x = _r((4, 10), dtype)
    X = hy.fft.rfft(hy.tensor(x), n=n, norm=norm)
    assert X.dtype == (hy.complex64 if dtype == np.float32 else hy.complex128)
    _close(X, np.fft.rfft(x, n=n, norm=norm), dtype)
    Xn = np.fft.rfft(x)
    _close(hy.fft.irfft(hy.tensor(Xn.astype(np.complex64 if dtype == np.float32 else np.complex128)), n=n, norm=norm),
           np.fft.irfft(Xn, n=n, norm=norm), dtype)


def test_fft_of_real_and_integer_inputs():
    x = _r((6,))
    _close(hy.fft.fft(hy.tensor(x)), np.fft.fft(x), np.float64)
    i = np.arange(8)
    out = hy.fft.fft(hy.tensor(i))
    assert out.dtype == hy.complex64
    _close(out, np.fft.fft(i), np.float32)


@pytest.mark.parametrize("norm", NORMS)
def test_2d_and_nd_transforms_match_numpy(norm):
    x, z = _r((3, 6, 5)), _c((3, 6, 5))
    _close(hy.fft.fft2(hy.tensor(z), norm=norm), np.fft.fft2(z, norm=norm), np.float64)
    _close(hy.fft.ifft2(hy.tensor(z), norm=norm), np.fft.ifft2(z, norm=norm), np.float64)
    _close(hy.fft.fftn(hy.tensor(z), norm=norm), np.fft.fftn(z, norm=norm), np.float64)
    _close(hy.fft.ifftn(hy.tensor(z), s=(4, 7), norm=norm), np.fft.ifftn(z, s=(4, 7), axes=(1, 2), norm=norm), np.float64)
    _close(hy.fft.rfft2(hy.tensor(x), norm=norm), np.fft.rfft2(x, norm=norm), np.float64)
    _close(hy.fft.rfftn(hy.tensor(x), dim=(0, 2), norm=norm), np.fft.rfftn(x, axes=(0, 2), norm=norm), np.float64)
    X = np.fft.rfft2(x)
    _close(hy.fft.irfft2(hy.tensor(X), s=(6, 5), norm=norm), np.fft.irfft2(X, s=(6, 5), norm=norm), np.float64)
    _close(hy.fft.irfftn(hy.tensor(X), norm=norm), np.fft.irfftn(X, norm=norm), np.float64)


def test_middle_dims_of_batched_tensors():
    # the column-block path: a transformed dim with many (not a multiple of the block) trailing elements
    z, x = _c((2, 9, 37)), _r((3, 10, 21))
    _close(hy.fft.fft(hy.tensor(z), dim=1), np.fft.fft(z, axis=1), np.float64)
    _close(hy.fft.ifft(hy.tensor(z)[:, :, 3:30], dim=1, norm="ortho"), np.fft.ifft(z[:, :, 3:30], axis=1, norm="ortho"),
           np.float64)
    _close(hy.fft.rfft(hy.tensor(x), dim=1), np.fft.rfft(x, axis=1), np.float64)
    X = np.fft.rfft(x, axis=1)
    _close(hy.fft.irfft(hy.tensor(X), n=10, dim=1), np.fft.irfft(X, n=10, axis=1), np.float64)
    _close(hy.fft.rfftn(hy.tensor(x), dim=(2, 0)), np.fft.rfftn(x, axes=(2, 0)), np.float64)


def test_round_trips():
    x = _r((16, 12))
    _close(hy.fft.irfft2(hy.fft.rfft2(hy.tensor(x)), s=x.shape), x, np.float64)
    z = _c((5, 9))
    _close(hy.fft.ifftn(hy.fft.fftn(hy.tensor(z))), z, np.float64)


def test_prime_and_large_sizes():
    for n in (1, 2, 13, 97, 1000):
        x = _r((n,))
        _close(hy.fft.rfft(hy.tensor(x)), np.fft.rfft(x), np.float64)


def test_freqs_and_shifts_match_numpy():
    for n in (1, 6, 7):
        _close(hy.fft.fftfreq(n, d=0.5, dtype=hy.float64), np.fft.fftfreq(n, d=0.5), np.float64)
        _close(hy.fft.rfftfreq(n, dtype=hy.float64), np.fft.rfftfreq(n), np.float64)
    x = _r((5, 6))
    np.testing.assert_array_equal(hy.fft.fftshift(hy.tensor(x)).numpy(), np.fft.fftshift(x))
    np.testing.assert_array_equal(hy.fft.ifftshift(hy.tensor(x), dim=1).numpy(), np.fft.ifftshift(x, axes=1))
    z = _c((7,))
    np.testing.assert_array_equal(hy.fft.fftshift(hy.tensor(z)).numpy(), np.fft.fftshift(z))


def _leaf(shape, seed=0):
    return hy.tensor(_r(shape, seed=seed)).requires_grad_(True)


@pytest.mark.parametrize("norm", NORMS)
def test_gradcheck_complex_input(norm):
    # a complex input built from real leaves: pairs (re, im) in the last dim
    f = lambda a: hy.view_as_real(hy.fft.fft2(hy.view_as_complex(a), norm=norm))  # noqa: E731
    assert gradcheck(f, (_leaf((3, 4, 2)),))
    assert gradgradcheck(f, (_leaf((3, 4, 2)),))
    g = lambda a: hy.view_as_real(hy.ops._fft_c2c_backward(hy.view_as_complex(a), [0], 1, True))  # noqa: E731
    assert gradcheck(g, (_leaf((5, 2)),))


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("shape", [(4, 6), (3, 5)])
def test_gradcheck_real_input(norm, shape):
    assert gradcheck(lambda a: hy.view_as_real(hy.fft.rfft2(a, norm=norm)), (_leaf(shape),))
    assert gradcheck(lambda a: hy.view_as_real(hy.fft.fft(a, norm=norm)), (_leaf(shape),))
    assert gradgradcheck(lambda a: hy.view_as_real(hy.fft.rfft(a, norm=norm)), (_leaf(shape),))


@pytest.mark.parametrize("n", [6, 7])
def test_gradcheck_irfft(n):
    f = lambda a: hy.fft.irfft(hy.view_as_complex(a), n=n, norm="ortho")  # noqa: E731
    assert gradcheck(f, (_leaf((3, n // 2 + 1, 2)),))
    assert gradgradcheck(f, (_leaf((3, n // 2 + 1, 2)),))


def test_gradients_equal_torch():
    x = _r((4, 6))
    w = _c((4, 4), seed=3)
    hx = hy.tensor(x).requires_grad_(True)
    y = hy.fft.rfft2(hx)
    (hy.view_as_real(y) * hy.view_as_real(hy.tensor(w))).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    (torch.view_as_real(torch.fft.rfft2(tx)) * torch.view_as_real(torch.tensor(w))).sum().backward()
    np.testing.assert_allclose(hx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    X = _c((4, 4), seed=4)
    hz = hy.tensor(np.stack([X.real, X.imag], -1)).requires_grad_(True)
    (hy.fft.irfft(hy.view_as_complex(hz), n=6) * hy.tensor(x)).sum().backward()
    tz = torch.tensor(np.stack([X.real, X.imag], -1), requires_grad=True)
    (torch.fft.irfft(torch.view_as_complex(tz), n=6) * torch.tensor(x)).sum().backward()
    np.testing.assert_allclose(hz.grad.numpy(), tz.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_same_result_at_any_thread_count():
    x = hy.tensor(_r((64, 96), np.float32))
    before = hy.get_num_threads()
    try:
        hy.set_num_threads(1)
        one = hy.fft.rfft2(x).numpy()
        hy.set_num_threads(max(2, before))
        many = hy.fft.rfft2(x).numpy()
    finally:
        hy.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: hy.fft.fft(x, norm="sideways"), ValueError, "normalization mode"),
    (lambda x: hy.fft.fft(x, n=0), ValueError, "number of data points"),
    (lambda x: hy.fft.fft(x, dim=2), IndexError, "out of range"),
    (lambda x: hy.fft.fft2(x, dim=(0, 0)), ValueError, "more than once"),
    (lambda x: hy.fft.fftn(x, s=(3,), dim=(0, 1)), ValueError, "must match"),
    (lambda x: hy.fft.rfft(x.to(hy.complex64)), TypeError, "real input"),
    (lambda x: hy.fft.irfft(x.to(hy.complex64), n=-1), ValueError, "data points"),
    (lambda x: hy.fft.fft(hy.tensor(1.0)), IndexError, "0-d"),
    (lambda x: hy.fft.fftfreq(0), ValueError, "n must be"),
    (lambda x: hy.ops._fft_c2c(x.to(hy.complex64), [0], 3, True), ValueError, "normalization"),
    (lambda x: hy.ops._fft_c2r(x.to(hy.complex64), [1], 0, 20), ValueError, "bins"),
    (lambda x: hy.fft.fft([1.0, 2.0]), TypeError, "Tensor"),
])
def test_bad_arguments_raise_clearly(call, exc, match):
    with pytest.raises(exc, match=match):
        call(hy.ones(4, 6))


@pytest.mark.parametrize("n", [8, 9, 10, 12])
def test_irfft_ignores_the_imaginary_parts_of_dc_and_nyquist(n):
    # arbitrary (non-Hermitian-consistent) half spectra, as numpy and torch read them
    X = _c((3, n // 2 + 1), seed=7)
    _close(hy.fft.irfft(hy.tensor(X), n=n), np.fft.irfft(X, n=n), np.float64)
    _close(hy.fft.irfft2(hy.tensor(_c((4, n // 2 + 1))), s=(4, n)), np.fft.irfft2(_c((4, n // 2 + 1)), s=(4, n)),
           np.float64)


# Power-of-two lengths run on hyflow's own lane-blocked kernels (csrc/kernels/cpu/fft_lanes.h), kLanes = 16
# signals per block: these cover both radix passes (log2 n even and odd), blocks with missing lanes (row
# counts and column counts that are not multiples of 16, fewer than 16), columns that cross slabs, and
# the real transforms' half-length trick including full (two-sided) spectra. Both dtypes: the AVX-512
# build moves 16 full rows as 16x16 tiles of floats or 8x8 tiles of doubles (fft_lane_io.h), and the
# rest (short rows, missing lanes, the h+1'th bin) with scalar loops.
@pytest.mark.parametrize("n", [2, 4, 8, 32, 64, 512])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_power_of_two_c2c_rows_and_columns(n, dtype):
    for shape, axis in [((3, n), -1), ((17, n), -1), ((2, n, 5), 1), ((3, n, 19), 1), ((n, 40), 0)]:
        z = _c(shape, dtype, seed=n)
        _close(hy.fft.fft(hy.tensor(z), dim=axis), np.fft.fft(z, axis=axis), dtype)
        _close(hy.fft.ifft(hy.tensor(z), dim=axis, norm="ortho"), np.fft.ifft(z, axis=axis, norm="ortho"), dtype)


@pytest.mark.parametrize("n", [4, 8, 16, 128, 1024])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_power_of_two_real_transforms(n, dtype):
    cdtype = np.complex64 if dtype == np.float32 else np.complex128
    for rows in (1, 5, 16, 33):
        x = _r((rows, n), dtype, seed=rows)
        _close(hy.fft.rfft(hy.tensor(x)), np.fft.rfft(x), dtype)
        _close(hy.fft.fft(hy.tensor(x)), np.fft.fft(x), dtype)  # real input, full spectrum
        X = _c((rows, n // 2 + 1), cdtype, seed=rows + 1)       # not Hermitian-consistent at DC/Nyquist
        _close(hy.fft.irfft(hy.tensor(X), n=n, norm="forward"), np.fft.irfft(X, n=n, norm="forward"), dtype)
    x = _r((n, 2 * n if n <= 128 else 16), dtype, seed=3)
    _close(hy.fft.rfft2(hy.tensor(x)), np.fft.rfft2(x), dtype)
    _close(hy.fft.irfft2(hy.fft.rfft2(hy.tensor(x)), s=x.shape), x, dtype)


@pytest.mark.parametrize("real, cplx", [(np.float32, np.complex64), (np.float64, np.complex128)])
def test_power_of_two_results_are_the_same_at_any_thread_count(real, cplx):
    x = hy.tensor(_r((256, 256), real))
    z = hy.tensor(_c((40, 64, 24), cplx))
    before = hy.get_num_threads()
    try:
        hy.set_num_threads(1)
        one = [hy.fft.rfft2(x).numpy(), hy.fft.irfft2(hy.fft.rfft2(x)).numpy(), hy.fft.fftn(z).numpy()]
        hy.set_num_threads(max(2, before))
        many = [hy.fft.rfft2(x).numpy(), hy.fft.irfft2(hy.fft.rfft2(x)).numpy(), hy.fft.fftn(z).numpy()]
    finally:
        hy.set_num_threads(before)
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a, b)
