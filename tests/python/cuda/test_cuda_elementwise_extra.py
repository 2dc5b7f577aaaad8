"""The second batch of CUDA elementwise kernels (docs/cuda.md, "Elementwise, second batch"): what the
OpInfo differential of test_cuda_ops.py does not reach — the factories (arange, linspace, eye have no
OpInfo), integer division by zero, out= of another dtype, broadcast inputs that cross many blocks, in-place
variants, number bounds of clamp, and a GELU network training on the GPU."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close

ALL = [hy.bool, hy.int32, hy.int64, hy.float16, hy.bfloat16, hy.float32, hy.float64]


def same(got, want):
    """Bit-for-bit equality of a CUDA result with the CPU's (values, dtype, shape)."""
    assert got.device == "cuda:0"
    assert got.dtype == want.dtype and list(got.shape) == list(want.shape)
    assert got.cpu().tolist() == want.tolist()


@pytest.mark.parametrize("dtype", [None] + ALL)
def test_arange_is_the_cpus_bit_for_bit(dtype):
    for args in [(10,), (0,), (2, 50000, 3), (5, -7, -2), (0.5, 7.25, 0.25), (-3.0, 3.0, 0.1), (1, 2, 0.001)]:
        same(hy.arange(*args, dtype=dtype, device="cuda"), hy.arange(*args, dtype=dtype))


@pytest.mark.parametrize("dtype", [None] + ALL)
def test_linspace_is_the_cpus_bit_for_bit(dtype):
    for args in [(0, 1, 5), (-3.5, 7, 1001), (2, 2, 1), (0, 10, 0), (1, -1, 4), (0, 1, 100003)]:
        same(hy.linspace(*args, dtype=dtype, device="cuda"), hy.linspace(*args, dtype=dtype))


@pytest.mark.parametrize("dtype", [None] + ALL)
def test_eye(dtype):
    for args in [(3,), (4, 6), (5, 2), (0,), (0, 3), (300, 257)]:
        same(hy.eye(*args, dtype=dtype, device="cuda"), hy.eye(*args, dtype=dtype))


def test_factory_argument_errors_match_the_cpu():
    for fn, args in [(hy.arange, (0, 5, 0)), (hy.arange, (5, 0, 1)), (hy.arange, (0, float("inf"))),
                     (hy.linspace, (0, 1, -1)), (hy.eye, (-1,))]:
        with pytest.raises(ValueError):
            fn(*args)
        with pytest.raises(ValueError):
            fn(*args, device="cuda")
    with pytest.raises(ValueError):  # the last value does not fit int32
        hy.arange(0, 2**40, 2**20, dtype=hy.int32, device="cuda")


@pytest.mark.parametrize("op", ["floor_divide", "remainder"])
@pytest.mark.parametrize("dtype", [hy.int32, hy.int64])
def test_integer_division_by_zero_raises_before_writing(op, dtype):
    fn = getattr(hy.ops, op)
    a = hy.arange(6, dtype=dtype).cuda()
    out = hy.full((6,), 7, dtype=dtype).cuda()
    with pytest.raises(ValueError, match="integer division by zero"):
        fn(a, hy.tensor([1, 2, 0, 1, 1, 3], dtype=dtype).cuda(), out=out)
    assert out.cpu().tolist() == [7] * 6
    with pytest.raises(ValueError, match="integer division by zero"):
        fn(a, 0)  # a Python number: checked on the host
    with pytest.raises(ValueError, match="integer division by zero"):
        fn(a, hy.zeros(1, dtype=dtype).cuda().expand(6))  # a broadcast divisor
    if dtype == hy.int32:
        with pytest.raises(ValueError):  # a Python int the dtype cannot hold (it would wrap to 0)
            fn(a, 2**32)
    # A large divisor without zeros passes (the scan covers every block).
    b = hy.arange(1, 300001, dtype=dtype)
    x = hy.arange(-150000, 150000, dtype=dtype)
    same(fn(x.cuda(), b.cuda()), fn(x, b))
    # Floating division by zero is inf/nan, as on the CPU.
    f = hy.tensor([1.0, -1.0, 0.0, 5.5])
    z = hy.zeros(4)
    assert_close(fn(f.cuda(), z.cuda()).cpu(), fn(f, z), equal_nan=True)


@pytest.mark.parametrize("dtype", [hy.bool, hy.int32, hy.int64, hy.float16, hy.float32, hy.float64])
def test_div_rounding_modes_match_the_cpu(dtype):
    a = hy.tensor([-7, -6, 5, 7, 9, 0, -1])
    b = hy.tensor([2, -4, 3, -2, 9, 5, 3])
    if dtype == hy.bool:
        a, b = a != 0, b != 0
    a, b = a.to(dtype), b.to(dtype)
    for mode in ("trunc", "floor"):
        if dtype == hy.bool and mode == "floor":
            with pytest.raises(TypeError):
                hy.ops.div(a.cuda(), b.cuda(), rounding_mode=mode)
            continue
        same(hy.ops.div(a.cuda(), b.cuda(), rounding_mode=mode), hy.ops.div(a, b, rounding_mode=mode))
    with pytest.raises(ValueError, match="rounding_mode"):
        hy.ops.div(a.cuda(), b.cuda(), rounding_mode="round")


def test_out_of_another_dtype_matches_the_cpu():
    hy.manual_seed(0)
    x = (hy.randn(1000) * 3).to(hy.float16)
    for op in ("expm1", "floor", "sign", "tan", "isnan", "round"):
        want = hy.zeros(1000, dtype=hy.float32)
        getattr(hy.ops, op)(x, out=want)
        got = hy.zeros(1000, dtype=hy.float32, device="cuda")
        r = getattr(hy.ops, op)(x.cuda(), out=got)
        assert r.dtype == hy.float32
        assert_close(got.cpu(), want, rtol=2e-6, atol=1e-6)
    y = hy.randn(1000).to(hy.float16)
    want = hy.zeros(1000, dtype=hy.float32)
    hy.ops.atan2(x, y, out=want)
    got = hy.zeros(1000, dtype=hy.float32, device="cuda")
    hy.ops.atan2(x.cuda(), y.cuda(), out=got)
    assert_close(got.cpu(), want, rtol=1e-6, atol=1e-6)
    # A float16 tensor with a Python float: the number is read as float32, the result rounded once.
    same(hy.ops.remainder(x.cuda(), 0.3), hy.ops.remainder(x, 0.3))
    # Refusals: a float result into an int out (TypeError), a wrong shape (ValueError).
    with pytest.raises(TypeError):
        hy.ops.floor(x.cuda(), out=hy.zeros(1000, dtype=hy.int32, device="cuda"))
    with pytest.raises(ValueError):
        hy.ops.erf(x.cuda(), out=hy.zeros(999, dtype=hy.float16, device="cuda"))


def test_large_broadcast_inputs_cross_blocks():
    hy.manual_seed(3)
    x, y = hy.randn(65, 1, 1031), hy.randn(1, 129, 1)
    c = hy.randn(65, 129, 1) > 0
    xs, ys, cs = x.cuda(), y.cuda(), c.cuda()
    same(hy.where(cs, xs, ys), hy.where(c, x, y))
    same(hy.where(cs, xs, 0.5), hy.where(c, x, 0.5))
    for op in ("relu_backward", "gelu_backward", "atan2", "remainder"):
        assert_close(getattr(hy.ops, op)(xs, ys).cpu(), getattr(hy.ops, op)(x, y), rtol=1e-5, atol=1e-5)
    lo, hi = -hy.rand(1, 129, 1), hy.rand(65, 1, 1031)
    same(hy.ops.clamp_tensor(xs, lo.cuda(), hi.cuda()), hy.ops.clamp_tensor(x, lo, hi))
    same(hy.ops.clamp_tensor(xs, None, hi.cuda()), hy.ops.clamp_tensor(x, None, hi))
    # isclose's bound atol + rtol * |other| may be one fused multiply-add on either device: count, don't match.
    close = hy.ops.isclose(xs, ys, 0.5, 0.1)
    assert tuple(close.shape) == (65, 129, 1031) and close.dtype == hy.bool
    assert (close.cpu() != hy.ops.isclose(x, y, 0.5, 0.1)).sum().item() <= 16
    # Unaligned and strided views of a large dense tensor (the launcher's scalar and strided paths).
    big = hy.randn(3 * 2**20 + 5)
    assert_close(hy.ops.silu(big.cuda()[1:]).cpu(), hy.ops.silu(big[1:]), rtol=1e-5, atol=1e-6)
    assert_close(hy.ops.erf(big.cuda()[::3]).cpu(), hy.ops.erf(big[::3]), rtol=1e-5, atol=1e-6)
    same(hy.ops.sign(big.cuda()[::2]), hy.ops.sign(big[::2]))


def test_where_moves_every_dtype_and_keeps_bits():
    c = hy.tensor([True, False, True, False, True])
    for dt in ALL:
        a = hy.tensor([1, 0, -3, 4, 5]).to(dt)
        b = hy.tensor([0, 9, 1, 1, 0]).to(dt)
        same(hy.where(c.cuda(), a.cuda(), b.cuda()), hy.where(c, a, b))
    neg0 = hy.tensor([-0.0, float("nan")])
    got = hy.where(hy.tensor([True, True]).cuda(), neg0.cuda(), 1.0).cpu()
    assert np.signbit(got.numpy()[0]) and np.isnan(got.numpy()[1])
    with pytest.raises(TypeError, match="condition must be a bool"):
        hy.where(hy.ones(2, device="cuda"), neg0.cuda(), neg0.cuda())


def test_tril_triu_transposed_in_place_and_out():
    x = hy.randn(3, 70, 90)
    xs = x.cuda()
    for diag in (-100, -3, 0, 5, 100):
        same(xs.transpose(1, 2).tril(diag), x.transpose(1, 2).tril(diag))
        same(xs.triu(diag), x.triu(diag))
    y = xs.clone()
    y.triu_(2)
    same(y, x.triu(2))
    out = hy.zeros(3, 70, 90, dtype=hy.float64, device="cuda")
    hy.tril(xs, -1, out=out)
    same(out, x.tril(-1).to(hy.float64))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        hy.tril(hy.ones(4, device="cuda"))


def test_in_place_variants_on_cuda():
    x = hy.randn(4, 5) * 4
    for name in ("floor_", "ceil_", "trunc_", "expm1_", "erf_", "reciprocal_", "sign_"):
        want = getattr(x.clone(), name)()
        got = x.cuda()
        getattr(got, name)()
        assert_close(got.cpu(), want, rtol=1e-6, atol=1e-6)
    want = x.clone().clamp_(-1.5, 2.0)
    got = x.cuda()
    got.clamp_(-1.5, 2.0)
    same(got, want)
    i = hy.arange(-10, 10, dtype=hy.int32)
    got = i.cuda()
    got.bitwise_not_()
    same(got, hy.ops.bitwise_not(i))


def test_clamp_number_bounds_convert_like_the_cpu():
    x = hy.tensor([2**62, -(2**62), 5, 2**60 + 3])
    same(hy.clamp(x.cuda(), None, 2**60 + 1), hy.clamp(x, None, 2**60 + 1))  # exact beyond 2**53
    h = (hy.randn(1000) * 0.3).to(hy.float16)
    same(hy.clamp(h.cuda(), -0.1, 0.3), hy.clamp(h, -0.1, 0.3))  # bounds as float32, one rounding
    i = hy.arange(-5, 5, dtype=hy.int32)
    same(hy.clamp(i.cuda(), -1.5, 2.5), hy.clamp(i, -1.5, 2.5))  # float bounds promote to float32
    same(hy.clamp(i.cuda(), 3, -3), hy.clamp(i, 3, -3))  # min > max gives max
    f = hy.tensor([1.0, float("nan"), -2.0])
    assert_close(hy.clamp(f.cuda(), float("nan"), None).cpu(), hy.clamp(f, float("nan"), None), equal_nan=True)
    with pytest.raises(ValueError):
        hy.clamp(i.cuda(), None, 2**40)
    b = hy.ones(3, dtype=hy.bool)
    try:
        want = hy.clamp(b, True, None)
    except TypeError:
        with pytest.raises(TypeError):
            hy.clamp(b.cuda(), True, None)
    else:
        same(hy.clamp(b.cuda(), True, None), want)


def test_round_decimals_match_the_cpu():
    f = hy.randn(2000) * 1000
    for d in (-3, -1, 0, 1, 2, 5):
        for dt in (hy.float16, hy.bfloat16, hy.float32, hy.float64):
            same(hy.round(f.to(dt).cuda(), d), hy.round(f.to(dt), d))
    i = hy.arange(-20000, 20000, 7, dtype=hy.int64)
    for d in (-19, -4, -2, -1, 0, 3):
        same(hy.round(i.cuda(), d), hy.round(i, d))
        same(hy.round(i.to(hy.int32).cuda(), d), hy.round(i.to(hy.int32), d))


def test_gelu_network_trains_on_cuda_like_on_the_cpu():
    hy.manual_seed(0)
    model = hy.nn.Sequential(hy.nn.Linear(8, 32), hy.nn.GELU(), hy.nn.Linear(32, 32), hy.nn.ReLU(),
                             hy.nn.Linear(32, 1))
    cpu_model = hy.nn.Sequential(hy.nn.Linear(8, 32), hy.nn.GELU(), hy.nn.Linear(32, 32), hy.nn.ReLU(),
                                 hy.nn.Linear(32, 1))
    cpu_model.load_state_dict(model.state_dict())
    model = model.to("cuda")
    x, target = hy.randn(64, 8), hy.randn(64, 1)
    gx, gt = x.cuda(), target.cuda()
    opt = hy.optim.SGD(model.parameters(), lr=0.05)
    cpu_opt = hy.optim.SGD(cpu_model.parameters(), lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        loss = ((model(gx) - gt) ** 2).mean()
        loss.backward()
        opt.step()
        cpu_opt.zero_grad()
        cpu_loss = ((cpu_model(x) - target) ** 2).mean()
        cpu_loss.backward()
        cpu_opt.step()
        assert abs(loss.item() - cpu_loss.item()) < 1e-4 * max(1.0, abs(cpu_loss.item()))
