"""F.layer_norm / nn.LayerNorm on the layer_norm op (csrc/kernels/cpu/layer_norm.cpp): values and gradients
vs torch in every float dtype, weight/bias optional, several normalized dims, non-contiguous inputs;
gradcheck and gradgradcheck; bit-identical gradients at any thread count; bad arguments."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F
from hyflow.testing import assert_close, gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

# float32 math rounded once to 16 bits: one ulp of the result; float32 sums vs torch's order of adds.
TOL = {"float64": (1e-10, 1e-12), "float32": (1e-5, 1e-5), "bfloat16": (1.6e-2, 2e-2), "float16": (2e-3, 2e-3)}
CASES = [(dt, aff, shape, ns) for dt in TOL for aff in ("both", "weight", "none")
         for shape, ns in (((6, 33), (33,)), ((2, 3, 4, 5), (4, 5)))]


def _pair(rng, shape, dtype, noncontig=False):
    a = rng.standard_normal(shape + ((2,) if noncontig else ())) * 2 + 0.5
    a = a[..., 0] if noncontig else a
    t = torch.tensor(a, dtype=getattr(torch, dtype))
    return hy.from_numpy(t.float().numpy() if dtype in ("bfloat16", "float16") else t.numpy()).to(
        getattr(hy, dtype)), t


def _np(x):
    return x.detach().to(hy.float64).numpy() if isinstance(x, hy.Tensor) else x.detach().double().numpy()


@pytest.mark.parametrize("dtype,affine,shape,ns", CASES, ids=[f"{c[0]}-{c[1]}-{len(c[2])}d" for c in CASES])
def test_matches_torch_values_and_gradients(dtype, affine, shape, ns):
    rng = np.random.default_rng(len(shape) + len(affine))
    x, xt = _pair(rng, shape, dtype, noncontig=len(shape) == 2)
    w = wt = b = bt = None
    if affine in ("both", "weight"):
        w, wt = _pair(rng, ns, dtype)
    if affine == "both":
        b, bt = _pair(rng, ns, dtype)
    for t, tt in ((x, xt), (w, wt), (b, bt)):
        if t is not None:
            t.requires_grad_(True)
            tt.requires_grad_(True)
    out = F.layer_norm(x, ns, w, b, eps=1e-4)
    ref = torch.nn.functional.layer_norm(xt, ns, wt, bt, eps=1e-4)
    assert out.dtype == x.dtype and tuple(out.shape) == tuple(ref.shape)
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(_np(out), _np(ref), rtol=rtol, atol=atol)
    g, gt = _pair(rng, shape, dtype)
    out.backward(g)
    ref.backward(gt)
    for t, tt in ((x, xt), (w, wt), (b, bt)):
        if t is not None:
            assert t.grad.dtype == t.dtype
            # weight/bias gradients sum over the rows: allow the sum's rounding
            scale = 1 if t is x else 4
            np.testing.assert_allclose(_np(t.grad), _np(tt.grad), rtol=rtol * scale, atol=atol * scale * 4)


def test_module_matches_torch_and_keeps_its_repr():
    rng = np.random.default_rng(0)
    hm, tm = nn.LayerNorm((3, 4), eps=1e-6), torch.nn.LayerNorm((3, 4), eps=1e-6)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(rng.standard_normal((3, 4))))
        tm.bias.copy_(torch.tensor(rng.standard_normal((3, 4))))
    hm.load_state_dict({k: hy.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(hm(hy.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
    assert repr(hm) == "LayerNorm((3, 4), eps=1e-06, elementwise_affine=True)"
    assert nn.LayerNorm(4, elementwise_affine=False)(hy.randn(2, 4)).shape == (2, 4)


@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_gradcheck_and_gradgradcheck(affine):
    rng = np.random.default_rng(3)
    x = hy.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = hy.tensor(rng.standard_normal((2, 4)), requires_grad=True) if affine in ("both", "weight") else None
    b = hy.tensor(rng.standard_normal((2, 4)), requires_grad=True) if affine in ("both", "bias") else None
    inputs = [t for t in (x, w, b) if t is not None]

    def fn(*ts):
        it = iter(ts)
        xi = next(it)
        wi = next(it) if w is not None else None
        bi = next(it) if b is not None else None
        return F.layer_norm(xi, (2, 4), wi, bi, eps=1e-3)

    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_op_returns_torch_statistics():
    # hy.ops.layer_norm returns (out, mean, rstd) like torch.native_layer_norm; 16-bit inputs keep float32
    # statistics.
    rng = np.random.default_rng(1)
    x, xt = _pair(rng, (4, 3, 8), "float32")
    out, mean, rstd = hy.ops.layer_norm(x, [3, 8], None, None, 1e-5)
    _, tmean, trstd = torch.native_layer_norm(xt, (3, 8), None, None, 1e-5)
    assert tuple(mean.shape) == tuple(tmean.shape) == (4, 1, 1)
    np.testing.assert_allclose(mean.numpy(), tmean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rstd.numpy(), trstd.numpy(), rtol=1e-5, atol=1e-6)
    _, m16, r16 = hy.ops.layer_norm(x.to(hy.bfloat16), [8], None, None, 1e-5)
    assert m16.dtype == r16.dtype == hy.float32


def test_bfloat16_input_with_float32_parameters():
    # The usual mixed-precision layout: bf16 activations, float32 weight/bias (and their float32 gradients).
    rng = np.random.default_rng(2)
    x, xt = _pair(rng, (8, 64), "bfloat16")
    w, wt = _pair(rng, (64,), "float32")
    b, bt = _pair(rng, (64,), "float32")
    w.requires_grad_(True)
    wt.requires_grad_(True)
    out = F.layer_norm(x, (64,), w, b)
    ref = torch.nn.functional.layer_norm(xt, (64,), wt, bt)
    assert out.dtype == hy.bfloat16
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1.6e-2, atol=3e-2)
    out.float().sum().backward()
    ref.float().sum().backward()
    assert w.grad.dtype == hy.float32
    np.testing.assert_allclose(_np(w.grad), _np(wt.grad), rtol=2e-2, atol=1e-1)


def test_bfloat16_matches_float32_math_rounded_once():
    # 16-bit rows are widened per row and computed in float32: the result is the float32 kernel's,
    # rounded once (the same arithmetic on the same widened values).
    rng = np.random.default_rng(6)
    x = hy.tensor(rng.standard_normal((50, 300)).astype(np.float32)).to(hy.bfloat16)
    w, b = hy.randn(300).to(hy.bfloat16), hy.randn(300).to(hy.bfloat16)
    low = F.layer_norm(x, (300,), w, b)
    wide = F.layer_norm(x.float(), (300,), w.float(), b.float()).to(hy.bfloat16)
    assert np.array_equal(low.float().numpy(), wide.float().numpy())


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_gradients_are_identical_at_any_thread_count(dtype):
    rng = np.random.default_rng(9)
    x = hy.tensor(rng.standard_normal((3000, 96)).astype(np.float32)).to(getattr(hy, dtype))
    g = hy.tensor(rng.standard_normal((3000, 96)).astype(np.float32)).to(getattr(hy, dtype))
    results = []
    before = hy.get_num_threads()
    try:
        for threads in (1, 2, 3):
            hy.set_num_threads(threads)
            w = hy.ones(96, dtype=x.dtype, requires_grad=True)
            b = hy.zeros(96, dtype=x.dtype, requires_grad=True)
            xi = x.clone().requires_grad_(True)
            F.layer_norm(xi, (96,), w, b).backward(g)
            results.append([t.grad.float().numpy() for t in (xi, w, b)])
    finally:
        hy.set_num_threads(before)
    for other in results[1:]:
        for a, e in zip(other, results[0]):
            assert np.array_equal(a, e)


def test_empty_batches():
    out = F.layer_norm(hy.zeros(0, 5), (5,), hy.ones(5, requires_grad=True), hy.zeros(5))
    assert out.shape == (0, 5)
    w = hy.ones(5, requires_grad=True)
    F.layer_norm(hy.zeros(0, 5, requires_grad=True), (5,), w).sum().backward()
    assert np.array_equal(w.grad.numpy(), np.zeros(5, np.float32))


def test_bad_arguments_raise_naming_them():
    x = hy.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"input of shape \(2, 3, 4\) does not end with normalized_shape \(3,\)"):
        F.layer_norm(x, (3,))
    with pytest.raises(ValueError, match="does not end with normalized_shape"):
        F.layer_norm(hy.randn(4), (2, 4))
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) does not match normalized_shape \(4,\)"):
        F.layer_norm(x, (4,), hy.ones(3))
    with pytest.raises(ValueError, match=r"bias of shape \(2, 4\) does not match normalized_shape \(4,\)"):
        F.layer_norm(x, (4,), None, hy.ones(2, 4))
    # dtype mismatches raise RuntimeError, like torch and like linear/conv (the raw op says TypeError)
    with pytest.raises(RuntimeError, match="weight has dtype float64 but input is float32"):
        F.layer_norm(x, (4,), hy.ones(4, dtype=hy.float64))
    with pytest.raises(RuntimeError, match="layer_norm"):
        F.layer_norm(hy.ones(2, 4, dtype=hy.int64), (4,))
    with pytest.raises(TypeError, match="weight has dtype float64 but input is float32"):
        hy.ops.layer_norm(x, [4], hy.ones(4, dtype=hy.float64), None, 1e-5)
    with pytest.raises(ValueError, match="normalized_shape must name at least one dim"):
        hy.ops.layer_norm(x, [], None, None, 1e-5)
    with pytest.raises(ValueError, match="grad_out of shape"):
        hy.ops.layer_norm_backward(hy.randn(2, 4), x, hy.zeros(2, 3, 1), hy.ones(2, 3, 1), [4])
    with pytest.raises(ValueError, match="mean and rstd need 6 elements"):
        hy.ops.layer_norm_backward(x, x, hy.zeros(2), hy.ones(2), [4])
