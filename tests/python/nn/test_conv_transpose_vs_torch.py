"""F.conv_transpose2d / conv_transpose1d and nn.ConvTranspose2d / ConvTranspose1d against torch: forward and
gradients over stride, padding, output_padding, groups, dilation and bias; gradcheck in float64; torch's
argument errors."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F
from hyflow.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# (N, C_in, H, W, C_out, (kh, kw), stride, padding, output_padding, groups, dilation, bias)
CONFIGS = [
    (2, 3, 5, 5, 4, (3, 3), 1, 0, 0, 1, 1, True),
    (2, 3, 4, 6, 2, (3, 2), 2, 1, 1, 1, 1, True),
    (1, 4, 5, 4, 6, (2, 3), (2, 3), (1, 0), (1, 2), 2, 1, False),
    (3, 6, 4, 4, 3, (3, 3), 2, 2, 0, 3, 2, True),
    (1, 2, 3, 5, 4, (2, 2), 1, 0, (1, 2), 2, 3, True),      # output_padding >= stride, < dilation
    (2, 8, 7, 3, 8, (1, 1), 3, 0, 2, 8, 1, True),            # depthwise 1x1, stride 3
    (1, 1, 1, 1, 1, (4, 4), 1, 0, 0, 1, 1, False),           # one pixel: the kernel itself
    (4, 5, 9, 9, 7, (5, 5), 2, 2, 1, 1, 1, True),
]


def _ids(c):
    n, cin, h, w, cout, k, s, p, op, g, d, b = c
    return f"n{n}-c{cin}to{cout}-{h}x{w}-k{k}-s{s}-p{p}-op{op}-g{g}-d{d}-{'b' if b else 'nb'}"


def _make(cfg, dtype, seed=0):
    n, cin, h, w, cout, k, s, p, op, g, d, bias = cfg
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, h, w))
    wt = rng.standard_normal((cin, cout // g) + k)
    b = rng.standard_normal(cout) if bias else None
    kwargs = dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    return x.astype(dtype), wt.astype(dtype), None if b is None else b.astype(dtype), kwargs


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 2e-5)])
@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_forward_and_gradients_match_torch(cfg, dtype, tol):
    x, w, b, kw = _make(cfg, dtype)
    hx, hw = hy.tensor(x).requires_grad_(True), hy.tensor(w).requires_grad_(True)
    hb = None if b is None else hy.tensor(b).requires_grad_(True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    y, ty = F.conv_transpose2d(hx, hw, hb, **kw), TF.conv_transpose2d(tx, tw, tb, **kw)
    assert tuple(y.shape) == tuple(ty.shape) and y.dtype == hx.dtype
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    g = np.random.default_rng(1).standard_normal(tuple(ty.shape)).astype(dtype)
    y.backward(hy.tensor(g))
    ty.backward(torch.tensor(g))
    for mine, theirs in ((hx, tx), (hw, tw), (hb, tb)):
        if mine is not None:
            np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("cfg", [CONFIGS[1], CONFIGS[3], CONFIGS[4]], ids=_ids)
def test_gradcheck_and_gradgradcheck_float64(cfg):
    n, cin, h, w, cout, k, s, p, op, g, d, bias = cfg
    small = (1, cin, min(h, 3), min(w, 3), cout, k, s, p, op, g, d, bias)
    x, wt, b, kw = _make(small, np.float64, seed=3)
    inputs = (hy.tensor(x).requires_grad_(True), hy.tensor(wt).requires_grad_(True))
    inputs += (hy.tensor(b).requires_grad_(True),) if b is not None else ()

    def fn(*a):
        return F.conv_transpose2d(a[0], a[1], a[2] if len(a) > 2 else None, **kw)
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)
    assert gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("dtype", [hy.float16, hy.bfloat16])
def test_low_precision_rounds_the_float32_result(dtype):
    x, w, b, kw = _make(CONFIGS[1], np.float32)
    ref = F.conv_transpose2d(hy.tensor(x), hy.tensor(w), hy.tensor(b), **kw)
    low = F.conv_transpose2d(hy.tensor(x).to(dtype), hy.tensor(w).to(dtype), hy.tensor(b).to(dtype), **kw)
    assert low.dtype == dtype
    exact = F.conv_transpose2d(hy.tensor(x).to(dtype).float(), hy.tensor(w).to(dtype).float(),
                               hy.tensor(b).to(dtype).float(), **kw)
    np.testing.assert_array_equal(low.float().numpy(), exact.to(dtype).float().numpy())  # computed in float32
    np.testing.assert_allclose(low.float().numpy(), ref.numpy(), rtol=0.1, atol=0.3)


def test_unbatched_input_and_large_batch_blocks():
    x, w, b, kw = _make(CONFIGS[0], np.float32)
    y = F.conv_transpose2d(hy.tensor(x[0]), hy.tensor(w), hy.tensor(b), **kw)
    np.testing.assert_allclose(y.numpy(), TF.conv_transpose2d(torch.tensor(x[0]), torch.tensor(w), torch.tensor(b),
                                                              **kw).numpy(), rtol=1e-5, atol=1e-5)
    # a batch whose patch rows exceed one block (4 MiB): several GEMM + scatter steps
    rng = np.random.default_rng(5)
    xb, wb = rng.standard_normal((40, 8, 16, 16)).astype(np.float32), rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(F.conv_transpose2d(hy.tensor(xb), hy.tensor(wb), stride=2).numpy(),
                               TF.conv_transpose2d(torch.tensor(xb), torch.tensor(wb), stride=2).numpy(),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups",
                         [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (3, 2, 2, 2, 2), (1, 0, 1, 2, 2)])
def test_conv_transpose1d_matches_torch(stride, padding, output_padding, dilation, groups):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 4, 6)), rng.standard_normal((4, 6 // groups, 3)), rng.standard_normal(6)
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    hx = hy.tensor(x).requires_grad_(True)
    tx = torch.tensor(x, requires_grad=True)
    y = F.conv_transpose1d(hx, hy.tensor(w), hy.tensor(b), **kw)
    ty = TF.conv_transpose1d(tx, torch.tensor(w), torch.tensor(b), **kw)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(hx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    y1 = F.conv_transpose1d(hy.tensor(x[0]), hy.tensor(w), None, **kw)   # unbatched (C, L)
    np.testing.assert_allclose(y1.numpy(), TF.conv_transpose1d(torch.tensor(x[0]), torch.tensor(w), None,
                                                               **kw).numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cls", ["ConvTranspose2d", "ConvTranspose1d"])
def test_modules_load_torch_weights_and_repr(cls):
    torch.manual_seed(0)
    args = dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1, groups=2,
                dilation=1)
    tm = getattr(torch.nn, cls)(**args).double()
    hm = getattr(nn, cls)(**args, dtype=hy.float64)
    assert {k: tuple(v.shape) for k, v in hm.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in tm.state_dict().items()}
    hm.load_state_dict({k: hy.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    shape = (2, 4, 5, 5) if cls == "ConvTranspose2d" else (2, 4, 5)
    x = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_allclose(hm(hy.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-10)
    assert repr(hm) == repr(tm)
    assert repr(nn.ConvTranspose2d(3, 5, (2, 3), bias=False, dilation=2)) == \
        repr(torch.nn.ConvTranspose2d(3, 5, (2, 3), bias=False, dilation=2))


def test_module_init_is_torchs_distribution():
    m = nn.ConvTranspose2d(8, 4, 3, groups=2, generator=hy.Generator(seed=0))
    assert tuple(m.weight.shape) == (8, 2, 3, 3)
    bound = 1 / np.sqrt(2 * 9)          # fan_in = weight.shape[1] * k * k, as torch computes it
    assert np.abs(m.weight.detach().numpy()).max() <= bound + 1e-7
    assert np.abs(m.bias.detach().numpy()).max() <= bound + 1e-7


def test_module_output_size():
    hm, tm = nn.ConvTranspose2d(2, 3, 3, stride=2), torch.nn.ConvTranspose2d(2, 3, 3, stride=2)
    x = hy.randn(1, 2, 5, 5)
    tx = torch.randn(1, 2, 5, 5)
    for size in ([11, 11], [12, 12], [1, 3, 12, 11], (11, 12)):
        assert tuple(hm(x, output_size=size).shape) == tuple(tm(tx, output_size=size).shape)
    with pytest.raises(ValueError, match="valid sizes range from"):
        hm(x, output_size=[13, 13])
    with pytest.raises(ValueError, match="output_size must have"):
        hm(x, output_size=[12])


BAD = [  # (description, kwargs over the good call, exception, message)
    ("output_padding >= stride and dilation", dict(stride=2, output_padding=2),
     ValueError, "output padding must be smaller than either stride or dilation"),
    ("output_padding with stride 1", dict(output_padding=1), ValueError, "output padding must be smaller"),
    ("zero groups", dict(groups=0), ValueError, "non-positive groups"),
    ("groups not dividing", dict(groups=3), ValueError, "divisible by 3"),
    ("zero stride", dict(stride=0), ValueError, "non-positive stride"),
    ("negative padding", dict(padding=-1), ValueError, "negative padding"),
    ("negative output_padding", dict(output_padding=-1), ValueError, "negative output_padding"),
    ("zero dilation", dict(dilation=0), ValueError, "dilation should be greater than zero"),
    ("3 strides", dict(stride=(1, 2, 3)), ValueError, "stride must be an int or a tuple of 2 ints"),
    ("float stride", dict(stride=2.0), TypeError, "stride must be an int or a tuple of 2 ints"),
    ("bool dilation", dict(dilation=True), TypeError, "dilation must be an int or a tuple of 2 ints"),
    ("output too small", dict(padding=5), ValueError, "too small"),
    ("wrong weight channels", dict(weight=(3, 3, 3, 3)), ValueError, "expects input to have 3 channels"),
    ("wrong bias size", dict(bias=(4,)), ValueError, "bias to be 1-dimensional with 3 elements"),
    ("3-D weight", dict(weight=(4, 3, 3)), ValueError, "4-D"),
    ("5-D input", dict(input=(1, 1, 4, 5, 5)), ValueError, "Expected 3D \\(unbatched\\) or 4D"),
    ("float64 input, float32 weight", dict(input_dtype=hy.float64), RuntimeError, "same dtype"),
    ("integer input", dict(input_dtype=hy.int64, weight_dtype=hy.int64), TypeError, "floating"),
]


@pytest.mark.parametrize("desc,change,exc,msg", BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_raise_like_conv2d(desc, change, exc, msg):
    """torch's checks and words; the exception is conv2d's: ValueError for a bad argument value or a shape that
    does not fit (torch: RuntimeError), TypeError for a non-int argument, RuntimeError for a dtype mismatch."""
    change = dict(change)
    x = hy.randn(*change.pop("input", (1, 4, 5, 5))).to(change.pop("input_dtype", hy.float32))
    w = hy.randn(*change.pop("weight", (4, 3, 3, 3))).to(change.pop("weight_dtype", hy.float32))
    b = change.pop("bias", None)
    b = None if b is None else hy.randn(*b)
    with pytest.raises(exc, match=msg):
        F.conv_transpose2d(x, w, b, **change)
    if desc == "integer input":   # torch convolves integers too; hyflow only floating point
        return
    tx = torch.ones(*x.shape, dtype=getattr(torch, x.dtype.name))   # torch refuses the same call
    tw = torch.ones(*w.shape, dtype=getattr(torch, w.dtype.name))
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        TF.conv_transpose2d(tx, tw, None if b is None else torch.ones(*b.shape), **change)


CONV_BAD_ARGS = [(dict(stride=0), "stride"), (dict(padding=-1), "padding"), (dict(dilation=0), "dilation"),
                 (dict(stride=(1, 1, 1)), "stride"), (dict(groups=0), "groups")]


@pytest.mark.parametrize("change,name", CONV_BAD_ARGS, ids=["stride=0", "padding=-1", "dilation=0", "3 strides",
                                                             "groups=0"])
def test_every_conv_raises_value_error_for_a_bad_argument(change, name):
    """conv1d, conv2d, conv_transpose1d and conv_transpose2d agree: the same bad argument is a ValueError
    naming it (torch raises RuntimeError for each)."""
    calls = [(F.conv2d, (1, 4, 6, 6), (2, 4, 3, 3)), (F.conv_transpose2d, (1, 4, 6, 6), (4, 2, 3, 3))]
    calls += [(F.conv1d, (1, 4, 6), (2, 4, 3)), (F.conv_transpose1d, (1, 4, 6), (4, 2, 3))]
    for fn, xs, ws in calls:
        with pytest.raises(ValueError, match=name):
            fn(hy.randn(*xs), hy.randn(*ws), **change)


@pytest.mark.parametrize("change", [dict(stride=(2 ** 62, 1)), dict(dilation=(1, 2 ** 62)),
                                    dict(stride=(2 ** 62, 1), output_padding=(1, 0))])
def test_output_size_overflow_is_an_error(change):
    # (h - 1) * stride + dilation * (k - 1) past int64 used to wrap in the kernel's size computation
    x, w = hy.randn(1, 2, 5, 5), hy.randn(2, 3, 3, 3)
    with pytest.raises(ValueError, match="overflows int64"):
        F.conv_transpose2d(x, w, **change)


def test_op_is_in_the_op_table():
    s = hy.ops.schema("conv_transpose2d")
    assert s["family"] == "conv" and s.get("autograd") == "recorded"
    assert hy.ops.onnx_spec("conv_transpose2d")["op"] == "ConvTranspose"
