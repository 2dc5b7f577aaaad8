"""MultiheadAttention, TransformerEncoderLayer and TransformerEncoder with torch's parameter layout.

    attn = nn.MultiheadAttention(64, 8, batch_first=True)
    attn.load_state_dict(torch_attn.state_dict())     # in_proj_weight (3E, E), in_proj_bias, out_proj.*
    out, weights = attn(x, x, x, key_padding_mask=pad)  # weights averaged over heads: (N, L, S)

Masks follow torch.nn.MultiheadAttention (not scaled_dot_product_attention): a bool attn_mask or
key_padding_mask is True where attention is NOT allowed; a float mask is added to the scores.
"""
import copy
import math

from .. import _C
from . import functional as F
from . import init
from .layers import Dropout, LayerNorm, Linear, ModuleList, _empty, check_device
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]

_ops = _C.ops


class MultiheadAttention(Module):
    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        check_device(device)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, got {embed_dim} and "
                             f"{num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self.head_dim = embed_dim // num_heads
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(_empty((3 * embed_dim, embed_dim), dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(_empty((embed_dim, embed_dim), dtype))
            self.k_proj_weight = Parameter(_empty((embed_dim, self.kdim), dtype))
            self.v_proj_weight = Parameter(_empty((embed_dim, self.vdim), dtype))
        if bias:
            self.in_proj_bias = Parameter(_empty((3 * embed_dim,), dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(_empty((1, 1, embed_dim), dtype))
            self.bias_v = Parameter(_empty((1, 1, embed_dim), dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        # torch's: xavier_uniform_ projections, zero biases, xavier_normal_ bias_k/bias_v
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def _projections(self, query, key, value):
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[0:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[0:e], w[e:2 * e], w[2 * e:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """-> (attn_output, attn_weights or None). Inputs (L, N, E), (N, L, E) with batch_first, or (L, E)."""
        if query.dim() not in (2, 3) or key.dim() != query.dim() or value.dim() != query.dim():
            raise ValueError(f"MultiheadAttention: query, key and value must all be 2-D (unbatched) or 3-D, got "
                             f"shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal=True is a hint that attn_mask is the causal mask; "
                               "pass attn_mask too (bool, True above the diagonal, or float, -inf there)")
        batched = query.dim() == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if query.shape[2] != self.embed_dim:
            raise ValueError(f"MultiheadAttention: was expecting embedding dimension of {self.embed_dim}, but got "
                             f"{query.shape[2]}")
        length, n = query.shape[0], query.shape[1]
        q, k, v = self._projections(query, key, value)          # time-major (L, N, E)
        if self.bias_k is not None:
            k = _ops.cat([k, self.bias_k.expand([1, n, self.embed_dim])], 0)
            v = _ops.cat([v, self.bias_v.expand([1, n, self.embed_dim])], 0)
            attn_mask, key_padding_mask = _pad_mask(attn_mask), _pad_mask(key_padding_mask)
        h, hd = self.num_heads, self.head_dim
        q = q.reshape([length, n * h, hd]).transpose(0, 1)      # (N*H, L, hd)
        k = k.reshape([k.shape[0], n * h, hd]).transpose(0, 1)
        v = v.reshape([v.shape[0], n * h, hd]).transpose(0, 1)
        if self.add_zero_attn:
            k = _ops.cat([k, _ops.zeros([n * h, 1, hd], dtype=k.dtype)], 1)
            v = _ops.cat([v, _ops.zeros([n * h, 1, hd], dtype=v.dtype)], 1)
            attn_mask, key_padding_mask = _pad_mask(attn_mask), _pad_mask(key_padding_mask)
        source = k.shape[1]
        mask = self._merged_mask(attn_mask, key_padding_mask, n, length, source, q.dtype)
        scores = _ops.matmul(q * (1.0 / math.sqrt(hd)), k.transpose(1, 2))   # (N*H, L, S)
        if mask is not None:
            scores = scores + mask
        weights = _ops.softmax(scores, -1)
        if self.dropout > 0.0 and self.training:
            weights = F.dropout(weights, self.dropout, True)
        out = _ops.matmul(weights, v)                           # (N*H, L, hd)
        out = out.transpose(0, 1).reshape([length, n, self.embed_dim])
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        weights = weights.reshape([n, h, length, source])
        if average_attn_weights:
            weights = weights.mean([1])
        return out, (weights if batched else weights.squeeze(0))

    def _merged_mask(self, attn_mask, key_padding_mask, n, length, source, dtype):
        """attn_mask (L, S) or (N*H, L, S) plus key_padding_mask (N, S), as one float mask broadcast to
        (N*H, L, S) (None when neither is given)."""
        mask = None
        if attn_mask is not None:
            mask = _float_mask(attn_mask, dtype, "attn_mask")
            if mask.dim() == 2:
                if tuple(mask.shape) != (length, source):
                    raise RuntimeError(f"MultiheadAttention: the shape of the 2D attn_mask is {tuple(mask.shape)}, "
                                       f"but should be {(length, source)}")
                mask = mask.unsqueeze(0)
            elif tuple(mask.shape) != (n * self.num_heads, length, source):
                raise RuntimeError(f"MultiheadAttention: the shape of the 3D attn_mask is {tuple(mask.shape)}, but "
                                   f"should be {(n * self.num_heads, length, source)}")
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (n, source):
                raise RuntimeError(f"MultiheadAttention: expected key_padding_mask of shape {(n, source)}, got "
                                   f"{tuple(key_padding_mask.shape)}")
            kpm = _float_mask(key_padding_mask, dtype, "key_padding_mask").reshape([n, 1, 1, source])
            kpm = kpm.expand([n, self.num_heads, 1, source]).reshape([n * self.num_heads, 1, source])
            mask = kpm if mask is None else mask + kpm
        return mask


def _float_mask(mask, dtype, name):
    if not isinstance(mask, _C.Tensor):
        raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got {type(mask).__name__}")
    if mask.dtype == _C.bool:
        return _ops.masked_fill(_ops.zeros(list(mask.shape), dtype=dtype), mask, float("-inf"))
    if not mask.is_floating_point():
        raise TypeError(f"MultiheadAttention: only bool and floating types of {name} are supported, got "
                        f"{mask.dtype}")
    return mask.to(dtype)


def _pad_mask(mask):
    # one more key column (bias_k or the zero attention): allowed for every query (False / 0.0)
    if mask is None:
        return None
    return _ops.cat([mask, _ops.zeros(list(mask.shape[:-1]) + [1], dtype=mask.dtype)], -1)


class TransformerEncoderLayer(Module):
    """Self-attention + feed-forward block, post-norm by default (norm_first=True for pre-norm), as torch's."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in ("relu", "gelu"):
                raise RuntimeError(f"TransformerEncoderLayer: activation should be relu/gelu, not {activation}")
            activation = F.relu if activation == "relu" else F.gelu
        elif not callable(activation):
            raise TypeError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, got "
                            f"{type(activation).__name__}")
        self.activation = activation
        self.batch_first = batch_first

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer (layers.0, layers.1, ...), then the optional final norm."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer).__name__}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)
