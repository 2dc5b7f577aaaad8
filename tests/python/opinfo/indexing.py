"""Advanced-indexing ops (csrc/ops/table/indexing.yaml). Tensor.__getitem__/__setitem__, which build on
them, are tested against NumPy in tests/python/test_indexing.py."""
import numpy as np

from . import ALL, OpInfo, Sample, rand_array


def index_samples(dtype, rng):
    a = lambda s, nc=False: rand_array(rng, s, dtype, noncontig=nc)  # noqa: E731
    yield Sample((a((4, 5, 3)), [np.array([0, 3, -1])]), desc="one index")
    yield Sample((a((4, 5, 3)), [np.array([[0], [2]]), np.array([1, -5, 0])]), desc="broadcast indices")
    yield Sample((a((4, 5, 3)), [np.array([1, 2]), np.array([0, 0]), np.array([2, 1])]), desc="every dim")
    yield Sample((a((6, 4), True), [np.array([5, 0, 5])]), desc="non-contiguous")
    yield Sample((a((4, 3)), [np.array([], dtype=np.int64)]), desc="empty")
    yield Sample((a((4, 3)), [np.array(2)]), desc="0-d index")
    yield Sample((a((50000,)), [rng.integers(-50000, 50000, 40000)]), desc="large")


def as_indices(indices):
    # test_ops hands references float32 copies of every array for float16/bfloat16 runs.
    return tuple(np.asarray(i).astype(np.int64) for i in indices)


def ref_index(a, indices):
    return a[as_indices(indices)]


def index_put_samples(dtype, rng):
    a = lambda s: rand_array(rng, s, dtype)  # noqa: E731  (fresh arrays: the op writes into its input)
    yield Sample((a((4, 5, 3)), [np.array([0, 2])], a((2, 5, 3))), desc="rows")
    yield Sample((a((4, 5, 3)), [np.array([0, -1])], a((3,))), desc="broadcast values")
    yield Sample((a((4, 5)), [np.array([1, 0]), np.array([4, 4])], a(())), desc="points, 0-d value")
    yield Sample((a((4, 5)), [np.array([1, 1, 3])], a((3, 5))), {"accumulate": True}, desc="accumulate duplicates")
    yield Sample((a((4, 5)), [np.array([[0], [3]]), np.array([2, 2])], a((2, 2))), {"accumulate": True},
                 desc="accumulate broadcast")


def ref_index_put(a, indices, values, accumulate=False):
    r = a.copy()
    if accumulate:
        np.add.at(r, as_indices(indices), values)
    else:
        r[as_indices(indices)] = values
    return r


def with_zeros(rng, arr):
    return np.where(rng.random(arr.shape) < 0.5, np.zeros((), arr.dtype), arr).astype(arr.dtype)


def nonzero_samples(dtype, rng):
    for shape, nc in [((), False), ((0,), False), ((7,), False), ((3, 5), False), ((2, 3, 4), False),
                      ((4, 6), True), ((100000,), False), ((300, 400), False)]:
        yield Sample((with_zeros(rng, rand_array(rng, shape, dtype, noncontig=nc)),), desc=str(shape))


def mask(rng, shape):
    return rng.random(shape) < 0.5


def masked_select_samples(dtype, rng):
    yield Sample((rand_array(rng, (3, 4), dtype), mask(rng, (3, 4))), desc="same shape")
    yield Sample((rand_array(rng, (3, 4), dtype), mask(rng, (4,))), desc="broadcast mask")
    yield Sample((rand_array(rng, (4,), dtype), mask(rng, (3, 1))), desc="broadcast both")
    yield Sample((rand_array(rng, (4, 6), dtype, noncontig=True), mask(rng, (4, 6))), desc="non-contiguous")
    yield Sample((rand_array(rng, (0, 3), dtype), mask(rng, (0, 3))), desc="empty")
    yield Sample((rand_array(rng, (), dtype), np.array(True)), desc="0-d")
    yield Sample((rand_array(rng, (200000,), dtype), mask(rng, (200000,))), desc="large")


def ref_masked_select(a, m):
    a, m = np.broadcast_arrays(a, np.asarray(m).astype(bool))
    return a[m]


def masked_fill_samples(dtype, rng):
    yield Sample((rand_array(rng, (3, 4), dtype), mask(rng, (3, 4)), 2.5), desc="same shape")
    yield Sample((rand_array(rng, (3, 4), dtype), mask(rng, (4,)), -1), desc="broadcast mask")
    yield Sample((rand_array(rng, (4,), dtype), mask(rng, (3, 1)), True), desc="mask broadcasts self")
    yield Sample((rand_array(rng, (4, 6), dtype, noncontig=True), mask(rng, (4, 6)), 0), desc="non-contiguous")
    yield Sample((rand_array(rng, (), dtype), np.array(True), 1), desc="0-d")
    yield Sample((rand_array(rng, (0, 3), dtype), mask(rng, (3,)), 1), desc="empty")
    yield Sample((rand_array(rng, (100000,), dtype), mask(rng, (100000,)), 3), desc="large")


def ref_masked_fill(a, m, value):
    return np.where(np.asarray(m).astype(bool), np.array(value).astype(a.dtype), a)


OPS = [
    OpInfo("index", ref_index, index_samples, ALL),
    OpInfo("index_put_", ref_index_put, index_put_samples, ALL,
           tol={"float16": (2e-3, 2e-3), "bfloat16": (1.6e-2, 2e-2)}),
    OpInfo("nonzero", np.argwhere, nonzero_samples, ALL),
    OpInfo("masked_select", ref_masked_select, masked_select_samples, ALL),
    OpInfo("masked_fill", ref_masked_fill, masked_fill_samples, ALL),
]
