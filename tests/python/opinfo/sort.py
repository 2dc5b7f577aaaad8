"""Sorting and selection (csrc/ops/table/sort.yaml) against NumPy's stable sort, with PyTorch's NaN order
(NaN largest: last ascending, first descending) and ties kept in input order."""
import numpy as np

from . import ALL, OpInfo, Sample, rand_array


def _order(a, dim, descending):
    """Stable sorting indices of a along dim: NaN largest, ties in input order."""
    if a.ndim == 0:
        return np.zeros((), dtype=np.int64)
    x = np.moveaxis(a.astype(np.float64), dim, -1)
    nan = np.isnan(x)
    # lexsort sorts by the last key first, stably.
    keys = (np.where(nan, 0, -x), ~nan) if descending else (np.where(nan, 0, x), nan)
    idx = np.lexsort(keys, axis=-1) if x.size else np.zeros(x.shape, dtype=np.int64)
    return np.moveaxis(idx, -1, dim).astype(np.int64)


def _take(a, idx, dim):
    return a.copy() if a.ndim == 0 else np.take_along_axis(a, idx, axis=dim)


def ref_sort(a, dim=-1, descending=False, stable=False):
    idx = _order(a, dim, descending)
    return _take(a, idx, dim), idx


def ref_argsort(a, dim=-1, descending=False, stable=False):
    return _order(a, dim, descending)


def ref_topk(a, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    idx = _order(a, dim, largest)
    if a.ndim:
        idx = np.take(idx, np.arange(k), axis=dim)
    return _take(a, idx, dim), idx


def _with_ties(rng, dtype):
    """Values drawn from a handful, so equal elements occur (stability is observable)."""
    base = rng.integers(0, 3, size=(4, 9))
    return (base.astype(bool) if dtype == "bool" else base.astype(np.float32 if dtype == "bfloat16" else dtype))


def _with_nan(rng, dtype):
    x = rand_array(rng, (3, 6), dtype)
    x[0, 1] = x[2, 4] = x[2, 0] = np.nan
    x[1, 3] = np.inf
    x[1, 5] = -np.inf
    return x


def sort_samples(dtype, rng):
    a = lambda *s: rand_array(rng, s, dtype)  # noqa: E731
    yield Sample((a(3, 5),), desc="last dim")
    yield Sample((a(4, 3), 0), desc="dim 0")
    yield Sample((a(2, 3, 4), 1, True), desc="middle dim, descending")
    yield Sample((rand_array(rng, (4, 6), dtype, noncontig=True), -1, True), desc="non-contiguous, descending")
    yield Sample((a(),), desc="0-d")
    yield Sample((a(0, 3), 0), desc="empty")
    yield Sample((_with_ties(rng, dtype), 1), {"stable": True}, desc="ties, stable")
    yield Sample((_with_ties(rng, dtype), 1, True), {"stable": True}, desc="ties, descending stable")
    yield Sample((_with_ties(rng, dtype), 0), desc="ties along dim 0")
    if dtype in ("float16", "bfloat16", "float32", "float64"):
        yield Sample((_with_nan(rng, dtype),), desc="nan and inf")
        yield Sample((_with_nan(rng, dtype), 1, True), desc="nan and inf, descending")
    yield Sample((a(3, 700), 1), desc="long rows")


def topk_samples(dtype, rng):
    a = lambda *s: rand_array(rng, s, dtype)  # noqa: E731
    yield Sample((a(3, 5), 2), desc="k=2 largest")
    yield Sample((a(4, 3), 3, 0, False), desc="dim 0, all, smallest")
    yield Sample((a(2, 5, 4), 1, 1), desc="middle dim, k=1")
    yield Sample((rand_array(rng, (4, 6), dtype, noncontig=True), 3, -1, False), desc="non-contiguous, smallest")
    yield Sample((a(), 1), desc="0-d")
    yield Sample((a(3, 4), 0), desc="k=0")
    yield Sample((a(0, 3), 2), desc="empty")
    yield Sample((_with_ties(rng, dtype), 4), desc="ties")
    if dtype in ("float16", "bfloat16", "float32", "float64"):
        yield Sample((_with_nan(rng, dtype), 3), desc="nan and inf")
        yield Sample((_with_nan(rng, dtype), 4, 1, False), desc="nan and inf, smallest")
    yield Sample((a(3, 700), 20), desc="long rows")


def _distinct(sample):
    """Ties and NaN make sort non-differentiable at the point: gradcheck distinct finite values only."""
    return not sample.desc.startswith(("ties", "nan"))


OPS = [
    OpInfo("sort", ref_sort, sort_samples, ALL, grad_filter=_distinct),
    OpInfo("argsort", ref_argsort, sort_samples, ALL),
    OpInfo("topk", ref_topk, topk_samples, ALL, grad_filter=_distinct),
]
