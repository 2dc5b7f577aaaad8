"""The FFTs on CUDA (cuFFT, csrc/cuda/cufft/) against the CPU ops (docs/fft.md): 1-D, 2-D and n-D
transforms, real transforms of odd and even sizes, the three norms, batches, non-contiguous inputs,
non-Hermitian c2r inputs (which must mean what they mean on the CPU), gradients, streams, the plan cache
and the errors. Skipped without a GPU (conftest.py) and in builds without cuFFT."""
import numpy as np
import pytest

import hyflow as hy

pytestmark = pytest.mark.skipif(not hy.build_info()["cufft"], reason="hyflow was built without cuFFT")

NORMS = (None, "ortho", "forward")
REAL = (hy.float32, hy.float64)
COMPLEX = (hy.complex64, hy.complex128)
# Relative to the largest magnitude of the expected result: cuFFT and the CPU kernels factor the
# transforms differently, so they agree to a few ulp of the result's scale, not element by element.
REL = {hy.float32: 2e-6, hy.complex64: 2e-6, hy.float64: 1e-14, hy.complex128: 1e-14}


def rand(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype in COMPLEX:
        part = hy.float32 if dtype == hy.complex64 else hy.float64
        re = hy.from_numpy(rng.uniform(-1, 1, shape)).to(part)
        im = hy.from_numpy(rng.uniform(-1, 1, shape)).to(part)
        return hy.complex(re, im)
    return hy.from_numpy(rng.uniform(-1, 1, shape)).to(dtype)


def check(got, want, dtype=None):
    """got (CUDA) matches want (CPU) in device, dtype, shape and values."""
    assert got.device == "cuda:0"
    assert got.dtype == want.dtype and tuple(got.shape) == tuple(want.shape)
    g, w = got.cpu().numpy(), want.numpy()
    scale = max(float(np.abs(w).max()) if w.size else 0.0, 1.0)
    n = max(w.size, 2)
    tol = REL[dtype or want.dtype] * scale * np.log2(n) * 4
    err = float(np.abs(g - w).max()) if w.size else 0.0
    assert err <= tol, f"max error {err:.3g} > {tol:.3g}"


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("n", [1, 2, 7, 16, 100, 128, 1000, 1024])
@pytest.mark.parametrize("norm", NORMS)
def test_fft_ifft_1d(dtype, n, norm):
    x = rand((3, n), dtype, seed=n)
    check(hy.fft.fft(x.cuda(), norm=norm), hy.fft.fft(x, norm=norm))
    check(hy.fft.ifft(x.cuda(), norm=norm), hy.fft.ifft(x, norm=norm))


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("n", [1, 2, 3, 8, 15, 16, 17, 100, 257])
@pytest.mark.parametrize("norm", NORMS)
def test_rfft_irfft_odd_and_even(dtype, n, norm):
    x = rand((4, n), dtype, seed=n)
    X = hy.fft.rfft(x, norm=norm)
    check(hy.fft.rfft(x.cuda(), norm=norm), X)
    check(hy.fft.irfft(X.cuda(), n=n, norm=norm), hy.fft.irfft(X, n=n, norm=norm))
    check(hy.fft.fft(x.cuda(), norm=norm), hy.fft.fft(x, norm=norm))  # real input, full spectrum


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("shape,dim", [((33, 17), (-2, -1)), ((3, 16, 12), (-2, -1)), ((5, 6, 7), (0, 2)),
                                       ((8, 9, 10), (2, 0))])
def test_2d_transforms(dtype, shape, dim):
    x = rand(shape, dtype)
    z = x.to(hy.complex64 if dtype == hy.float32 else hy.complex128)
    for norm in NORMS:
        check(hy.fft.fft2(z.cuda(), dim=dim, norm=norm), hy.fft.fft2(z, dim=dim, norm=norm))
        check(hy.fft.ifft2(z.cuda(), dim=dim, norm=norm), hy.fft.ifft2(z, dim=dim, norm=norm))
        X = hy.fft.rfft2(x, dim=dim, norm=norm)
        check(hy.fft.rfft2(x.cuda(), dim=dim, norm=norm), X)
        s = [shape[d] for d in dim]
        check(hy.fft.irfft2(X.cuda(), s=s, dim=dim, norm=norm), hy.fft.irfft2(X, s=s, dim=dim, norm=norm))


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("shape,dim", [((4, 5, 6), None), ((3, 4, 5, 6), None), ((2, 3, 4, 5, 6), (0, 1, 3, 4)),
                                       ((3, 4, 5, 6), (3, 0, 2))])
def test_nd_transforms_more_than_three_dims(dtype, shape, dim):
    # cuFFT takes three dims per call: four and more are done in groups.
    x = rand(shape, dtype)
    z = x.to(hy.complex64 if dtype == hy.float32 else hy.complex128)
    check(hy.fft.fftn(z.cuda(), dim=dim), hy.fft.fftn(z, dim=dim))
    check(hy.fft.ifftn(z.cuda(), dim=dim, norm="ortho"), hy.fft.ifftn(z, dim=dim, norm="ortho"))
    X = hy.fft.rfftn(x, dim=dim)
    check(hy.fft.rfftn(x.cuda(), dim=dim), X)
    dims = list(range(len(shape))) if dim is None else list(dim)
    s = [shape[d] for d in dims]
    check(hy.fft.irfftn(X.cuda(), s=s, dim=dim), hy.fft.irfftn(X, s=s, dim=dim))


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("shape,dim,n", [((4, 9), [1], 16), ((4, 9), [1], 17), ((6, 5), [0, 1], 8),
                                         ((6, 5), [0, 1], 9), ((4, 6, 5), [0, 1, 2], 8), ((3, 4, 6, 5), None, 9)])
def test_c2r_of_non_hermitian_input_means_what_it_means_on_the_cpu(dtype, shape, dim, n):
    # Random half spectra: the imaginary parts of the zero and Nyquist bins are ignored and the other
    # dims are inverted first, on both devices (cuFFT alone would assume an exactly Hermitian input).
    X = rand(shape, dtype, seed=3)
    dims = list(range(len(shape))) if dim is None else dim
    s = [shape[d] for d in dims[:-1]] + [n]
    check(hy.fft.irfftn(X.cuda(), s=s, dim=dims), hy.fft.irfftn(X, s=s, dim=dims))


def test_batched_transforms():
    x = rand((64, 128), hy.float32)
    check(hy.fft.rfft(x.cuda()), hy.fft.rfft(x))
    y = rand((8, 3, 32, 32), hy.float64)
    check(hy.fft.rfft2(y.cuda()), hy.fft.rfft2(y))
    check(hy.fft.irfft2(hy.fft.rfft2(y.cuda()), s=(32, 32)), y)  # the round trip


@pytest.mark.parametrize("dtype", (hy.float32, hy.complex128))
def test_non_contiguous_inputs(dtype):
    x = rand((12, 20), dtype)
    views = {"transposed": lambda t: t.transpose(0, 1), "strided": lambda t: t[::2, 1::3],
             "offset": lambda t: t[3:], "expanded": lambda t: t[:1].expand(5, 20),
             "odd start": lambda t: t.reshape(-1)[1:201].reshape(10, 20)}  # a start cuFFT must not see misaligned
    for name, view in views.items():
        a, b = view(x), view(x.cuda())
        if dtype.is_complex:
            check(hy.fft.fft(b), hy.fft.fft(a))
            check(hy.fft.fft2(b), hy.fft.fft2(a))
        else:
            check(hy.fft.rfft(b), hy.fft.rfft(a))
            check(hy.fft.rfft2(b, dim=(1, 0)), hy.fft.rfft2(a, dim=(1, 0)))
    # The input is never written (cuFFT's C2R overwrites its input; the kernel transforms a copy).
    X = hy.fft.rfft2(rand((6, 8), hy.float32)).cuda()
    before = X.cpu()
    hy.fft.irfft2(X)
    hy.fft.irfft(X)
    check(X, before)


def test_n_and_s_crop_and_pad_on_the_device():
    x = rand((5, 10), hy.float32)
    check(hy.fft.rfft(x.cuda(), n=16), hy.fft.rfft(x, n=16))
    check(hy.fft.fft(x.cuda(), n=6), hy.fft.fft(x, n=6))
    check(hy.fft.fftn(x.cuda(), s=(8, 12)), hy.fft.fftn(x, s=(8, 12)))
    X = hy.fft.rfft(x)
    check(hy.fft.irfft(X.cuda(), n=7), hy.fft.irfft(X, n=7))
    k = hy.fft.fftfreq(10, d=0.5, device="cuda")
    assert k.device == "cuda:0"
    np.testing.assert_allclose(k.cpu().numpy(), hy.fft.fftfreq(10, d=0.5).numpy())
    check(hy.fft.fftshift(hy.fft.fft2(x.cuda())), hy.fft.fftshift(hy.fft.fft2(x)))


def test_empty_tensors_and_errors_match_the_cpu():
    z = hy.zeros(0, 8, dtype=hy.complex64)
    check(hy.fft.fft(z.cuda()), hy.fft.fft(z))
    check(hy.fft.rfft(hy.zeros(0, 8).cuda()), hy.fft.rfft(hy.zeros(0, 8)))
    for device in ("cpu", "cuda"):  # the same exception type on both devices
        x = rand((4, 6), hy.float32).to(device)
        c = x.to(hy.complex64)
        for call, err in [(lambda: hy.ops._fft_r2c(c, [1], 0, True), TypeError),
                          (lambda: hy.ops._fft_c2c(x, [1], 0, True), TypeError),
                          (lambda: hy.ops._fft_c2c(c, [2], 0, True), IndexError),
                          (lambda: hy.ops._fft_c2c(c, [1, -1], 0, True), ValueError),
                          (lambda: hy.ops._fft_c2c(c, [1], 3, True), ValueError),
                          (lambda: hy.ops._fft_c2r(c, [1], 0, 7), ValueError),
                          (lambda: hy.ops._fft_r2c(hy.zeros(3, 0, device=device), [1], 0, True), ValueError)]:
            with pytest.raises(err):
                call()


@pytest.mark.parametrize("dtype", REAL)
def test_gradients_match_the_cpu(dtype):
    x = rand((6, 10), dtype, seed=5)

    def loss(t):
        X = hy.fft.rfft2(t, norm="ortho")
        y = hy.fft.irfft(X * X, n=10)
        z = hy.fft.fftn(t)
        return (y * y).sum() + (z.real * z.imag).sum() + hy.abs(hy.fft.ifft(z, dim=0)).sum()

    a = x.clone().requires_grad_(True)
    loss(a).backward()
    b = x.cuda().requires_grad_(True)
    loss(b).backward()
    check(b.grad, a.grad)


def test_gradcheck_through_the_device():
    # CPU leaves moved to the GPU inside the function: finite differences of the CUDA forward against the
    # CUDA backward kernels (and, second order, the backward of the backward).
    from hyflow.testing import gradcheck, gradgradcheck
    x = rand((5, 6), hy.float64).requires_grad_(True)
    f = lambda t: hy.view_as_real(hy.fft.rfft2(t.cuda(), norm="ortho")).cpu()  # noqa: E731
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))
    a = rand((3, 8, 2), hy.float64).requires_grad_(True)
    g = lambda t: hy.fft.irfft(hy.view_as_complex(t.cuda()), n=14).cpu()  # noqa: E731
    assert gradcheck(g, (a,)) and gradgradcheck(g, (a,))
    h = lambda t: hy.view_as_real(hy.fft.fftn(hy.view_as_complex(t.cuda()), norm="forward")).cpu()  # noqa: E731
    assert gradcheck(h, (rand((3, 4, 2), hy.float64).requires_grad_(True),))


def test_runs_on_the_current_stream():
    x = rand((64, 256), hy.complex64)
    s = hy.cuda.Stream()
    xd = x.cuda()
    s.wait_stream(hy.cuda.current_stream())
    with hy.cuda.stream(s):
        y = hy.fft.fft(xd)
        z = hy.fft.irfft(hy.fft.rfft(xd.real), n=256)
    s.synchronize()
    check(y, hy.fft.fft(x))
    check(z, x.real.contiguous())


def test_plan_cache():
    cache = hy.backends.cuda.cufft_plan_cache
    saved = cache.max_size
    assert saved == 4096 and cache[0].max_size == saved
    try:
        cache.clear()
        assert cache.size == 0
        x = rand((4, 32), hy.complex64).cuda()
        hy.fft.fft(x)
        assert cache.size == 1
        hy.fft.fft(x)
        hy.fft.ifft(x)  # the same plan serves both directions
        assert cache.size == 1
        hy.fft.fft(rand((4, 33), hy.complex64).cuda())
        hy.fft.rfft(x.real)
        assert cache.size == 3 and cache[0].size == 3 and cache["cuda:0"].size == 3
        cache.max_size = 2  # least recently used plans go
        assert cache.size == 2
        cache.max_size = 0  # no caching: transforms still run
        assert cache.size == 0
        check(hy.fft.fft(x), hy.fft.fft(x.cpu()))
        assert cache.size == 0
        with pytest.raises(ValueError):
            cache.max_size = -1
        with pytest.raises(TypeError):
            cache.max_size = 1.5
    finally:
        cache.max_size = saved
        cache.clear()
