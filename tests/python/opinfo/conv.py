"""im2col / col2im (csrc/ops/table/conv.yaml) against NumPy loops."""
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


_TOL = {"float16": (1e-2, 2e-2), "bfloat16": (5e-2, 1e-1)}

OPS = [
    OpInfo("im2col", ref_im2col, im2col_samples, FLOAT),
    OpInfo("col2im", ref_col2im, col2im_samples, FLOAT, tol=_TOL),
]
