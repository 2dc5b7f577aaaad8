"""hyflow.nn.functional: layers and losses as functions (torch.nn.functional's names and arguments).

Everything here is composed of op-table ops (im2col/col2im, max_pool2d_with_indices and layer_norm are C++
kernels with their own backward ops), so autograd differentiates it with no extra code.
"""
import numbers

from .. import _C

__all__ = ["linear", "relu", "gelu", "silu", "tanh", "sigmoid", "softplus", "softmax", "log_softmax", "softmin",
           "leaky_relu", "elu", "hardtanh", "relu6", "dropout", "dropout2d", "pad", "normalize", "layer_norm",
           "group_norm", "adaptive_avg_pool2d", "interpolate", "batch_norm", "embedding", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "unfold",
           "mse_loss", "l1_loss", "smooth_l1_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "one_hot", "scaled_dot_product_attention"]

_ops = _C.ops


def _reduce(loss, reduction, fn):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{fn}(): reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _pair(v, n, fn, what):
    """A spatial argument of conv, unfold or pooling as a tuple of n ints (an int stands for all n). As torch:
    anything but ints (a float, a bool) is a TypeError; a wrong count is a ValueError (torch: RuntimeError)."""
    if _is_int(v):
        return (int(v),) * n
    if not isinstance(v, (tuple, list)) or not all(_is_int(i) for i in v):
        raise TypeError(f"{fn}(): {what} must be an int or a tuple of {n} ints, got {v!r}")
    if len(v) != n:
        raise ValueError(f"{fn}(): {what} must be an int or a tuple of {n} ints, got {tuple(v)!r}")
    return tuple(int(i) for i in v)


def _check_same_dtype(fn, input, weight, bias):
    """Layers take inputs of their parameters' dtype, as in torch: promoting a float64 batch through a float32
    layer would silently change the result's dtype (and hide the bug), so a mismatch raises."""
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise RuntimeError(f"{fn}(): input and {name} must have the same dtype, but got {input.dtype} and "
                               f"{t.dtype}; convert the input with .to({t.dtype}) (or the module with .to(dtype))")


_REDUCED = (_C.float16, _C.bfloat16)


def _check_norm_dtypes(fn, input, params):
    """torch's rule for batch_norm's tensors (CPU "mixed dtype"): every parameter/buffer has the input's dtype,
    or the input is float16/bfloat16 and every one is float32. Anything else raises RuntimeError, as a float64
    batch through a float32 layer does for linear and conv (no silent promotion to a float64 result)."""
    given = [(name, t) for name, t in params if t is not None]
    if all(t.dtype == input.dtype for _, t in given):
        if not input.is_floating_point():
            raise RuntimeError(f"{fn}(): input must be a floating-point tensor, got {input.dtype}")
        return
    if input.dtype in _REDUCED and all(t.dtype == _C.float32 for _, t in given):
        return
    name, t = next((n, t) for n, t in given if t.dtype != input.dtype)
    raise RuntimeError(f"{fn}(): input and {name} must have the same dtype (or float32 {name} for a float16/"
                       f"bfloat16 input), but got {input.dtype} and {t.dtype}; convert the input with "
                       f".to({t.dtype}) (or the module with .to(dtype))")


def _autocast_layer(input, weight, bias):
    """Inside ``hy.autocast`` a layer runs in the region's dtype, bias included (torch's autocast lists
    linear and conv as lower precision); its matmul alone would leave the bias add in float32."""
    if not _C._amp.is_active():
        return input, weight, bias
    cast = _C._amp.cast_lower
    return cast(input), cast(weight), (None if bias is None else cast(bias))


# ---- activations -------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, weight of shape (out_features, in_features)."""
    input, weight, bias = _autocast_layer(input, weight, bias)
    _check_same_dtype("linear", input, weight, bias)
    if input.dim() == 2 and bias is not None:
        return _ops.addmm(bias, input, weight.T)
    out = _ops.matmul(input, weight.T)
    return out if bias is None else out + bias


def relu(input, inplace=False):
    return input.relu()


def gelu(input, approximate="none"):
    return _ops.gelu(input, approximate)


def silu(input, inplace=False):
    return input.silu()


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def softplus(input, beta=1.0, threshold=20.0):
    return _ops.softplus(input, beta, threshold)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _ops.softmax(input, _softmax_dim("softmax", input.dim(), dim, _stacklevel), dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _ops.log_softmax(input, _softmax_dim("log_softmax", input.dim(), dim, _stacklevel), dtype=dtype)


def _softmax_dim(name, ndim, dim, stacklevel):
    """torch's implicit dim (deprecated there, with a warning): 0 for 0-, 1- and 3-D inputs, else 1.

    ``stacklevel`` is the caller's ``_stacklevel`` (torch's argument): counted from this function, so the
    default 3 names the line that called softmax, and nn.Softmax passes 5 to name the line that called the
    module (through Module.__call__ and forward)."""
    if dim is not None:
        return dim
    import warnings
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-input) along dim (torch's argument order; _stacklevel places the implicit-dim warning)."""
    dim = _softmax_dim("softmin", input.dim(), dim, _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return _ops.softmax(-input, dim)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, negative_slope * x elsewhere (gradient negative_slope at 0, as torch)."""
    return _ops.where(input > 0, input, input * negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, alpha * (exp(x) - 1) elsewhere."""
    # expm1 of the kept side only: expm1 of a large positive x is inf, and where's zero gradient times
    # expm1's derivative (inf) would be NaN in the input's gradient.
    return _ops.where(input > 0, input, _ops.expm1(input.clamp(max=0)) * alpha)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """input clamped to [min_val, max_val]; like torch, the gradient is 0 at and beyond either bound."""
    if min_val > max_val:
        raise ValueError(f"hardtanh(): min_val ({min_val}) cannot be greater than max_val ({max_val})")
    inside = (input > min_val).logical_and(input < max_val)
    return _ops.where(inside, input, _ops.clamp(input, min_val, max_val).detach())


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0)


def _check_dropout_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _drop(input, p, training, generator, mask_shape):
    """input times a keep-mask of ``mask_shape`` (broadcast over the input: whole channels for dropout2d),
    each entry kept with probability 1 - p, and the kept scaled by 1/(1-p); identity when not training.
    The mask is drawn from `generator` (a hy.Generator) or the default generator, so it is seeded."""
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = _ops.rand(mask_shape, generator=generator, dtype=input.dtype, device=input.device) >= p
    return input * keep.to(input.dtype) * (1.0 / (1.0 - p))


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero each element with probability p and scale the rest by 1/(1-p); identity when not training."""
    _check_dropout_p(p)
    return _drop(input, p, training, generator, list(input.shape))


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels (input[n, c]) with probability p and scale the rest by 1/(1-p); identity when not
    training. As torch, a 3-D input is taken as (N, C, L) (torch warns that this will change), and other
    dims than 3 or 4 warn; fewer than 2 dims raise."""
    import warnings
    _check_dropout_p(p)
    d = input.dim()
    if d not in (3, 4):
        warnings.warn(f"dropout2d: Received a {d}-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead.", stacklevel=2)
    if d == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim.",
                      stacklevel=2)
    if d < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return _drop(input, p, training, generator, list(input.shape[:2]) + [1] * (d - 2))


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: ``pad`` holds (before, after) pairs from the last dim backwards; mode
    'constant' (fill ``value``, default 0; negative pads crop), 'reflect', 'replicate' or 'circular'.
    The non-constant modes pad the last 1, 2 or 3 dims of an input with one or two more dims, as torch."""
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    pad = list(pad)
    for i, v in enumerate(pad):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but found element of type "
                            f"{type(v).__name__} at pos {i}")
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    d = input.dim()
    if len(pad) > 2 * d:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {d}")
    if mode == "constant":
        return _ops.pad(input, [int(v) for v in pad], "constant", 0.0 if value is None else float(value))
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    k = len(pad) // 2
    if k not in (1, 2, 3) or d not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {d}D input tensor.\nSupported combinations for "
            "non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads last dimension)\n  - 3D or 4D "
            "input: padding size = 4 (pads last 2 dimensions)\n  - 4D or 5D input: padding size = 6 (pads last "
            "3 dimensions)")
    pad = [int(v) for v in pad]
    if not (input.requires_grad and _C._autograd.is_grad_enabled()):
        return _ops.pad(input, pad, mode)
    # The op has no backward for these modes yet: gather the same elements with index_select, dim by dim
    # (differentiable: its backward scatters the gradient of every copy back to its source). The op still
    # checks the sizes (reflect pads < size, ...), on an empty tensor with the padded dims' sizes: its
    # checks read only those, and an empty result is returned before any copy.
    _ops.pad(_ops.empty([0] + list(input.shape[d - k:]), dtype=input.dtype), pad, mode)
    import numpy as np
    x = input
    for i in range(k):
        dim, (a, b) = d - 1 - i, pad[2 * i:2 * i + 2]
        n = x.shape[dim]
        j = np.arange(-a, n + b)
        if mode == "reflect":
            m = np.abs(j) % max(1, 2 * n - 2)
            j = np.where(m < n, m, 2 * n - 2 - m)
        elif mode == "replicate":
            j = np.clip(j, 0, n - 1)
        else:
            j = j % n
        x = _ops.index_select(x, dim, _C.from_numpy(np.ascontiguousarray(j, dtype=np.int64)))
    return x


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps) (the norm kept as a size-1 dim and broadcast)."""
    if out is not None:
        raise NotImplementedError("normalize(): out= is not supported")
    denom = input.norm(p, [dim], keepdim=True).clamp(min=eps)
    return input / denom


# ---- normalization -----------------------------------------------------------------------------
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing ``normalized_shape`` dims, then scale by ``weight`` and shift by ``bias``
    (each optional). One op-table op (``layer_norm``: one pass per row, float16/bfloat16 read in blocks
    with float32 statistics); its backward is one pass too, and hy.compile fuses it with its neighbours."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    n = len(normalized_shape)
    if tuple(input.shape[input.dim() - n:]) != normalized_shape or input.dim() < n:
        raise ValueError(f"layer_norm(): input of shape {tuple(input.shape)} does not end with normalized_shape "
                         f"{normalized_shape}")
    try:
        return _ops.layer_norm(input, list(normalized_shape), weight, bias, float(eps))[0]
    except TypeError as e:
        # the op refuses another dtype's weight/bias (float32 ones are fine for float16/bfloat16 input) or an
        # integer input with TypeError; torch raises RuntimeError, as linear and conv do here
        msg = str(e)
        if msg.startswith("layer_norm") and ("dtype" in msg or "floating-point" in msg):
            raise RuntimeError(msg) from None
        raise


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalize over every dim but 1 (channels). In training, batch statistics are used and the running
    buffers are updated in place (unbiased variance), like torch."""
    if input.dim() < 2:
        raise ValueError(f"batch_norm(): input must have at least 2 dims (N, C, ...), got shape {tuple(input.shape)}")
    _check_norm_dtypes("batch_norm", input, (("running_mean", running_mean), ("running_var", running_var),
                                             ("weight", weight), ("bias", bias)))
    out_dtype = input.dtype
    if out_dtype in _REDUCED:
        # float16/bfloat16: statistics in float32 (torch's CPU kernel accumulates in float too), result in the
        # input's dtype whether the parameters are float32 (torch's mixed mode) or of the input's dtype
        input = input.to(_C.float32)
    c = input.shape[1]
    dims = [0] + list(range(2, input.dim()))
    bshape = [1, c] + [1] * (input.dim() - 2)
    if training:
        n = input.numel() // c
        if n <= 1:
            raise ValueError(f"batch_norm(): expected more than 1 value per channel when training, got input shape "
                             f"{tuple(input.shape)}")
        mean = input.mean(dims, keepdim=True)
        xc = input - mean
        var = (xc * xc).mean(dims, keepdim=True)
        if running_mean is not None:
            from ..autograd import no_grad
            with no_grad():
                m = mean.detach().reshape([c]).to(running_mean.dtype)
                v = var.detach().reshape([c]).to(running_var.dtype) * (n / (n - 1))
                running_mean.mul_(1.0 - momentum).add_(m * momentum)
                running_var.mul_(1.0 - momentum).add_(v * momentum)
        out = xc * (var + eps).rsqrt()
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm(): running_mean and running_var are needed when training=False")
        out = (input - running_mean.reshape(bshape)) * (running_var.reshape(bshape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(bshape)
    if bias is not None:
        out = out + bias.reshape(bshape)
    return out if out.dtype == out_dtype else out.to(out_dtype)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize each of num_groups groups of channels of each sample (over the group's channels and every
    spatial position, biased variance), then scale/shift per channel by weight/bias (each optional)."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.shape[0] != c):
            raise RuntimeError(f"group_norm(): expected {name} to be a vector of size {c} (the number of "
                               f"channels), got shape {tuple(t.shape)}")
    _check_norm_dtypes("group_norm", input, (("weight", weight), ("bias", bias)))
    out_dtype = input.dtype
    x = input.to(_C.float32) if out_dtype in _REDUCED else input
    if input.numel() == 0:
        return input.clone()
    g = x.reshape([n, num_groups, -1])
    mean = g.mean([2], keepdim=True)
    xc = g - mean
    var = (xc * xc).mean([2], keepdim=True)
    out = (xc * (var + eps).rsqrt()).reshape(list(input.shape))
    bshape = [1, c] + [1] * (input.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(bshape)
    if bias is not None:
        out = out + bias.reshape(bshape)
    return out if out.dtype == out_dtype else out.to(out_dtype)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight picked by the integer tensor input; output shape input.shape + (embedding_dim,).

    The row at padding_idx gets no gradient. With max_norm, the rows that input looks up and whose
    norm_type-norm exceeds max_norm are first rescaled in place to norm max_norm (as torch does)."""
    if input.is_floating_point():
        raise TypeError(f"embedding(): indices must be an integer tensor, got {input.dtype}")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding(): scale_grad_by_freq and sparse gradients are not supported")
    idx = input.reshape([-1])
    if idx.dtype != _C.int64:
        idx = idx.to(_C.int64)
    if max_norm is not None:
        _embedding_renorm_(weight, idx, max_norm, norm_type)
    out = _ops.index_select(weight, 0, idx)
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += weight.shape[0]
        keep = (idx != padding_idx).to(weight.dtype).reshape([-1, 1])
        out = out * keep + out.detach() * (1 - keep)
    return out.reshape(list(input.shape) + [weight.shape[1]])


def _embedding_renorm_(weight, idx, max_norm, norm_type):
    # torch's embedding_renorm_: each looked-up row once, scaled by max_norm / (norm + 1e-7), outside autograd
    # (the weight is modified in place like an optimizer step would)
    import numpy as np
    from ..autograd import no_grad
    if max_norm <= 0:
        raise ValueError(f"embedding(): max_norm must be positive, got {max_norm}")
    rows = np.unique(idx.numpy())
    if rows.size == 0:
        return
    if rows.min() < -weight.shape[0] or rows.max() >= weight.shape[0]:
        raise IndexError(f"embedding(): index out of range for {weight.shape[0]} embeddings")
    with no_grad():
        sel = _C.from_numpy(np.ascontiguousarray(rows % weight.shape[0]))
        picked = _ops.index_select(weight.detach(), 0, sel)
        norms = picked.norm(norm_type, [1], keepdim=True)
        scale = _ops.where(norms > max_norm, max_norm / (norms + 1e-7), _ops.ones([], dtype=weight.dtype))
        weight.index_put_([sel], picked * scale)


def one_hot(tensor, num_classes=-1):
    if num_classes < 0:
        num_classes = int(tensor.max().item()) + 1
    ar = _ops.arange(0, num_classes, dtype=_C.int64)
    return (tensor.unsqueeze(-1) == ar).to(_C.int64)


# ---- convolution and pooling -------------------------------------------------------------------
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L) like torch.nn.functional.unfold."""
    k = _pair(kernel_size, 2, "unfold", "kernel_size")
    d, p, s = (_pair(dilation, 2, "unfold", "dilation"), _pair(padding, 2, "unfold", "padding"),
               _pair(stride, 2, "unfold", "stride"))
    if input.dim() != 4:
        raise ValueError(f"unfold(): input must be 4-D (N, C, H, W), got shape {tuple(input.shape)}")
    return _ops.im2col(input, list(k), list(d), list(p), list(s)).transpose(1, 2)


def _check_conv_channels(where, in_channels, out_channels, groups):
    """The channel counts and groups a convolution splits into GEMMs: all positive, channels divisible."""
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups <= 0:
        raise ValueError(f"{where}: groups must be a positive integer, got {groups!r}")
    if in_channels <= 0:
        raise ValueError(f"{where}: in_channels must be positive, got {in_channels}")
    if out_channels <= 0:
        raise ValueError(f"{where}: out_channels must be positive, got {out_channels}")
    if in_channels % groups:
        raise ValueError(f"{where}: in_channels ({in_channels}) must be divisible by groups ({groups})")
    if out_channels % groups:
        raise ValueError(f"{where}: out_channels ({out_channels}) must be divisible by groups ({groups})")


def _check_conv_values(where, stride, padding, dilation):
    """torch's rules and words for the spatial arguments (before any size is computed from them)."""
    if min(stride) <= 0:
        raise ValueError(f"{where}: non-positive stride is not supported, got stride={stride}")
    if min(padding) < 0:
        raise ValueError(f"{where}: negative padding is not supported, got padding={padding}")
    if min(dilation) <= 0:
        raise ValueError(f"{where}: dilation should be greater than zero, got dilation={dilation}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) as im2col + one GEMM, torch's argument conventions."""
    if input.dim() != 4 or weight.dim() != 4:
        raise ValueError(f"conv2d(): input and weight must be 4-D, got shapes {tuple(input.shape)} and "
                         f"{tuple(weight.shape)}")
    input, weight, bias = _autocast_layer(input, weight, bias)
    _check_same_dtype("conv2d", input, weight, bias)
    s, d = _pair(stride, 2, "conv2d", "stride"), _pair(dilation, 2, "conv2d", "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            if any(v != 1 for v in s):
                raise ValueError("conv2d(): padding='same' needs stride 1")
            tot = [d[i] * (weight.shape[2 + i] - 1) for i in range(2)]
            pads = [tot[1] // 2, tot[1] - tot[1] // 2, tot[0] // 2, tot[0] - tot[0] // 2]
            input = _ops.pad(input, pads)
            padding = 0
        else:
            raise ValueError(f"conv2d(): padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    p = _pair(padding, 2, "conv2d", "padding")
    _check_conv_values("conv2d()", s, p, d)
    n, c, _, _ = input.shape
    o, cg, kh, kw = weight.shape
    _check_conv_channels("conv2d()", c, o, groups)
    if c != cg * groups or o % groups:
        raise ValueError(f"conv2d(): weight of shape {tuple(weight.shape)} with groups={groups} does not fit input "
                         f"with {c} channels")
    ho = (input.shape[2] + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (input.shape[3] + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    if groups == 1:
        return _conv2d_blocks(input, weight, bias, [kh, kw], list(d), list(p), list(s), ho, wo)
    # im2col (C++ kernel) gives the patches as GEMM rows (N, Ho*Wo, C*kh*kw): one GEMM per group
    cols = _ops.im2col(input, [kh, kw], list(d), list(p), list(s))
    rows = cols.reshape([n * ho * wo, c * kh * kw])
    outs = []
    og, kg = o // groups, cg * kh * kw
    for g in range(groups):
        wg = _ops.slice(weight, 0, g * og, (g + 1) * og).reshape([og, kg])
        outs.append(_ops.matmul(_ops.slice(rows, 1, g * kg, (g + 1) * kg), wg.T))
    out = _ops.cat(outs, 1)
    if bias is not None:
        out = out + bias
    return out.reshape([n, ho, wo, o]).permute([0, 3, 1, 2])


# Patches of this many bytes (a block of images) are made and multiplied while they are still in cache.
_CONV_BLOCK_BYTES = 1 << 20


def _conv2d_blocks(input, weight, bias, k, d, p, s, ho, wo):
    """groups=1 convolution: for each block of images, im2col's (K, n, L) patches (stored patch-major,
    batch-inner) times the (O, K) weight in one GEMM, then the blocks joined in NCHW order.

    Why blocks: the patches of a whole batch (K * N * L floats: 42 MB for the MNIST net's 32->64 conv)
    stream through memory three times (im2col writes them, the GEMMs read them); a block of ~1 MiB stays
    in cache between im2col and its GEMM, and its gradient between the GEMM and col2im (that conv, forward
    and backward, 1 thread: 59 ms as one batch, 36 ms by single images; torch 25 ms). split's backward is
    one cat, so the input gradient is assembled once; the weight gradient sums the blocks' GEMMs."""
    n, o = input.shape[0], weight.shape[0]
    k_total = weight.shape[1] * k[0] * k[1]
    w2d = weight.reshape([o, k_total])
    per_image = max(1, k_total * ho * wo * input.element_size())
    step = max(1, _CONV_BLOCK_BYTES // per_image)
    outs = []
    for part in (_ops.split(input, step, 0) if step < n else [input]):
        m = part.shape[0]
        cols = _ops.im2col(part, k, d, p, s).permute([2, 0, 1]).reshape([k_total, m * ho * wo])
        # the bias rides on the GEMM (addmm's beta * self): no extra pass, and its gradient is a sum over
        # contiguous rows of each block's (O, n*L) gradient
        out = _ops.matmul(w2d, cols) if bias is None else _ops.addmm(bias.reshape([o, 1]), w2d, cols)
        outs.append(out.reshape([o, m, ho, wo]).permute([1, 0, 2, 3]))
    return _ops.cat(outs, 0) if len(outs) > 1 else outs[0].contiguous()  # NCHW, contiguous


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: conv2d on a height-1 image."""
    if input.dim() != 3 or weight.dim() != 3:
        raise ValueError(f"conv1d(): input and weight must be 3-D, got shapes {tuple(input.shape)} and "
                         f"{tuple(weight.shape)}")
    input, weight, bias = _autocast_layer(input, weight, bias)
    _check_same_dtype("conv1d", input, weight, bias)   # here, so the error names conv1d rather than conv2d
    _check_conv_channels("conv1d()", input.shape[1], weight.shape[0], groups)
    if not isinstance(padding, str):
        padding = (0,) + _pair(padding, 1, "conv1d", "padding")
    stride, dilation = _pair(stride, 1, "conv1d", "stride"), _pair(dilation, 1, "conv1d", "dilation")
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1,) + stride, padding, (1,) + dilation, groups)
    return out.squeeze(2)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (torch's argument order: output_padding before groups, dilation last).

    A (N, C_in, H, W) or unbatched (C_in, H, W) input and a (C_in, C_out / groups, kH, kW) weight give
    H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1 (W likewise). It is the
    op-table op conv_transpose2d (conv2d's input gradient: GEMM + col2im), differentiable twice."""
    if input.dim() not in (3, 4):
        raise ValueError(f"Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input of "
                         f"size: {list(input.shape)}")
    input, weight, bias = _autocast_layer(input, weight, bias)
    _check_same_dtype("conv_transpose2d", input, weight, bias)
    unbatched = input.dim() == 3
    x = input.unsqueeze(0) if unbatched else input
    fn = "conv_transpose2d"
    # the forms here (as conv2d's); the values (positive stride, ...) and shapes in the op, also ValueError
    out = _ops.conv_transpose2d(x, weight, bias, list(_pair(stride, 2, fn, "stride")),
                                list(_pair(padding, 2, fn, "padding")),
                                list(_pair(output_padding, 2, fn, "output_padding")), groups,
                                list(_pair(dilation, 2, fn, "dilation")))
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution: conv_transpose2d on a height-1 image ((N, C_in, L) or (C_in, L) input,
    (C_in, C_out / groups, k) weight)."""
    if input.dim() not in (2, 3) or weight.dim() != 3:
        raise ValueError(f"Expected 2D (unbatched) or 3D (batched) input and a 3-D weight for conv_transpose1d, "
                         f"but got input of size {list(input.shape)} and weight of size {list(weight.shape)}")
    s, p, op, d = (_pair(v, 1, "conv_transpose1d", name) for v, name in
                   ((stride, "stride"), (padding, "padding"), (output_padding, "output_padding"), (dilation, "dilation")))
    out = conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(2), bias, (1,) + s, (0,) + p, (0,) + op, groups,
                           (1,) + d)
    return out.squeeze(-2)


def _pool_hw(x, k, s, d):
    return [(x.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1, (x.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1]


def _pool_windows(x, k, s, d, fn):
    """(N, C, H, W), already padded -> (N*C, Ho*Wo, kh*kw) windows via the im2col kernel."""
    n, c, h, w = x.shape
    if h - d[0] * (k[0] - 1) - 1 < 0 or w - d[1] * (k[1] - 1) - 1 < 0:
        raise ValueError(f"{fn}(): input of spatial size ({h}, {w}) (after padding) is smaller than the kernel {k} "
                         f"with dilation {d}")
    return _ops.im2col(x.reshape([n * c, 1, h, w]), list(k), list(d), [0, 0], list(s))


def _pool_args(kernel_size, stride, padding, fn):
    k = _pair(kernel_size, 2, fn, "kernel_size")
    s = k if stride is None or stride == () else _pair(stride, 2, fn, "stride")
    p = _pair(padding, 2, fn, "padding")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{fn}(): padding {p} must be at most half the kernel size {k}")
    return k, s, p


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if ceil_mode or return_indices:
        raise NotImplementedError("max_pool2d(): ceil_mode and return_indices are not supported yet")
    k, s, p = _pool_args(kernel_size, stride, padding, "max_pool2d")
    d = _pair(dilation, 2, "max_pool2d", "dilation")
    squeeze = input.dim() == 3
    x = input.unsqueeze(0) if squeeze else input
    if x.dim() != 4:
        raise ValueError(f"max_pool2d(): input must be 3-D or 4-D, got shape {tuple(input.shape)}")
    out = _ops.max_pool2d_with_indices(x, list(k), list(s), list(p), list(d))[0]
    return out.squeeze(0) if squeeze else out


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    if ceil_mode or not count_include_pad:
        raise NotImplementedError("avg_pool2d(): ceil_mode and count_include_pad=False are not supported yet")
    k, s, p = _pool_args(kernel_size, stride, padding, "avg_pool2d")
    squeeze = input.dim() == 3
    x = input.unsqueeze(0) if squeeze else input
    if x.dim() != 4:
        raise ValueError(f"avg_pool2d(): input must be 3-D or 4-D, got shape {tuple(input.shape)}")
    if any(p):
        x = _ops.pad(x, [p[1], p[1], p[0], p[0]])
    out = _pool_windows(x, k, s, (1, 1), "avg_pool2d").sum([2]) * (1.0 / (divisor_override or k[0] * k[1]))
    out = out.reshape([x.shape[0], x.shape[1]] + _pool_hw(x, k, s, (1, 1)))
    return out.squeeze(0) if squeeze else out


def _adaptive_matrix(n_in, n_out, dtype, device):
    """(n_out, n_in) averaging matrix: row i is 1/len over torch's window [floor(i*n_in/n_out),
    ceil((i+1)*n_in/n_out))."""
    import numpy as np
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        a, b = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, a:b] = 1.0 / (b - a)
    return _C.from_numpy(m).to(device=device, dtype=dtype)   # on the input's device


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (H_out, W_out): output[i, j] is the mean of input rows
    floor(i*H/H_out) .. ceil((i+1)*H/H_out) - 1 and the same for columns (torch's windows, which may
    overlap). output_size is an int or a pair whose None entries keep the input's size. The windows are
    separable, so it is two GEMMs with averaging matrices: A_h @ x @ A_w^T (differentiable as matmuls)."""
    d = input.dim()
    if d not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got {list(input.shape)}")
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    output_size = tuple(output_size)
    if len(output_size) != 2:
        raise RuntimeError("adaptive_avg_pool2d: output_size must be 2")
    h, w = input.shape[-2], input.shape[-1]
    oh, ow = (h if output_size[0] is None else output_size[0]), (w if output_size[1] is None else output_size[1])
    if oh < 0 or ow < 0:
        raise RuntimeError(f"adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
                           f"received {{{oh}, {ow}}}")
    for i in range(d - 2):
        if input.shape[i] == 0 and not (d == 4 and i == 0):
            raise RuntimeError(f"adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(input.shape)} with dimension {i} being empty")
    if not input.is_floating_point():
        raise RuntimeError(f"adaptive_avg_pool2d(): expected a floating-point input, got {input.dtype}")
    if (oh, ow) == (h, w):
        return input.clone()
    dt = _C.float32 if input.dtype in _REDUCED else input.dtype
    x = input.to(dt) if dt != input.dtype else input
    if h == 0 or w == 0:
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch "
                           f"dimensions, but input has sizes {list(input.shape)}")
    rows, cols = _adaptive_matrix(h, oh, dt, x.device), _adaptive_matrix(w, ow, dt, x.device)
    out = _ops.matmul(_ops.matmul(rows, x), cols.T)
    return out if out.dtype == input.dtype else out.to(input.dtype)


def _interp_matrix(n_in, n_out, scale, mode, align_corners, dtype, device):
    """(n_out, n_in) matrix taking a length-n_in axis to n_out samples: torch's nearest (floor(i * scale))
    or linear (half-pixel, or corner-aligned) rule; scale is in/out or 1/scale_factor as torch uses it."""
    import numpy as np
    m = np.zeros((n_out, n_in))
    i = np.arange(n_out)
    if mode == "nearest":
        m[i, np.minimum(np.floor(i * scale).astype(np.int64), n_in - 1)] = 1.0
    else:
        if align_corners:
            src = i * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
        else:
            src = np.maximum((i + 0.5) * scale - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        lam = src - i0
        np.add.at(m, (i, i0), 1.0 - lam)
        np.add.at(m, (i, i1), lam)
    return _C.from_numpy(m).to(device=device, dtype=dtype)   # on the input's device


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the two spatial dims of an (N, C, H, W) input: mode 'nearest' or 'bilinear' (align_corners),
    to ``size`` or by ``scale_factor`` (output floor(H * scale_factor)), torch's sampling rules. Each is
    separable, so it is two GEMMs with (H_out, H) and (W_out, W) matrices, differentiable as matmuls."""
    if mode not in ("nearest", "bilinear"):
        raise NotImplementedError(f"interpolate(): mode {mode!r} is not supported (only 'nearest' and 'bilinear')")
    if antialias:
        raise NotImplementedError("interpolate(): antialias=True is not supported")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    if input.dim() != 4:
        raise NotImplementedError(f"interpolate(): only 4-D input (N, C, H, W) is supported, got "
                                  f"{input.dim()}-D")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    h, w = input.shape[2], input.shape[3]
    if size is not None:
        out = (size, size) if isinstance(size, int) else tuple(size)
        if len(out) != 2:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {[h, w]} and output size of {list(out)}. Please provide input "
                             "tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.")
        scales = (h / out[0] if out[0] else 0.0, w / out[1] if out[1] else 0.0)
    else:
        sf = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        if len(sf) != 2:
            raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {[h, w]} and scale_factor of shape {list(sf)}.")
        out = (int(h * sf[0]), int(w * sf[1]))
        scales = ((h / out[0]) if recompute_scale_factor else 1.0 / sf[0],
                  (w / out[1]) if recompute_scale_factor else 1.0 / sf[1])
    if out[0] <= 0 or out[1] <= 0:
        raise RuntimeError(f"interpolate(): the output size {tuple(out)} must be positive")
    if not input.is_floating_point():
        raise RuntimeError(f"interpolate(): expected a floating-point input, got {input.dtype}")
    dt = _C.float32 if input.dtype in _REDUCED else input.dtype
    x = input.to(dt) if dt != input.dtype else input
    ac = bool(align_corners)
    res = _ops.matmul(_ops.matmul(_interp_matrix(h, out[0], scales[0], mode, ac, dt, x.device), x),
                      _interp_matrix(w, out[1], scales[1], mode, ac, dt, x.device).T)
    return res if res.dtype == input.dtype else res.to(input.dtype)


# ---- losses ------------------------------------------------------------------------------------
def _check_same_shape(input, target, fn):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{fn}(): input shape {tuple(input.shape)} and target shape {tuple(target.shape)} differ")


def mse_loss(input, target, reduction="mean"):
    _check_same_shape(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input, target, reduction="mean"):
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    _check_same_shape(input, target, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss(): beta must be >= 0, got {beta}")
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    loss = _ops.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def _class_last(input, target, fn):
    """(N, C, d1, ...) -> (N*d1*..., C), target (N, d1, ...) -> (N*d1*...)."""
    if input.dim() == 1:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    if input.dim() < 2:
        raise ValueError(f"{fn}(): input must be (N, C) or (N, C, d1, ...), got shape {tuple(input.shape)}")
    c = input.shape[1]
    exp_t = tuple([input.shape[0]] + list(input.shape[2:]))
    if tuple(target.shape) != exp_t:
        raise ValueError(f"{fn}(): target shape {tuple(target.shape)} does not match input shape "
                         f"{tuple(input.shape)} (expected {exp_t})")
    if input.dim() > 2:
        perm = [0] + list(range(2, input.dim())) + [1]
        input = input.permute(perm).reshape([-1, c])
        target = target.reshape([-1])
    return input, target, exp_t


def _nll_parts(logp, target, weight, ignore_index, fn):
    if target.is_floating_point():
        raise TypeError(f"{fn}(): target must hold class indices (an integer tensor), got {target.dtype}; "
                        "probability targets are not supported yet")
    c = logp.shape[1]
    target = target.to(_C.int64)
    valid = target != ignore_index
    safe_t = _ops.where(valid, target, _ops.zeros([], dtype=_C.int64))
    if target.numel() and bool(((safe_t < 0) | (safe_t >= c)).any().item()):
        raise IndexError(f"{fn}(): target values must be in [0, {c}) or ignore_index={ignore_index}")
    if weight is not None and weight.dtype != logp.dtype and not _C._amp.is_active():
        raise RuntimeError(f"{fn}(): weight must have the input's dtype, but got {weight.dtype} weight for "
                           f"{logp.dtype} input; convert it with weight.to({logp.dtype})")
    validf = valid.to(logp.dtype)
    w = validf if weight is None else _ops.index_select(weight, 0, safe_t) * validf
    picked = -_ops.gather(logp, 1, safe_t.unsqueeze(1)).squeeze(1)
    return picked * w, w


def _finish(loss, w, reduction, shape, fn):
    if reduction == "mean":
        return loss.sum() / w.sum()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss.reshape(list(shape))
    raise ValueError(f"{fn}(): reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log likelihood of class-index targets given log-probabilities input (N, C[, d...])."""
    logp, t, shape = _class_last(input, target, "nll_loss")
    loss, w = _nll_parts(logp, t, weight, ignore_index, "nll_loss")
    return _finish(loss, w, reduction, shape, "nll_loss")


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """log_softmax + nll_loss over dim 1, with torch's label_smoothing and ignore_index semantics."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy(): label_smoothing must be in [0, 1], got {label_smoothing}")
    logits, t, shape = _class_last(input, target, "cross_entropy")
    logp = _ops.log_softmax(logits, 1)
    loss, w = _nll_parts(logp, t, weight, ignore_index, "cross_entropy")
    if label_smoothing > 0:
        c = logp.shape[1]
        valid = (t.to(_C.int64) != ignore_index).to(logp.dtype)
        lw = logp if weight is None else logp * weight
        smooth = -lw.sum([1]) * valid
        if reduction == "mean":
            denom = w.sum()
            return (1 - label_smoothing) * (loss.sum() / denom) + (label_smoothing / c) * (smooth.sum() / denom)
        loss = (1 - label_smoothing) * loss + (label_smoothing / c) * smooth
    return _finish(loss, w, reduction, shape, "cross_entropy")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)) on probabilities x, each log clamped at -100 as in torch (so x = 0 or 1
    gives a finite loss); weight broadcasts against input."""
    _check_legacy_reduction("binary_cross_entropy", size_average, reduce)
    _check_same_shape(input, target, "binary_cross_entropy")
    if target.dtype != input.dtype:
        raise RuntimeError(f"binary_cross_entropy(): input and target must have the same dtype, but got "
                           f"{input.dtype} and {target.dtype}; convert the target with .to({input.dtype})")
    if input.numel() and bool(((input < 0) | (input > 1)).any().item()):
        raise ValueError("binary_cross_entropy(): all elements of input should be between 0 and 1 (use "
                         "binary_cross_entropy_with_logits for logits)")
    log_x = _ops.clamp(input.log(), -100.0, None)
    log_1mx = _ops.clamp((-input).log1p(), -100.0, None)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross entropy in one numerically stable formula; pos_weight (one weight per class,
    broadcast along the last dim) weighs the positive term, weight the whole loss."""
    _check_legacy_reduction("binary_cross_entropy_with_logits", size_average, reduce)
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    sp_neg = (-input.abs()).exp().log1p() + (-input).relu()     # softplus(-x), stable
    if pos_weight is None:
        loss = (1 - target) * input + sp_neg
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * sp_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _check_legacy_reduction(fn, size_average, reduce):
    # torch's deprecated size_average/reduce pair: accepted positionally only to keep torch's argument order, so
    # a migrating call that passes them gets told what to write instead of a silent wrong reduction
    if size_average is not None or reduce is not None:
        raise ValueError(f"{fn}(): size_average and reduce are deprecated in torch and not supported; pass "
                         "reduction='mean'|'sum'|'none'")


from ._attention import scaled_dot_product_attention  # noqa: E402,F401 (attention lives in its own file)
