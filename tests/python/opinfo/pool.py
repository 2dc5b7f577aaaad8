"""max_pool2d_with_indices / max_pool2d_backward (csrc/ops/table/conv.yaml) against NumPy loops."""
import numpy as np

from . import FLOAT, OpInfo, Sample, rand_array


def _out(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def ref_max_pool(x, k, s, p, d):
    n, c, h, w = x.shape
    ho, wo = _out(h, k[0], s[0], p[0], d[0]), _out(w, k[1], s[1], p[1], d[1])
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    idx = np.empty((n, c, ho, wo), dtype=np.int64)
    for oh in range(ho):
        for ow in range(wo):
            best, bi = None, None
            for i in range(k[0]):
                for j in range(k[1]):
                    ih, iw = oh * s[0] - p[0] + i * d[0], ow * s[1] - p[1] + j * d[1]
                    if 0 <= ih < h and 0 <= iw < w:
                        v = x[:, :, ih, iw]
                        if best is None:
                            best, bi = v.copy(), np.full(v.shape, ih * w + iw)
                        else:
                            upd = v > best
                            best = np.where(upd, v, best)
                            bi = np.where(upd, ih * w + iw, bi)
            out[:, :, oh, ow], idx[:, :, oh, ow] = best, bi
    return out, idx


def ref_max_pool_backward(g, indices, size):
    n, c, h, w = size
    out = np.zeros((n, c, h * w), dtype=np.float64)
    gi, ii = g.reshape(n, c, -1).astype(np.float64), indices.reshape(n, c, -1).astype(np.int64)
    for a in range(n):
        for b in range(c):
            np.add.at(out[a, b], ii[a, b], gi[a, b])
    return out.reshape(size).astype(g.dtype)


_CASES = [((1, 2, 4, 4), [2, 2], [2, 2], [0, 0], [1, 1], "small 2x2"),
          ((1, 1, 5, 5), [3, 3], [2, 2], [1, 1], [1, 1], "small padded"),
          ((2, 3, 6, 6), [2, 2], [2, 2], [0, 0], [1, 1], "2x2"),
          ((1, 2, 7, 5), [3, 3], [1, 2], [1, 1], [1, 1], "3x3 stride (1, 2) padded"),
          ((2, 1, 9, 9), [2, 3], [2, 2], [1, 0], [2, 1], "dilated")]


def max_pool_samples(dtype, rng):
    for shape, k, s, p, d, desc in _CASES:
        yield Sample((rand_array(rng, shape, dtype), k, s, p, d), desc=desc)


def max_pool_backward_samples(dtype, rng):
    for shape, k, s, p, d, desc in _CASES:
        x = rand_array(rng, shape, "float64")
        _, idx = ref_max_pool(x, k, s, p, d)
        yield Sample((rand_array(rng, idx.shape, dtype), idx, list(shape)), desc=desc)


OPS = [
    OpInfo("max_pool2d_with_indices", ref_max_pool, max_pool_samples, FLOAT, check_dtype_rule=False),
    OpInfo("max_pool2d_backward", ref_max_pool_backward, max_pool_backward_samples, FLOAT,
           tol={"float16": (1e-2, 2e-2), "bfloat16": (5e-2, 1e-1)}),
]
