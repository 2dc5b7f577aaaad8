"""Each hyflow.nn layer and loss vs torch in float64 with copied weights: outputs and gradients."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-10, 1e-12


def h(a, requires_grad=False):
    return hy.tensor(np.array(a), dtype=hy.float64, requires_grad=requires_grad)


def t(a, requires_grad=False):
    return torch.tensor(np.array(a), dtype=torch.float64, requires_grad=requires_grad)


def npy(x):
    return np.asarray(x.detach()) if isinstance(x, hy.Tensor) else x.detach().numpy()


def copy_params(hm, tm):
    sd = {k: hy.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    hm.load_state_dict(sd)


def run_pair(hm, tm, x_np, grad_input=True):
    hm.double()
    tm.double()
    copy_params(hm, tm)
    hx, tx = h(x_np, grad_input), t(x_np, grad_input)
    ho, to = hm(hx), tm(tx)
    np.testing.assert_allclose(npy(ho), npy(to), rtol=RTOL * 100, atol=1e-10)
    w = np.random.default_rng(1).standard_normal(tuple(to.shape))
    (ho * h(w)).sum().backward()
    (to * t(w)).sum().backward()
    if grad_input:
        np.testing.assert_allclose(npy(hx.grad), npy(tx.grad), rtol=1e-8, atol=1e-10)
    hp, tp = dict(hm.named_parameters()), dict(tm.named_parameters())
    assert set(hp) == set(tp)
    for k in hp:
        np.testing.assert_allclose(npy(hp[k].grad), npy(tp[k].grad), rtol=1e-8, atol=1e-10, err_msg=k)
    return hm, tm


rng = np.random.default_rng(0)

LAYERS = [
    ("linear", lambda: (nn.Linear(5, 3), torch.nn.Linear(5, 3)), (4, 5)),
    ("linear3d", lambda: (nn.Linear(5, 3), torch.nn.Linear(5, 3)), (2, 4, 5)),
    ("linear_nobias", lambda: (nn.Linear(5, 3, bias=False), torch.nn.Linear(5, 3, bias=False)), (4, 5)),
    ("relu", lambda: (nn.ReLU(), torch.nn.ReLU()), (4, 5)),
    ("gelu", lambda: (nn.GELU(), torch.nn.GELU()), (4, 5)),
    ("gelu_tanh", lambda: (nn.GELU("tanh"), torch.nn.GELU("tanh")), (4, 5)),
    ("silu", lambda: (nn.SiLU(), torch.nn.SiLU()), (4, 5)),
    ("tanh", lambda: (nn.Tanh(), torch.nn.Tanh()), (4, 5)),
    ("sigmoid", lambda: (nn.Sigmoid(), torch.nn.Sigmoid()), (4, 5)),
    ("softplus", lambda: (nn.Softplus(beta=2.0), torch.nn.Softplus(beta=2.0)), (4, 5)),
    ("layernorm", lambda: (nn.LayerNorm(5), torch.nn.LayerNorm(5)), (3, 4, 5)),
    ("layernorm2", lambda: (nn.LayerNorm((4, 5)), torch.nn.LayerNorm((4, 5))), (3, 4, 5)),
    ("batchnorm1d", lambda: (nn.BatchNorm1d(5), torch.nn.BatchNorm1d(5)), (6, 5)),
    ("batchnorm1d_3d", lambda: (nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)), (4, 3, 7)),
    ("batchnorm2d", lambda: (nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)), (4, 3, 5, 5)),
    ("conv2d", lambda: (nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)), (2, 3, 7, 6)),
    ("conv2d_s2p1", lambda: (nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)),
     (2, 3, 8, 7)),
    ("conv2d_dil_rect", lambda: (nn.Conv2d(2, 3, (2, 3), dilation=2, bias=False),
                                 torch.nn.Conv2d(2, 3, (2, 3), dilation=2, bias=False)), (2, 2, 8, 9)),
    ("conv2d_groups", lambda: (nn.Conv2d(4, 6, 3, groups=2, padding=1), torch.nn.Conv2d(4, 6, 3, groups=2, padding=1)),
     (2, 4, 5, 5)),
    ("conv2d_same", lambda: (nn.Conv2d(2, 3, 4, padding="same"), torch.nn.Conv2d(2, 3, 4, padding="same")),
     (1, 2, 6, 6)),
    ("conv1d", lambda: (nn.Conv1d(3, 4, 3, padding=1, stride=2), torch.nn.Conv1d(3, 4, 3, padding=1, stride=2)),
     (2, 3, 10)),
    ("maxpool2d", lambda: (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)), (2, 3, 6, 6)),
    ("maxpool2d_s1p1", lambda: (nn.MaxPool2d(3, stride=1, padding=1), torch.nn.MaxPool2d(3, stride=1, padding=1)),
     (2, 2, 5, 5)),
    ("avgpool2d", lambda: (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)), (2, 3, 6, 6)),
    ("avgpool2d_p1", lambda: (nn.AvgPool2d(3, stride=2, padding=1), torch.nn.AvgPool2d(3, stride=2, padding=1)),
     (2, 3, 7, 7)),
    ("flatten", lambda: (nn.Flatten(), torch.nn.Flatten()), (2, 3, 4)),
]


@pytest.mark.parametrize("name,make,shape", LAYERS, ids=[x[0] for x in LAYERS])
def test_layer_matches_torch(name, make, shape):
    torch.manual_seed(0)
    hm, tm = make()
    x = rng.standard_normal(shape)
    run_pair(hm, tm, x)


def test_batchnorm_running_stats_and_eval():
    torch.manual_seed(0)
    for hm, tm, shape in [(nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), (4, 3, 5, 5)),
                          (nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None), (8, 3))]:
        hm.double()
        tm.double()
        for _ in range(3):
            x = rng.standard_normal(shape)
            hm(h(x))
            tm(t(x))
        for k in ("running_mean", "running_var"):
            np.testing.assert_allclose(npy(getattr(hm, k)), npy(getattr(tm, k)), rtol=1e-10)
        assert hm.num_batches_tracked.item() == 3
        hm.eval()
        tm.eval()
        run_pair(hm, tm, rng.standard_normal(shape))


def test_embedding_and_padding_idx():
    torch.manual_seed(0)
    tm = torch.nn.Embedding(10, 4, padding_idx=2).double()
    hm = nn.Embedding(10, 4, padding_idx=2).double()
    assert np.all(npy(hm.weight)[2] == 0)
    copy_params(hm, tm)
    idx = np.array([[1, 2, 3], [2, 9, 1]])
    ho, to = hm(hy.tensor(idx)), tm(torch.tensor(idx))
    np.testing.assert_allclose(npy(ho), npy(to))
    w = rng.standard_normal(tuple(to.shape))
    (ho * h(w)).sum().backward()
    (to * t(w)).sum().backward()
    np.testing.assert_allclose(npy(hm.weight.grad), npy(tm.weight.grad), rtol=1e-12)


def test_dropout_seeded_and_eval_identity():
    x = hy.ones(1000, dtype=hy.float64)
    d1 = nn.Dropout(0.3, generator=hy.Generator(seed=5))
    d2 = nn.Dropout(0.3, generator=hy.Generator(seed=5))
    a, b = npy(d1(x)), npy(d2(x))
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1 / 0.7}
    assert 0.2 < (a == 0).mean() < 0.4
    d1.eval()
    assert np.all(npy(d1(x)) == 1)
    xg = hy.ones(50, dtype=hy.float64, requires_grad=True)
    y = nn.Dropout(0.5, generator=hy.Generator(seed=1))(xg)
    y.sum().backward()
    np.testing.assert_allclose(npy(xg.grad), npy(y))


def test_unfold_matches_torch():
    x = rng.standard_normal((2, 3, 6, 5))
    a = F.unfold(h(x), (2, 3), dilation=1, padding=1, stride=2)
    b = torch.nn.functional.unfold(t(x), (2, 3), dilation=1, padding=1, stride=2)
    np.testing.assert_allclose(npy(a), npy(b))


# ---- losses ------------------------------------------------------------------------------------
def _loss_pair(hfn, tfn, inputs_np, targets, **kw):
    for red in ("mean", "sum", "none"):
        hx, tx = h(inputs_np, True), t(inputs_np, True)
        ht, tt = targets
        ho, to = hfn(hx, ht, reduction=red, **kw), tfn(tx, tt, reduction=red, **kw)
        np.testing.assert_allclose(npy(ho), npy(to), rtol=1e-10, atol=1e-12, err_msg=red)
        w = rng.standard_normal(tuple(to.shape))
        (ho * h(w)).sum().backward()
        (to * t(w)).sum().backward()
        np.testing.assert_allclose(npy(hx.grad), npy(tx.grad), rtol=1e-9, atol=1e-12, err_msg=red)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy_with_logits"])
def test_pointwise_losses(name):
    x = rng.standard_normal((4, 3)) * 3
    y = rng.random((4, 3)) if "binary" in name else rng.standard_normal((4, 3))
    _loss_pair(getattr(F, name), getattr(torch.nn.functional, name), x, (h(y), t(y)))


def test_smooth_l1_beta_and_bce_pos_weight():
    x, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    _loss_pair(F.smooth_l1_loss, torch.nn.functional.smooth_l1_loss, x, (h(y), t(y)), beta=0.5)
    yb, pw = rng.random((5, 2)), np.array([0.5, 3.0])
    hf = lambda a, b, reduction: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, pos_weight=h(pw))  # noqa
    tf = lambda a, b, reduction: torch.nn.functional.binary_cross_entropy_with_logits(  # noqa
        a, b, reduction=reduction, pos_weight=t(pw))
    _loss_pair(hf, tf, x, (h(yb), t(yb)))


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1}, {"ignore_index": 1}, {"ignore_index": 1, "label_smoothing": 0.2},
                                {"weight": "w"}, {"weight": "w", "label_smoothing": 0.3, "ignore_index": 0}])
def test_cross_entropy(kw):
    x = rng.standard_normal((6, 4))
    y = np.array([0, 1, 3, 1, 2, 0])
    hkw, tkw = dict(kw), dict(kw)
    if "weight" in kw:
        w = np.array([0.5, 1.0, 2.0, 1.5])
        hkw["weight"], tkw["weight"] = h(w), t(w)
    _loss_pair(lambda a, b, reduction: F.cross_entropy(a, b, reduction=reduction, **hkw),
               lambda a, b, reduction: torch.nn.functional.cross_entropy(a, b, reduction=reduction, **tkw),
               x, (hy.tensor(y), torch.tensor(y)))


def test_cross_entropy_spatial_and_nll():
    x = rng.standard_normal((2, 3, 4, 5))
    y = rng.integers(0, 3, (2, 4, 5))
    _loss_pair(F.cross_entropy, torch.nn.functional.cross_entropy, x, (hy.tensor(y), torch.tensor(y)))
    lp = np.log(rng.random((5, 3)))
    yy = np.array([0, 2, 1, 1, 2])
    _loss_pair(lambda a, b, reduction: F.nll_loss(a, b, reduction=reduction, ignore_index=2),
               lambda a, b, reduction: torch.nn.functional.nll_loss(a, b, reduction=reduction, ignore_index=2),
               lp, (hy.tensor(yy), torch.tensor(yy)))


def test_loss_errors():
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(hy.zeros(2), hy.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="shape"):
        F.mse_loss(hy.zeros(2), hy.zeros(3))
    with pytest.raises(IndexError, match="target"):
        F.cross_entropy(hy.zeros(2, 3), hy.tensor([0, 3]))
    with pytest.raises(ValueError, match="target shape"):
        F.cross_entropy(hy.zeros(2, 3), hy.tensor([0, 1, 2]))


@pytest.mark.parametrize("k,d,p,s", [((2, 3), (1, 1), (0, 0), (1, 1)), ((3, 2), (2, 1), (1, 2), (2, 1))])
def test_im2col_col2im_gradcheck(k, d, p, s):
    from hyflow.testing import gradcheck, gradgradcheck
    x = hy.randn(2, 2, 5, 6, dtype=hy.float64, requires_grad=True)
    f = lambda a: hy._C.ops.im2col(a, list(k), list(d), list(p), list(s))  # noqa: E731
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))
    cols = f(x).detach().requires_grad_(True)
    g = lambda c: hy._C.ops.col2im(c, [2, 2, 5, 6], list(k), list(d), list(p), list(s))  # noqa: E731
    assert gradcheck(g, (cols,))


@pytest.mark.parametrize("case", range(5))
def test_col2im_of_patch_major_gradient_matches_reference(case):
    # conv2d's backward hands col2im the transposed view of a contiguous (N, K, L) block; that layout has
    # its own loop (rows streamed in K order, added into each channel's plane), checked here against the
    # NumPy reference for strides, dilations, paddings and a column stride of 2.
    from opinfo.conv import _CASES, _geom, ref_col2im
    extra = [((2, 4, 9, 8), [3, 3], [1, 1], [1, 1], [1, 2], "stride 2 across"),
             ((1, 3, 8, 10), [2, 3], [1, 2], [2, 0], [2, 2], "dilated, padded, strided")]
    shape, k, d, p, st, _ = (_CASES + extra)[case]
    ho, wo = _geom(shape, k, d, p, st)
    block = np.random.default_rng(case).standard_normal((shape[0], shape[1] * k[0] * k[1], ho * wo))
    cols = hy.tensor(block).transpose(1, 2)  # patch-major: (N, L, K) view of (N, K, L) memory
    got = hy._C.ops.col2im(cols, list(shape), k, d, p, st)
    want = ref_col2im(np.ascontiguousarray(block.transpose(0, 2, 1)), shape, k, d, p, st)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_im2col_errors_and_low_precision():
    with pytest.raises(ValueError, match="im2col: input must be 4-D"):
        hy._C.ops.im2col(hy.zeros(2, 3, 4), [2, 2], [1, 1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="im2col: .* smaller than the kernel"):
        hy._C.ops.im2col(hy.zeros(1, 1, 2, 2), [3, 3], [1, 1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="col2im: self must have shape"):
        hy._C.ops.col2im(hy.zeros(1, 3, 4), [1, 1, 3, 3], [2, 2], [1, 1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="positive"):
        hy._C.ops.im2col(hy.zeros(1, 1, 3, 3), [2, 2], [1, 1], [0, 0], [0, 1])
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    out32 = F.conv2d(hy.tensor(x), hy.tensor(w), padding=1)
    np.testing.assert_allclose(npy(out32), ref, rtol=1e-4, atol=1e-5)
    outbf = F.conv2d(hy.tensor(x).to(hy.bfloat16), hy.tensor(w).to(hy.bfloat16), padding=1)
    assert outbf.dtype == hy.bfloat16
    np.testing.assert_allclose(npy(outbf.float()), ref, rtol=0.1, atol=0.3)


@pytest.mark.parametrize("make, match", [
    (lambda: nn.Conv2d(0, 4, 3), "in_channels must be positive"),
    (lambda: nn.Conv2d(4, 4, 3, groups=0), "groups must be a positive integer"),
    (lambda: nn.Conv1d(4, 4, 3, groups=-2), "groups must be a positive integer"),
    (lambda: nn.Conv2d(4, 0, 3), "out_channels must be positive"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), r"in_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), r"out_channels \(6\) must be divisible by groups \(4\)"),
    (lambda: F.conv2d(hy.zeros(1, 4, 5, 5), hy.zeros(4, 4, 3, 3), groups=0), r"conv2d\(\): groups"),
    (lambda: F.conv2d(hy.zeros(1, 4, 5, 5), hy.zeros(4, 4, 3, 3), groups=-1), r"conv2d\(\): groups"),
    (lambda: F.conv2d(hy.zeros(1, 0, 5, 5), hy.zeros(4, 0, 3, 3)), r"conv2d\(\): in_channels must be positive"),
    (lambda: F.conv1d(hy.zeros(1, 0, 5), hy.zeros(4, 0, 3)), r"conv1d\(\): in_channels must be positive"),
    (lambda: F.conv1d(hy.zeros(1, 4, 5), hy.zeros(4, 4, 3), groups=0), r"conv1d\(\): groups"),
    (lambda: F.conv2d(hy.zeros(1, 3, 5, 5), hy.zeros(4, 1, 3, 3), groups=2), "divisible by groups"),
])
def test_conv_bad_groups_or_channels_raise_value_error(make, match):
    # groups=0 and zero input channels divided by zero (ZeroDivisionError) before they were checked
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make,shape", [
    (lambda lib: lib.nn.Linear(3, 2), (4, 3)), (lambda lib: lib.nn.Conv2d(1, 2, 2), (1, 1, 3, 3)),
    (lambda lib: lib.nn.Conv1d(1, 2, 2), (1, 1, 5)), (lambda lib: lib.nn.LayerNorm(3), (4, 3)),
    (lambda lib: lib.nn.BatchNorm1d(3), (4, 3)), (lambda lib: lib.nn.BatchNorm1d(3).eval(), (4, 3, 2)),
    (lambda lib: lib.nn.BatchNorm2d(3), (2, 3, 2, 2)), (lambda lib: lib.nn.BatchNorm2d(3, affine=False), (2, 3, 2, 2))])
def test_layers_refuse_input_of_another_dtype_like_torch(make, shape):
    # A float64 batch through float32 weights used to promote silently to a float64 result.
    for lib in (torch, hy):
        layer = make(lib)
        with pytest.raises(RuntimeError):
            layer(lib.ones(*shape, dtype=lib.float64))
        with pytest.raises(RuntimeError):
            layer(lib.ones(*shape, dtype=lib.int32))
        assert layer(lib.ones(*shape)).dtype == lib.float32
    with pytest.raises(RuntimeError, match=r"linear\(\): input and weight must have the same dtype, but got "
                                           r"hyflow.float64 and hyflow.float32"):
        F.linear(hy.ones(2, 3, dtype=hy.float64), hy.ones(4, 3))
    with pytest.raises(RuntimeError, match=r"linear\(\): input and bias must have the same dtype"):
        F.linear(hy.ones(2, 3), hy.ones(4, 3), hy.ones(4, dtype=hy.float64))
    with pytest.raises(RuntimeError, match=r"conv2d\(\): input and weight must have the same dtype"):
        F.conv2d(hy.ones(1, 1, 3, 3, dtype=hy.float64), hy.ones(1, 1, 2, 2))
    with pytest.raises(RuntimeError, match=r"conv1d\(\): input and weight must have the same dtype"):
        nn.Conv1d(1, 2, 2)(hy.ones(1, 1, 5, dtype=hy.float64))
    with pytest.raises(RuntimeError, match=r"layer_norm\(\): weight has dtype float32 but input is float64"):
        nn.LayerNorm(3)(hy.ones(2, 3, dtype=hy.float64))
    with pytest.raises(RuntimeError, match=r"batch_norm\(\): input and running_mean must have the same dtype"):
        nn.BatchNorm2d(3)(hy.ones(2, 3, 2, 2, dtype=hy.float64))


@pytest.mark.parametrize("in_dtype,param_dtype,ok", [
    ("float16", "float32", True), ("float16", "float16", True), ("bfloat16", "float32", True),
    ("float32", "bfloat16", False), ("float32", "float64", False), ("float16", "bfloat16", False),
    ("float16", "float64", False)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_mixed_dtypes_like_torch(in_dtype, param_dtype, ok, training):
    # torch's CPU rule: parameters/buffers of the input's dtype, or float32 ones for a float16/bfloat16 input
    # ("mixed dtype"); the output keeps the input's dtype (float16 in, float16 out, not float32)
    x = rng.standard_normal((4, 3, 2, 2))
    outs = []
    for lib in (torch, hy):
        m = lib.nn.BatchNorm2d(3).to(getattr(lib, param_dtype))
        m.train(training)
        xi = lib.tensor(x, dtype=getattr(lib, in_dtype), requires_grad=True)
        if not ok:
            with pytest.raises(RuntimeError):
                m(xi)
            continue
        out = m(xi)
        assert str(out.dtype).split(".")[-1] == in_dtype
        out.float().sum().backward()
        assert str(m.weight.grad.dtype).split(".")[-1] == param_dtype
        outs.append((out.float(), m.running_mean.float(), m.running_var.float(), xi.grad.float()))
    for a, b in zip(*outs) if outs else ():
        np.testing.assert_allclose(npy(b), npy(a), rtol=2e-2, atol=2e-2)


def test_losses_refuse_weight_or_target_of_another_dtype_like_torch():
    for lib in (torch, hy):
        logits, target = lib.ones(4, 3, dtype=lib.float64), lib.tensor([0, 1, 2, 0])
        with pytest.raises(RuntimeError):
            lib.nn.functional.cross_entropy(logits, target, weight=lib.ones(3))
        with pytest.raises(RuntimeError):
            lib.nn.functional.cross_entropy(logits.float(), target, weight=lib.ones(3, dtype=lib.float64))
        with pytest.raises(RuntimeError):
            lib.nn.functional.nll_loss(logits, target, weight=lib.ones(3))
        with pytest.raises(RuntimeError):
            lib.nn.CrossEntropyLoss(weight=lib.ones(3))(logits, target)
        p = lib.full((4,), 0.5, dtype=lib.float64)
        with pytest.raises(RuntimeError):
            lib.nn.functional.binary_cross_entropy(p, lib.ones(4))
        with pytest.raises(RuntimeError):
            lib.nn.functional.binary_cross_entropy(p.float(), lib.ones(4, dtype=lib.float64))
        with pytest.raises(RuntimeError):
            lib.nn.BCELoss()(p, lib.ones(4))
        # a weight of another dtype is fine for binary_cross_entropy (the loss takes the input's dtype)
        assert lib.nn.functional.binary_cross_entropy(p, p, weight=lib.ones(4)).dtype == lib.float64
    with pytest.raises(RuntimeError, match=r"cross_entropy\(\): weight must have the input's dtype"):
        F.cross_entropy(hy.ones(4, 3, dtype=hy.float64), hy.tensor([0, 1, 2, 0]), weight=hy.ones(3))
    with pytest.raises(RuntimeError, match=r"binary_cross_entropy\(\): input and target must have the same dtype"):
        F.binary_cross_entropy(hy.full((4,), 0.5, dtype=hy.float64), hy.ones(4))


# ---- binary cross entropy, Embedding(max_norm=), device= ---------------------------------------
@pytest.mark.parametrize("kw", [{}, {"weight": "w"}, {"weight": "row"}])
def test_binary_cross_entropy(kw):
    x = rng.random((4, 3)) * 0.98 + 0.01
    y = rng.random((4, 3))
    hkw, tkw = {}, {}
    if kw:
        w = rng.random((4, 3)) if kw["weight"] == "w" else rng.random((3,))
        hkw["weight"], tkw["weight"] = h(w), t(w)
    _loss_pair(lambda a, b, reduction: F.binary_cross_entropy(a, b, reduction=reduction, **hkw),
               lambda a, b, reduction: torch.nn.functional.binary_cross_entropy(a, b, reduction=reduction, **tkw),
               x, (h(y), t(y)))


def test_binary_cross_entropy_clamps_log_at_minus_100_like_torch():
    x, y = np.array([0.0, 1.0, 0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    for reduction in ("none", "sum"):
        np.testing.assert_allclose(npy(F.binary_cross_entropy(h(x), h(y), reduction=reduction)),
                                   npy(torch.nn.functional.binary_cross_entropy(t(x), t(y), reduction=reduction)))


def test_bce_modules_match_torch():
    x, y = rng.standard_normal((5, 3)), rng.random((5, 3))
    w, pw = rng.random((3,)), rng.random((3,)) * 3
    for red in ("mean", "sum", "none"):
        a = nn.BCEWithLogitsLoss(weight=h(w), pos_weight=h(pw), reduction=red)(h(x), h(y))
        b = torch.nn.BCEWithLogitsLoss(weight=t(w), pos_weight=t(pw), reduction=red)(t(x), t(y))
        np.testing.assert_allclose(npy(a), npy(b), rtol=1e-12)
        p = 1 / (1 + np.exp(-x))
        a = nn.BCELoss(weight=h(w), reduction=red)(h(p), h(y))
        b = torch.nn.BCELoss(weight=t(w), reduction=red)(t(p), t(y))
        np.testing.assert_allclose(npy(a), npy(b), rtol=1e-12)
    assert list(nn.BCEWithLogitsLoss(pos_weight=h(pw)).state_dict()) == ["pos_weight"]


def test_binary_cross_entropy_errors():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(h([0.5, 1.5]), h([0.0, 1.0]))
    with pytest.raises(ValueError, match="input shape .* and target shape"):
        F.binary_cross_entropy(h([0.5, 0.5]), h([1.0]))
    with pytest.raises(ValueError, match="size_average and reduce are deprecated"):
        nn.BCELoss(size_average=False)
    with pytest.raises(ValueError, match="reduction must be"):
        F.binary_cross_entropy_with_logits(h([0.5]), h([1.0]), reduction="avg")


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_embedding_max_norm_renormalizes_looked_up_rows_like_torch(norm_type):
    torch.manual_seed(0)
    tm = torch.nn.Embedding(6, 4, max_norm=1.5, norm_type=norm_type).double()
    hm = nn.Embedding(6, 4, max_norm=1.5, norm_type=norm_type).double()
    with torch.no_grad():
        tm.weight.mul_(3)
    hm.load_state_dict(tm.state_dict())
    idx = np.array([[0, 2, 2], [5, 0, 1]])
    ho, to = hm(hy.tensor(idx)), tm(torch.tensor(idx))
    np.testing.assert_allclose(npy(ho), npy(to), rtol=1e-12)
    np.testing.assert_allclose(npy(hm.weight), npy(tm.weight), rtol=1e-12)   # rows 3, 4 untouched
    w = rng.standard_normal(tuple(to.shape))
    (ho * h(w)).sum().backward()
    (to * t(w)).sum().backward()
    np.testing.assert_allclose(npy(hm.weight.grad), npy(tm.weight.grad), rtol=1e-12)
    assert "max_norm=1.5" in repr(hm)


def test_embedding_max_norm_errors():
    with pytest.raises(ValueError, match="max_norm must be positive"):
        F.embedding(hy.tensor([0]), hy.randn(3, 2), max_norm=0.0)
    with pytest.raises(IndexError, match="index out of range"):
        F.embedding(hy.tensor([7]), hy.randn(3, 2), max_norm=1.0)
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=5)


LAYERS_WITH_PARAMETERS = [
    lambda **kw: nn.Linear(3, 2, **kw),
    lambda **kw: nn.Conv1d(2, 3, 3, **kw),
    lambda **kw: nn.Conv2d(2, 3, 3, **kw),
    lambda **kw: nn.LayerNorm(4, **kw),
    lambda **kw: nn.BatchNorm1d(4, **kw),
    lambda **kw: nn.BatchNorm2d(4, **kw),
    lambda **kw: nn.Embedding(5, 3, **kw),
    lambda **kw: nn.RNN(3, 4, **kw),
    lambda **kw: nn.LSTM(3, 4, **kw),
    lambda **kw: nn.GRU(3, 4, **kw),
    lambda **kw: nn.RNNCell(3, 4, **kw),
    lambda **kw: nn.LSTMCell(3, 4, **kw),
    lambda **kw: nn.GRUCell(3, 4, **kw),
    lambda **kw: nn.MultiheadAttention(4, 2, **kw),
    lambda **kw: nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, **kw),
]


@pytest.mark.parametrize("make", LAYERS_WITH_PARAMETERS, ids=range(len(LAYERS_WITH_PARAMETERS)))
def test_layers_take_device_and_dtype(make):
    m = make(device="cpu", dtype=hy.float64)
    assert all(p.dtype == hy.float64 for p in m.parameters())
    make(device="cpu:0")
    make(device=torch.device("cpu"))   # any object with .type == "cpu"
    with pytest.raises(NotImplementedError, match=r"device='cuda'.*CPU only"):
        make(device="cuda")


@pytest.mark.parametrize("block_bytes", [1, 9000, 1 << 30])  # 4320 bytes of patches per image
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_in_image_blocks_matches_torch(monkeypatch, block_bytes, bias):
    # conv2d multiplies the patches of blocks of images that fit in cache (F._CONV_BLOCK_BYTES): one image
    # per block, uneven blocks (5 images, 2 per block) and the whole batch must give torch's output and
    # gradients for the input, the weight and the bias.
    monkeypatch.setattr(F, "_CONV_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((5, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    hx, hw, hb = (hy.tensor(a).requires_grad_() for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a).requires_grad_() for a in (x, w, b))
    kw = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    ho = F.conv2d(hx, hw, hb if bias else None, **kw)
    to = torch.nn.functional.conv2d(tx, tw, tb if bias else None, **kw)
    assert ho.is_contiguous()
    np.testing.assert_allclose(ho.detach().numpy(), to.detach().numpy(), rtol=1e-12, atol=1e-12)
    (ho * ho).sum().backward()
    (to * to).sum().backward()
    pairs = [(hx, tx), (hw, tw)] + ([(hb, tb)] if bias else [])
    for h, t in pairs:
        np.testing.assert_allclose(h.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)
