"""im2col / col2im / conv_transpose2d (csrc/ops/table/conv.yaml) against NumPy loops."""
import numpy as np

from . import FLOAT, OpInfo, Sample, rand_array


def _geom(shape, k, d, p, s):
    ho = (shape[2] + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    wo = (shape[3] + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    return ho, wo


def ref_im2col(x, k, d, p, s):
    n, c, h, w = x.shape
    ho, wo = _geom(x.shape, k, d, p, s)
    xp = np.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])])
    out = np.zeros((n, ho * wo, c * k[0] * k[1]), dtype=x.dtype)
    for oh in range(ho):
        for ow in range(wo):
            patch = xp[:, :, oh * s[0]:oh * s[0] + d[0] * (k[0] - 1) + 1:d[0],
                       ow * s[1]:ow * s[1] + d[1] * (k[1] - 1) + 1:d[1]]
            out[:, oh * wo + ow, :] = patch.reshape(n, -1)
    return out


def ref_col2im(cols, size, k, d, p, s):
    n, c, h, w = size
    ho, wo = _geom(size, k, d, p, s)
    out = np.zeros((n, c, h + 2 * p[0], w + 2 * p[1]), dtype=np.float64)
    for oh in range(ho):
        for ow in range(wo):
            out[:, :, oh * s[0]:oh * s[0] + d[0] * (k[0] - 1) + 1:d[0],
                ow * s[1]:ow * s[1] + d[1] * (k[1] - 1) + 1:d[1]] += \
                cols[:, oh * wo + ow, :].astype(np.float64).reshape(n, c, k[0], k[1])
    return out[:, :, p[0]:p[0] + h, p[1]:p[1] + w].astype(cols.dtype)


_CASES = [((2, 3, 5, 6), [2, 3], [1, 1], [0, 0], [1, 1], "basic"),
          ((1, 2, 7, 7), [3, 3], [2, 1], [1, 2], [2, 1], "dilation, padding, stride"),
          ((2, 1, 4, 4), [1, 1], [1, 1], [0, 0], [2, 2], "1x1 strided")]


def im2col_samples(dtype, rng):
    for shape, k, d, p, s, desc in _CASES:
        yield Sample((rand_array(rng, shape, dtype), k, d, p, s), desc=desc)
    yield Sample((rand_array(rng, (2, 3, 5, 6), dtype, noncontig=True), [2, 2], [1, 1], [1, 1], [1, 1]),
                 desc="non-contiguous")


def col2im_samples(dtype, rng):
    for shape, k, d, p, s, desc in _CASES:
        ho, wo = _geom(shape, k, d, p, s)
        cols = rand_array(rng, (shape[0], ho * wo, shape[1] * k[0] * k[1]), dtype)
        yield Sample((cols, list(shape), k, d, p, s), desc=desc)


def ref_conv_transpose2d(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1,
                         dilation=(1, 1)):
    """Scatter form, in float64: input pixel (ih, iw) adds w[ci, co] * x into the padded output window at
    (ih * s, iw * s), taps spaced by the dilation; the padding is cut off at the end."""
    n, cin, h, wd = x.shape
    _, cout_g, kh, kw = w.shape
    s, p, op, d = stride, padding, output_padding, dilation
    ho = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op[0] + 1
    wo = (wd - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op[1] + 1
    full = np.zeros((n, cout_g * groups, max(ho + 2 * p[0], (h - 1) * s[0] + d[0] * (kh - 1) + 1),
                     max(wo + 2 * p[1], (wd - 1) * s[1] + d[1] * (kw - 1) + 1)))
    xf, wf = x.astype(np.float64), w.astype(np.float64)
    cin_g = cin // groups
    for g in range(groups):
        xs = xf[:, g * cin_g:(g + 1) * cin_g]                 # (n, cin_g, h, w)
        ws = wf[g * cin_g:(g + 1) * cin_g]                    # (cin_g, cout_g, kh, kw)
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("nchw,co->nohw", xs, ws[:, :, i, j])
                full[:, g * cout_g:(g + 1) * cout_g, i * d[0]:i * d[0] + (h - 1) * s[0] + 1:s[0],
                     j * d[1]:j * d[1] + (wd - 1) * s[1] + 1:s[1]] += contrib
    out = full[:, :, p[0]:p[0] + ho, p[1]:p[1] + wo]
    if b is not None:
        out = out + b.astype(np.float64)[None, :, None, None]
    return out.astype(x.dtype)


_TRANSPOSED = [  # (x shape, w shape, bias, stride, padding, output_padding, groups, dilation, desc)
    ((1, 2, 3, 3), (2, 2, 2, 2), True, [1, 1], [0, 0], [0, 0], 1, [1, 1], "basic"),
    ((2, 2, 3, 2), (2, 1, 2, 3), False, [2, 1], [1, 0], [1, 0], 1, [1, 1], "stride, padding, output_padding"),
    ((1, 4, 2, 3), (4, 1, 2, 2), True, [2, 2], [0, 1], [0, 1], 2, [1, 2], "groups, dilation"),
    ((1, 1, 2, 2), (1, 2, 2, 2), True, [1, 1], [0, 0], [1, 1], 1, [2, 2], "output_padding >= stride, < dilation"),
]


def conv_transpose2d_samples(dtype, rng):
    for xs, ws, bias, s, p, op, g, d, desc in _TRANSPOSED:
        cout = ws[1] * g
        b = rand_array(rng, (cout,), dtype) if bias else None
        yield Sample((rand_array(rng, xs, dtype), rand_array(rng, ws, dtype), b, s, p, op, g, d), desc=desc)
    yield Sample((rand_array(rng, (2, 3, 4, 5), dtype, noncontig=True), rand_array(rng, (3, 2, 3, 2), dtype),
                  None, [2, 3], [1, 1], [1, 2], 1, [1, 1]), desc="non-contiguous input")
    yield Sample((rand_array(rng, (0, 2, 3, 3), dtype), rand_array(rng, (2, 3, 2, 2), dtype), None, [1, 1], [0, 0],
                  [0, 0], 1, [1, 1]), desc="empty batch")


_TOL = {"float16": (1e-2, 2e-2), "bfloat16": (5e-2, 1e-1)}

OPS = [
    OpInfo("im2col", ref_im2col, im2col_samples, FLOAT),
    OpInfo("col2im", ref_col2im, col2im_samples, FLOAT, tol=_TOL),
    OpInfo("conv_transpose2d", ref_conv_transpose2d, conv_transpose2d_samples, FLOAT,
           tol={"float16": (1e-2, 5e-2), "bfloat16": (5e-2, 2.5e-1)}),
]
