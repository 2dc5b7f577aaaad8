"""scaled_dot_product_attention, MultiheadAttention and TransformerEncoder(Layer) vs torch, with torch's weights."""
import warnings

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F

torch = pytest.importorskip("torch")


def h(a, requires_grad=False):
    if isinstance(a, torch.Tensor):
        a = a.detach().numpy()
    a = np.asarray(a)
    return hy.tensor(a, requires_grad=requires_grad) if a.dtype == np.bool_ else \
        hy.tensor(a, dtype=hy.float64, requires_grad=requires_grad)


def close(a, b):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


def randn(*shape, seed=0):
    return torch.tensor(np.random.default_rng(seed).standard_normal(shape))


BOOL_MASK = torch.tensor(np.random.default_rng(9).random((4, 6)) > 0.4) | (torch.arange(6) == 0)
SDPA_CASES = {
    "plain": {},
    "causal": {"is_causal": True},
    "bool_mask": {"attn_mask": BOOL_MASK},
    "float_mask": {"attn_mask": randn(4, 6, seed=5)},
    "broadcast_mask": {"attn_mask": randn(2, 1, 4, 6, seed=6)},
    "scale": {"scale": 0.3},
}


@pytest.mark.parametrize("case", SDPA_CASES)
def test_sdpa_matches_torch_values_and_grads(case):
    kwargs = SDPA_CASES[case]
    q, k, v = randn(2, 3, 4, 8, seed=1), randn(2, 3, 6, 8, seed=2), randn(2, 3, 6, 5, seed=3)
    tq, tk, tv = (t.clone().requires_grad_() for t in (q, k, v))
    hq, hk, hv = (h(t, True) for t in (q, k, v))
    hkw = {n: h(a) if isinstance(a, torch.Tensor) else a for n, a in kwargs.items()}
    t_out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **kwargs)
    h_out = F.scaled_dot_product_attention(hq, hk, hv, **hkw)
    close(h_out, t_out)
    w = randn(*t_out.shape, seed=4)
    (t_out * w).sum().backward()
    (h_out * h(w)).sum().backward()
    for a, b in ((hq, tq), (hk, tk), (hv, tv)):
        close(a.grad, b.grad)


DEAD_BOOL = torch.ones(4, 6, dtype=torch.bool)
DEAD_BOOL[1] = False
DEAD_FLOAT = randn(4, 6, seed=7)
DEAD_FLOAT[2] = float("-inf")
DEAD_CASES = {
    # a query row whose mask excludes every key: torch 2.13 gives 0 there (_safe_softmax), not NaN
    "bool_row_all_false": ({"attn_mask": DEAD_BOOL}, 4, 6),
    "float_row_all_neg_inf": ({"attn_mask": DEAD_FLOAT}, 4, 6),
    "bool_broadcast_keys": ({"attn_mask": torch.tensor([[True], [False], [True], [True]])}, 4, 6),
    # top-left aligned causal mask with more queries than keys: no row is empty, rows past S see every key
    "causal_l_gt_s": ({"is_causal": True}, 7, 3),
    "causal_l_lt_s": ({"is_causal": True}, 3, 7),
}


@pytest.mark.parametrize("case", DEAD_CASES)
def test_sdpa_fully_masked_rows_give_zero_not_nan_like_torch(case):
    kwargs, length, source_length = DEAD_CASES[case]
    q, k, v = randn(2, 3, length, 8, seed=1), randn(2, 3, source_length, 8, seed=2), \
        randn(2, 3, source_length, 5, seed=3)
    tq, tk, tv = (t.clone().requires_grad_() for t in (q, k, v))
    hq, hk, hv = (h(t, True) for t in (q, k, v))
    t_mask = kwargs.get("attn_mask")
    t_mask = t_mask.clone().requires_grad_() if t_mask is not None and t_mask.is_floating_point() else t_mask
    h_mask = None if t_mask is None else h(t_mask, t_mask.requires_grad)
    hkw = dict(kwargs, attn_mask=h_mask) if t_mask is not None else kwargs
    tkw = dict(kwargs, attn_mask=t_mask) if t_mask is not None else kwargs
    t_out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkw)
    h_out = F.scaled_dot_product_attention(hq, hk, hv, **hkw)
    assert not np.isnan(h_out.detach().numpy()).any()
    close(h_out, t_out)
    w = randn(*t_out.shape, seed=4)
    (t_out * w).sum().backward()
    (h_out * h(w)).sum().backward()
    pairs = [(hq, tq), (hk, tk), (hv, tv)] + ([(h_mask, t_mask)] if h_mask is not None and h_mask.requires_grad
                                              else [])
    for a, b in pairs:
        assert not np.isnan(a.grad.numpy()).any()
        close(a.grad, b.grad)


def test_sdpa_causal_mask_is_tril():
    for length, source_length in ((4, 4), (5, 2), (2, 5)):
        np.testing.assert_array_equal(
            F.scaled_dot_product_attention.__globals__["causal_mask"](length, source_length).numpy(),
            torch.ones(length, source_length, dtype=torch.bool).tril().numpy())


def test_sdpa_gqa_and_dropout():
    q, k, v = randn(2, 4, 3, 8, seed=1), randn(2, 2, 5, 8, seed=2), randn(2, 2, 5, 8, seed=3)
    close(F.scaled_dot_product_attention(h(q), h(k), h(v), enable_gqa=True),
          torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True))
    hq, hk, hv = h(q), h(k[:, :1]), h(v[:, :1])
    a = F.scaled_dot_product_attention(hq, hk, hv, dropout_p=0.5, enable_gqa=True, generator=hy.Generator(seed=0))
    b = F.scaled_dot_product_attention(hq, hk, hv, dropout_p=0.5, enable_gqa=True, generator=hy.Generator(seed=0))
    c = F.scaled_dot_product_attention(hq, hk, hv, enable_gqa=True)
    close(a, b)
    assert not np.allclose(a.numpy(), c.numpy())
    assert float(F.scaled_dot_product_attention(hq, hk, hv, dropout_p=1.0, enable_gqa=True).abs().max()) == 0.0


def test_sdpa_bad_arguments():
    q = hy.randn(2, 3, 4)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=hy.ones(3, 3, dtype=hy.bool), is_causal=True)
    with pytest.raises(ValueError, match="same feature size"):
        F.scaled_dot_product_attention(q, hy.randn(2, 3, 5), q)
    with pytest.raises(ValueError, match="same sequence length"):
        F.scaled_dot_product_attention(q, q, hy.randn(2, 5, 4))
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q, q, q.double())
    with pytest.raises(TypeError, match="attn_mask must be bool or floating point"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=hy.ones(3, 3, dtype=hy.int64))
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=1.5)
    with pytest.raises(ValueError, match="multiple of the key/value heads"):
        F.scaled_dot_product_attention(hy.randn(1, 3, 2, 4), hy.randn(1, 2, 2, 4), hy.randn(1, 2, 2, 4),
                                       enable_gqa=True)


MHA_CASES = {
    "default": {},
    "batch_first": {"batch_first": True},
    "bias_kv_zero_attn": {"add_bias_kv": True, "add_zero_attn": True},
    "kdim_vdim": {"kdim": 5, "vdim": 3},
    "no_bias": {"bias": False},
}


@pytest.mark.parametrize("case", MHA_CASES)
def test_multihead_attention_matches_torch(case):
    kw = MHA_CASES[case]
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(8, 2, **kw).double()
    hm = nn.MultiheadAttention(8, 2, **kw).double()
    assert list(hm.state_dict()) == list(tm.state_dict())
    hm.load_state_dict(tm.state_dict())
    L, S, N = 4, 6, 3
    bf = kw.get("batch_first", False)
    shape = lambda seq, dim: (N, seq, dim) if bf else (seq, N, dim)  # noqa: E731
    q, k, v = randn(*shape(L, 8), seed=1), randn(*shape(S, kw.get("kdim", 8)), seed=2), \
        randn(*shape(S, kw.get("vdim", 8)), seed=3)
    kpm = torch.zeros(N, S, dtype=torch.bool)
    kpm[0, -2:] = True
    masks = [{}, {"key_padding_mask": kpm, "attn_mask": randn(L, S, seed=4)},
             {"attn_mask": torch.rand(L, S) > 0.7, "average_attn_weights": False},
             {"attn_mask": randn(N * 2, L, S, seed=5), "need_weights": False}]
    for m in masks:
        tq = q.clone().requires_grad_()
        hq = h(q, True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # torch warns about mixing bool and float masks
            t_out, t_w = tm(tq, k, v, **m)
        h_out, h_w = hm(hq, h(k), h(v), **{n: h(a) if isinstance(a, torch.Tensor) else a for n, a in m.items()})
        close(h_out, t_out)
        assert (h_w is None) == (t_w is None)
        if t_w is not None:
            close(h_w, t_w)
        t_out.sum().backward()
        h_out.sum().backward()
        close(hq.grad, tq.grad)
        for (name, hp), (_, tp) in zip(hm.named_parameters(), tm.named_parameters()):
            close(hp.grad, tp.grad)
            hp.grad, tp.grad = None, None


def test_multihead_attention_unbatched_and_causal():
    torch.manual_seed(1)
    tm, hm = torch.nn.MultiheadAttention(8, 4).double(), nn.MultiheadAttention(8, 4).double()
    hm.load_state_dict(tm.state_dict())
    x = randn(5, 8, seed=7)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    for a, b in zip(hm(h(x), h(x), h(x), attn_mask=h(mask), is_causal=True),
                    tm(x, x, x, attn_mask=mask, is_causal=True)):
        close(a, b)
    with pytest.raises(RuntimeError, match="is_causal=True .* pass attn_mask"):
        hm(h(x), h(x), h(x), is_causal=True)


def test_multihead_attention_init_and_errors():
    m = nn.MultiheadAttention(8, 2)
    assert float(m.in_proj_bias.abs().max()) == 0.0 and float(m.out_proj.bias.abs().max()) == 0.0
    assert float(m.in_proj_weight.abs().max()) <= (6 / (8 + 24)) ** 0.5
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="embedding dimension of 8"):
        m(hy.randn(2, 1, 6), hy.randn(2, 1, 6), hy.randn(2, 1, 6))
    x = hy.randn(4, 2, 8)
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        m(x, x, x, attn_mask=hy.zeros(3, 3))
    with pytest.raises(RuntimeError, match="key_padding_mask of shape"):
        m(x, x, x, key_padding_mask=hy.zeros(2, 3, dtype=hy.bool))
    with pytest.raises(TypeError, match="bool and floating types"):
        m(x, x, x, key_padding_mask=hy.zeros(2, 4, dtype=hy.int64))


ENCODER_CASES = {
    "post_norm_relu": {},
    "pre_norm_gelu_batch_first": {"norm_first": True, "activation": "gelu", "batch_first": True},
    "no_bias": {"bias": False},
}


@pytest.mark.parametrize("case", ENCODER_CASES)
def test_transformer_encoder_layer_matches_torch(case):
    kw = ENCODER_CASES[case]
    torch.manual_seed(2)
    tl = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, **kw).double().eval()
    hl = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, **kw).double().eval()
    assert list(hl.state_dict()) == list(tl.state_dict())
    hl.load_state_dict(tl.state_dict())
    x = randn(3, 5, 8, seed=8)
    seq = 5 if kw.get("batch_first") else 3
    mask = torch.nn.Transformer.generate_square_subsequent_mask(seq, dtype=torch.float64)
    kpm = torch.zeros(5 if not kw.get("batch_first") else 3, seq, dtype=torch.bool)
    kpm[1, -1] = True
    close(hl(h(x)), tl(x))
    close(hl(h(x), src_mask=h(mask), is_causal=True), tl(x, src_mask=mask, is_causal=True))
    close(hl(h(x), src_key_padding_mask=h(kpm)), tl(x, src_key_padding_mask=kpm))


def test_transformer_encoder_stack_and_activation_module():
    torch.manual_seed(3)
    tl = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation=torch.nn.GELU(), batch_first=True)
    te = torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).double().eval()
    hl = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation=nn.GELU(), batch_first=True)
    he = nn.TransformerEncoder(hl, 2, norm=nn.LayerNorm(8)).double().eval()
    assert list(he.state_dict()) == list(te.state_dict())
    he.load_state_dict(te.state_dict())
    x = randn(2, 4, 8, seed=9)
    close(he(h(x)), te(x))
    he.train()
    assert tuple(he(h(x)).shape) == (2, 4, 8)
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
