"""scaled_dot_product_attention, written with op-table ops (torch's "math" backend formula).

    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)     # q (N, H, L, E), k/v (N, H, S, E)

There is no fused kernel yet: the scores (..., L, S) are materialized, so memory grows with L * S. The causal
mask is ones(L, S, bool).tril(), top-left aligned like torch's. A query row whose mask excludes every key gets
zero weights (output 0, gradients 0), as torch's _safe_softmax gives, not NaN.
"""
import math

from .. import _C

__all__ = ["scaled_dot_product_attention", "causal_mask"]

_ops = _C.ops


def causal_mask(length, source_length, device=None):
    """Bool (length, source_length) mask, True where query i may attend key j (j <= i): torch's
    ones(L, S, dtype=bool).tril()."""
    return _ops.tril(_ops.ones([length, source_length], dtype=_C.bool, device=device))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False, generator=None):
    """softmax(q @ k^T * scale + mask) @ v over the last two dims, like torch.nn.functional.

    attn_mask: bool (True = may attend) or float (added to the scores), broadcast to (..., L, S); is_causal
    masks keys after each query (and excludes attn_mask); dropout_p drops attention weights (from `generator`
    or the default generator); scale defaults to 1/sqrt(E); enable_gqa repeats the key/value heads (dim -3)
    to the query's head count."""
    fn = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, _C.Tensor):
            raise TypeError(f"{fn}(): {name} must be a Tensor, got {type(t).__name__}")
        if t.dim() < 2:
            raise ValueError(f"{fn}(): {name} must have at least 2 dims (..., seq, features), got shape "
                             f"{tuple(t.shape)}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"{fn}(): query and key need the same feature size, got {tuple(query.shape)} and "
                         f"{tuple(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{fn}(): key and value need the same sequence length, got {tuple(key.shape)} and "
                         f"{tuple(value.shape)}")
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise RuntimeError(f"{fn}(): query, key and value must have the same dtype, got {query.dtype}, "
                           f"{key.dtype} and {value.dtype}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{fn}(): pass either attn_mask or is_causal=True, not both")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{fn}(): dropout_p must be in [0, 1], got {dropout_p}")
    if enable_gqa:
        key, value = _repeat_heads(key, query, fn), _repeat_heads(value, query, fn)
    length, source_length = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = _ops.matmul(query, key.transpose(-2, -1)) * scale
    if is_causal:
        attn_mask = causal_mask(length, source_length, query.device)
    dead = None
    if attn_mask is not None:
        scores, dead = _apply_mask(scores, attn_mask, fn)
    weights = _ops.softmax(scores, -1)
    if dead is not None:
        weights = _ops.masked_fill(weights, dead, 0.0)
    if dropout_p > 0.0:
        from .functional import dropout
        weights = dropout(weights, dropout_p, True, generator=generator)
    return _ops.matmul(weights, value)


def _apply_mask(scores, attn_mask, fn):
    """(masked scores, dead): dead (..., L, 1) is True on query rows whose mask excludes every key. Those rows
    are left unmasked here (finite scores, so softmax and its backward stay finite) and the caller zeroes their
    weights afterwards: torch's _safe_softmax, output 0 and gradients 0 instead of NaN. The extra work is on
    the mask (usually smaller than the scores) plus one masked_fill of the weights."""
    if not isinstance(attn_mask, _C.Tensor):
        raise TypeError(f"{fn}(): attn_mask must be a Tensor, got {type(attn_mask).__name__}")
    if attn_mask.dtype == _C.bool:
        excluded = attn_mask.logical_not()
        dead = excluded.all(-1, keepdim=True)
        return _ops.masked_fill(scores, excluded.logical_and(dead.logical_not()), float("-inf")), dead
    if not attn_mask.is_floating_point():
        raise TypeError(f"{fn}(): attn_mask must be bool or floating point, got {attn_mask.dtype}")
    attn_mask = attn_mask.to(scores.dtype)
    dead = (attn_mask == float("-inf")).all(-1, keepdim=True)
    return scores + _ops.masked_fill(attn_mask, dead, 0.0), dead


def _repeat_heads(t, query, fn):
    # (.., Hkv, S, E) -> (.., Hq, S, E): each key/value head serves Hq / Hkv consecutive query heads
    if t.dim() < 3 or query.dim() < 3:
        raise ValueError(f"{fn}(): enable_gqa needs (..., heads, seq, features) inputs")
    hq, hkv = query.shape[-3], t.shape[-3]
    if hq % hkv:
        raise ValueError(f"{fn}(): enable_gqa needs the query heads ({hq}) to be a multiple of the key/value "
                         f"heads ({hkv})")
    if hq == hkv:
        return t
    shape = list(t.shape)
    expanded = t.unsqueeze(-3).expand(shape[:-2] + [hq // hkv] + shape[-2:])
    return expanded.reshape(shape[:-3] + [hq] + shape[-2:])
