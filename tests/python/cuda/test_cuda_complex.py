"""Complex tensors on CUDA against the CPU (docs/tensors.md, "Complex tensors"; csrc/cuda/kernels_complex.cpp):
copies and casts, the real/imag views, abs/angle/conj, the constructor, arithmetic with complex and real
operands, comparisons, reductions, factories and the shape ops that move complex elements."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close

COMPLEX = (hy.complex64, hy.complex128)


def rand(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    part = hy.float32 if dtype == hy.complex64 else hy.float64
    return hy.complex(hy.from_numpy(rng.uniform(-2, 2, shape)).to(part), hy.from_numpy(rng.uniform(-2, 2, shape)).to(part))


def same(got, want, **kw):
    assert got.device == "cuda:0", got.device
    assert got.dtype == want.dtype
    assert_close(got.cpu(), want, **kw)


@pytest.mark.parametrize("dtype", COMPLEX)
def test_copies_and_views(dtype):
    x = rand((3, 4, 5), dtype)
    y = x.cuda()
    assert y.dtype == dtype and y.device == "cuda:0"
    assert_close(y.cpu(), x)
    same(y.transpose(0, 2).contiguous(), x.transpose(0, 2).contiguous())
    assert_close(y[:, ::2, 1:].cpu(), x[:, ::2, 1:])  # a strided view comes back through the copy kernel
    same(y.clone(), x)
    same(y.real, x.real)
    same(y.imag, x.imag)
    same(hy.view_as_real(y), hy.view_as_real(x))
    same(hy.view_as_complex(hy.view_as_real(y)), x)
    # writes through the part views land in the complex tensor
    z = y.clone()
    z.real.fill_(1.5)
    z.imag.copy_(x.imag.cuda() * 2)
    w = x.clone()
    w.real.fill_(1.5)
    w.imag.copy_(x.imag * 2)
    same(z, w)


def test_casts_match_the_cpu():
    x = rand((4, 6), hy.complex64)
    r = hy.from_numpy(np.linspace(-3, 3, 24).reshape(4, 6))
    for src, dt in [(x, hy.complex128), (x, hy.float32), (x, hy.float64), (x, hy.int64), (x, hy.bool),
                    (r, hy.complex64), (r, hy.complex128), (r.to(hy.int32), hy.complex64),
                    (x.to(hy.complex128), hy.complex64)]:
        same(src.cuda().to(dt), src.to(dt))
    b = hy.complex(hy.tensor([0.0, 0.0, 1.0]), hy.tensor([0.0, 2.0, 0.0]))
    same(b.cuda().to(hy.bool), b.to(hy.bool))  # true when either part is non-zero


@pytest.mark.parametrize("dtype", COMPLEX)
def test_arithmetic(dtype):
    a, b = rand((3, 4), dtype, seed=1), rand((4,), dtype, seed=2)
    real = hy.from_numpy(np.random.default_rng(3).uniform(1, 2, (3, 4))).to(
        hy.float32 if dtype == hy.complex64 else hy.float64)
    ga, gb, greal = a.cuda(), b.cuda(), real.cuda()
    same(ga + gb, a + b)
    same(ga - gb, a - b)
    same(hy.add(ga, gb, alpha=2.5), hy.add(a, b, alpha=2.5))
    same(hy.sub(ga, gb, alpha=-1.5), hy.sub(a, b, alpha=-1.5))
    same(ga * gb, a * b)
    same(ga / gb, a / b, rtol=1e-5 if dtype == hy.complex64 else 1e-12, atol=1e-6)
    same(ga * greal, a * real)  # a real operand is (x, 0)
    same(greal * ga, real * a)
    same(ga / greal, a / real)
    same(ga + greal, a + real)
    same(ga * 2.5, a * 2.5)  # a Python number
    same(ga - 1, a - 1)
    same(-ga, -a)
    # a float64 operand promotes complex64 to complex128, as on the CPU
    same(rand((3,), hy.complex64).cuda() * hy.ones(3, dtype=hy.float64).cuda(),
         rand((3,), hy.complex64) * hy.ones(3, dtype=hy.float64))
    out = hy.empty(3, 4, dtype=dtype, device="cuda")
    hy.mul(ga, gb, out=out)
    same(out, a * b)
    with pytest.raises(TypeError):  # a real out= refuses a complex result
        hy.mul(ga, gb, out=hy.empty(3, 4, device="cuda"))
    with pytest.raises(TypeError):
        hy.div(ga, gb, rounding_mode="floor")


def test_division_by_zero_matches_the_cpu():
    a = hy.complex(hy.tensor([1.0, -2.0, 0.0]), hy.tensor([1.0, 0.5, 0.0]))
    z = hy.zeros(3, dtype=hy.complex64)
    same(a.cuda() / z.cuda(), a / z, equal_nan=True)


@pytest.mark.parametrize("dtype", COMPLEX)
def test_abs_angle_conj_polar(dtype):
    x = rand((5, 7), dtype, seed=4)
    g = x.cuda()
    same(hy.abs(g), hy.abs(x))
    same(g.abs(), x.abs())
    same(hy.angle(g), hy.angle(x))
    same(hy.conj(g), hy.conj(x))
    same(hy.polar(hy.abs(g), hy.angle(g)), hy.polar(hy.abs(x), hy.angle(x)), rtol=1e-5, atol=1e-6)
    same(hy.complex(g.real, g.imag), x)
    same(hy.complex(g.real, hy.zeros(1, 7, dtype=g.real.dtype, device="cuda")),
         hy.complex(x.real, hy.zeros(1, 7, dtype=x.real.dtype)))  # broadcast parts


def test_comparisons_and_reductions():
    x = rand((4, 5), hy.complex128, seed=5)
    y = x.clone()
    y.real[1, 2].fill_(7.0)
    gx, gy = x.cuda(), y.cuda()
    same(gx == gy, x == y)
    same(gx != gy, x != y)
    same(gx.sum(), x.sum())
    same(gx.sum(dim=0), x.sum(dim=0))
    same(gx.mean(dim=1, keepdim=True), x.mean(dim=1, keepdim=True))
    r = hy.ones(3, 4)
    same(r.cuda().sum(dtype=hy.complex64), r.sum(dtype=hy.complex64))
    with pytest.raises(TypeError):
        gx.sum(dtype=hy.float64)  # a complex tensor sums into a complex dtype, as on the CPU


@pytest.mark.parametrize("dtype", COMPLEX)
def test_factories_fills_and_shape_ops(dtype):
    for make in (hy.zeros, hy.ones, hy.empty):
        t = make(2, 3, dtype=dtype, device="cuda")
        assert t.dtype == dtype and t.device == "cuda:0"
    same(hy.zeros(2, 3, dtype=dtype, device="cuda"), hy.zeros(2, 3, dtype=dtype))
    same(hy.ones(2, 3, dtype=dtype, device="cuda"), hy.ones(2, 3, dtype=dtype))
    same(hy.full((2, 3), 2.5, dtype=dtype, device="cuda"), hy.full((2, 3), 2.5, dtype=dtype))
    x = rand((3, 4), dtype, seed=6)
    g = x.cuda()
    same(g.clone().fill_(3.0), x.clone().fill_(3.0))
    same(g.clone().zero_(), x.clone().zero_())
    same(g.t().clone().fill_(-1.0), x.t().clone().fill_(-1.0))
    same(hy.cat([g, g * 2], dim=1), hy.cat([x, x * 2], dim=1))
    same(hy.stack([g, g], dim=0), hy.stack([x, x], dim=0))
    same(hy.flip(g, [0, 1]), hy.flip(x, [0, 1]))
    same(hy.roll(g, [1, -2], [0, 1]), hy.roll(x, [1, -2], [0, 1]))
    same(g.reshape(12)[3:9:2], x.reshape(12)[3:9:2])


def test_complex_autograd_through_the_device():
    re = hy.randn(4, 5).requires_grad_(True)
    im = hy.randn(4, 5).requires_grad_(True)

    def loss(r, i):
        z = hy.complex(r, i)
        w = z * z.conj() + z / (z + 3)
        return hy.abs(w).sum() + w.real.sum()

    loss(re.cuda(), im.cuda()).backward()
    g_re, g_im = re.grad.clone(), im.grad.clone()
    re.grad, im.grad = None, None
    loss(re, im).backward()
    assert_close(g_re, re.grad, rtol=1e-4, atol=1e-5)
    assert_close(g_im, im.grad, rtol=1e-4, atol=1e-5)


def test_ops_without_complex_support_refuse_clearly():
    g = rand((4,), hy.complex64).cuda()
    with pytest.raises(TypeError):
        hy.exp(g)  # the table's real-only ops refuse complex on every device
    with pytest.raises(TypeError):
        hy.sort(g)
