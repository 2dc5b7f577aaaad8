"""Tensor indexing against NumPy: one table of index expressions, read (__getitem__) and written
(__setitem__), each also run with its arrays passed as hyflow tensors; plus views-vs-copies, dtypes,
read-only memory and the errors NumPy raises."""
import numpy as np
import pytest

import hyflow as hy

SHAPE = (4, 5, 6)
_rng = np.random.default_rng(0)
_BASE = _rng.standard_normal(SHAPE).astype(np.float32)
M3 = _BASE > 0                              # a full mask
M2 = _BASE[:, :, 0] > 0                     # a mask over the first two dims
M1 = np.array([True, False, True, True])    # a mask over dim 0
M5 = np.array([True, False, True, False, False])
M6 = np.array([False, True, True, False, True, False])
S = slice(None)

# (id, index): arrays in an index are also tried as hyflow tensors (see as_hyflow).
CASES = [
    ("int", 0), ("neg-int", -1), ("last", 3), ("two-ints", (1, 2)), ("three-ints", (1, 2, 3)),
    ("neg-ints", (-1, -2, -3)), ("empty-tuple", ()),
    ("full-slice", S), ("slice", slice(1, 3)), ("step", slice(None, None, 2)), ("neg-start", slice(-3, None)),
    ("clamped", slice(10, 20)), ("start-stop-step", slice(1, -1, 3)), ("slices-int", (S, slice(1, 4, 2), 0)),
    ("none", None), ("none-int", (None, 0)), ("int-none-slice-none", (0, None, S, None)),
    ("ellipsis", Ellipsis), ("ellipsis-int", (Ellipsis, 0)), ("int-ellipsis", (0, Ellipsis)),
    ("int-ellipsis-int", (0, Ellipsis, 1)), ("none-ellipsis-none", (None, Ellipsis, None)),
    ("list", [0, 2]), ("list-dups", [-1, 0, 0]), ("nested-list", [[0, 1], [2, 3]]),
    ("array", np.array([3, 1])), ("empty-array", np.array([], dtype=np.int64)), ("empty-list", []),
    ("int32-array", np.array([1, 2], dtype=np.int32)), ("uint8-array", np.array([0, 3], dtype=np.uint8)),
    ("zero-d-array", np.array(2)), ("numpy-int", np.int64(1)),
    ("slice-list", (S, [1, 2])), ("slice-slice-list", (S, S, [0, 5])),
    ("adv-slice-adv", ([0, 1], S, [1, 2])), ("int-slice-adv", (0, S, [1, 2])), ("adv-adv", ([0, 1], [1, 2])),
    ("broadcast-adv", ([[0], [1]], [1, 2])), ("adjacent-inner", (S, [0, 1], [2, 3])),
    ("adjacent-inner-2d", (S, [[0], [1]], [2, 3])), ("adv-none-adv", ([0, 1], None, [1, 2])),
    ("ellipsis-adv", (Ellipsis, [0, 1])), ("adv-ellipsis-adv", ([1], Ellipsis, [2])),
    ("none-adv-slice-int", (None, [0, 1], S, 2)), ("slice-int-adv", (slice(1, 3), 0, [1, 4])),
    ("adv-int-adv-int", ([0, 1], 1, [1, 2])),
    ("mask-full", M3), ("mask-2d", M2), ("mask-1d", M1), ("slice-mask", (S, M5)), ("int-mask", (0, M5)),
    ("mask-adv", (M1, [0, 1, 2])), ("ellipsis-mask", (Ellipsis, M6)), ("mask-list", [True, False, True, False]),
    ("nested-bool-list", M2.tolist()), ("true", True), ("false", False), ("int-true", (0, True)),
    ("numpy-true", np.bool_(True)), ("zero-d-mask", np.array(False)), ("adv-true", ([0, 1], True)),
]
CASE_IDS = [c[0] for c in CASES]


def as_hyflow(index):
    """The same index with every NumPy array replaced by a hyflow tensor."""
    def conv(x):
        if isinstance(x, np.ndarray):
            return hy.tensor(x) if x.dtype != np.uint8 else hy.tensor(x.astype(np.int64))
        return x
    return tuple(conv(x) for x in index) if isinstance(index, tuple) else conv(index)


def check_equal(t, expected):
    got = np.asarray(t.numpy())
    assert got.shape == expected.shape, f"shape {got.shape} vs NumPy {expected.shape}"
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("index", [c[1] for c in CASES], ids=CASE_IDS)
@pytest.mark.parametrize("with_tensors", [False, True], ids=["numpy-index", "tensor-index"])
def test_getitem_matches_numpy(index, with_tensors):
    a = _BASE.copy()
    t = hy.from_numpy(a)
    idx = as_hyflow(index) if with_tensors else index
    check_equal(t[idx], a[index])


@pytest.mark.parametrize("index", [c[1] for c in CASES], ids=CASE_IDS)
@pytest.mark.parametrize("value_kind", ["scalar", "full", "broadcast"])
def test_setitem_matches_numpy(index, value_kind):
    a = _BASE.copy()
    expected = _BASE.copy()
    shape = expected[index].shape
    if value_kind == "scalar":
        value = 7.5
    elif value_kind == "full":
        value = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + 100
    else:
        value = np.arange(shape[-1], dtype=np.float32) - 50 if shape else np.array(-50, dtype=np.float32)
    expected[index] = value
    t = hy.from_numpy(a)
    t[as_hyflow(index)] = hy.tensor(value) if isinstance(value, np.ndarray) else value
    np.testing.assert_array_equal(a, expected)  # written through to the NumPy memory


@pytest.mark.parametrize("index", [c[1] for c in CASES], ids=CASE_IDS)
def test_setitem_with_array_value(index):
    a = _BASE.copy()
    expected = _BASE.copy()
    shape = expected[index].shape
    value = np.full(shape, -3.0, dtype=np.float64)  # float64 value into float32 memory: converted
    expected[index] = value
    t = hy.from_numpy(a)
    t[index] = value
    np.testing.assert_array_equal(a, expected)


ERROR_CASES = [
    ("out-of-bounds", 4, IndexError), ("neg-out-of-bounds", -5, IndexError), ("second-dim", (0, 5), IndexError),
    ("third-dim", (0, 0, 6), IndexError), ("too-many", (0, 0, 0, 0), IndexError),
    ("list-out-of-bounds", [0, 4], IndexError), ("array-neg-out-of-bounds", np.array([-5]), IndexError),
    ("mask-shape", np.ones(3, dtype=bool), IndexError), ("mask-shape-2d", np.ones((4, 4), dtype=bool), IndexError),
    ("broadcast-mismatch", ([0, 1], [0, 1, 2]), IndexError), ("float", 1.5, IndexError),
    ("float-array", np.array([1.0]), IndexError), ("two-ellipses", (Ellipsis, Ellipsis), IndexError),
    ("string", "a", IndexError), ("zero-step", slice(None, None, 0), ValueError),
]


@pytest.mark.parametrize("index,error", [(c[1], c[2]) for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_index_errors_match_numpy(index, error):
    a = _BASE.copy()
    with pytest.raises(error):
        a[index]
    t = hy.from_numpy(a)
    with pytest.raises(error):
        t[index]
    with pytest.raises(error):
        t[index] = 1.0
    np.testing.assert_array_equal(a, _BASE)  # a failed assignment writes nothing


def test_error_messages_name_dim_and_size():
    t = hy.zeros(4, 5)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1 with size 5"):
        t[0, 5]
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 1 with size 5"):
        t[:, [0, 7]]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match=r"boolean index of shape \(3,\)"):
        t[np.ones(3, dtype=bool)]
    with pytest.raises(IndexError, match="float32 tensor"):
        t[hy.tensor([1.0])]


def test_negative_step_raises_value_error():
    t = hy.arange(5)
    with pytest.raises(ValueError, match="step must be positive"):
        t[::-1]



def test_negative_step_error_advises_flip_as_the_docs_do():
    # the message and docs/tensors.md gave different advice (issue 14); flip is torch's answer
    t = hy.arange(5)
    with pytest.raises(ValueError, match=r"t\.flip\(dim\) reverses a dim") as info:
        t[1:4:-2]
    assert "arange" not in str(info.value)
    assert t.flip(0).tolist() == [4, 3, 2, 1, 0]


def test_float_index_raises_index_error_as_documented():
    t = hy.arange(5)
    for bad in (1.5, hy.tensor(1.0)):
        with pytest.raises(IndexError):
            t[bad]


def test_basic_indexing_returns_views():
    t = hy.arange(24).reshape(2, 3, 4)
    for v in [t[1], t[:, 1:3], t[..., ::2], t[None, 0], t[()], t[...]]:
        assert v.untyped_storage_ptr() == t.untyped_storage_ptr()
        assert v is not t
    v = t[1, :, 2]
    v[0] = -1
    assert t[1, 0, 2].item() == -1
    t[0][1][2] = 99  # chained basic indexing writes through
    assert t.tolist()[0][1][2] == 99


def test_advanced_indexing_returns_copies():
    t = hy.arange(12).reshape(3, 4)
    for c in [t[[0, 1]], t[t > 3], t[:, [1]], t[hy.tensor([True, False, True])]]:
        assert c.untyped_storage_ptr() != t.untyped_storage_ptr()
    c = t[[0, 1]]
    c[0, 0] = 100
    assert t[0, 0].item() == 0


def test_setitem_writes_numpy_memory():
    a = np.zeros((3, 4), dtype=np.float32)
    t = hy.from_numpy(a)
    t[0, 1] = 7.0
    assert a[0, 1] == 7.0
    t[1] = hy.tensor([1, 2, 3, 4])      # int64 value into float32: converted like copy_
    t[2, [0, 3]] = 5
    t[a < 0] = 1  # nothing selected
    np.testing.assert_array_equal(a, [[0, 7, 0, 0], [1, 2, 3, 4], [5, 0, 0, 5]])


def test_setitem_bumps_version_and_respects_read_only():
    t = hy.zeros(3)
    v = t._version
    t[0] = 1
    t[[1]] = 2
    t[t > 1.5] = 3
    assert t._version >= v + 3
    ro = np.arange(4.0)
    ro.flags.writeable = False
    r = hy.from_dlpack(ro)
    for index in [0, slice(None), [1, 2], r > 1]:
        with pytest.raises(ValueError, match="read-only"):
            r[index] = 0.0
    np.testing.assert_array_equal(ro, np.arange(4.0))


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float16", "bfloat16", "float64"])
def test_dtypes(dtype):
    a = (np.arange(20).reshape(4, 5) % 3).astype(np.float32)
    t = hy.tensor(a).to(getattr(hy, dtype))
    ref = a.astype(dtype if dtype != "bfloat16" else np.float32)
    if dtype == "bool":
        ref = a.astype(bool)
    for index in [(1, 2), (S, [0, 4]), ([3, 0], [1, 1]), ref > 0, (ref > 0)[:, 0]]:
        got = t[index].to(hy.float64).numpy()
        np.testing.assert_array_equal(got, ref[index].astype(np.float64))
    t[[0, 1], 0] = 1
    ref[[0, 1], 0] = 1
    t[ref == 2] = 0
    ref[ref == 2] = 0
    np.testing.assert_array_equal(t.to(hy.float64).numpy(), ref.astype(np.float64))


def test_non_contiguous_source_and_values():
    a = np.arange(60, dtype=np.float64).reshape(5, 12)[:, ::3].T  # (4, 5), strided and transposed
    t = hy.from_numpy(a)
    for index in [[0, 2], (S, [4, 0]), ([1, 2], [3, 3]), a > 20, (slice(None, None, 2), [1])]:
        check_equal(t[index], a[index])
    b = a.copy()
    value = np.arange(10, dtype=np.float64).reshape(5, 2).T
    t[[1, 3]] = hy.from_numpy(value)
    b[[1, 3]] = value
    np.testing.assert_array_equal(a, b)


def test_large_gather_and_mask_use_parallel_paths():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 400)).astype(np.float32)
    t = hy.from_numpy(a)
    idx = rng.integers(-300, 300, size=100_000)
    check_equal(t[idx, 5], a[idx, 5])
    check_equal(t[idx[:1000]], a[idx[:1000]])
    check_equal(t[a > 0.5], a[a > 0.5])
    check_equal(t[a[:, 0] > 0], a[a[:, 0] > 0])
    b = a.copy()
    t[a > 1] = 0
    b[b > 1] = 0
    np.testing.assert_array_equal(a, b)


def test_index_assignment_overlapping_self():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = hy.from_numpy(a)
    b = a.copy()
    t[[0, 2]] = t[1]
    b[[0, 2]] = b[1]
    t[:, 1:] = t[:, :3]
    b[:, 1:] = b[:, :3].copy()
    np.testing.assert_array_equal(a, b)


def test_value_shape_errors():
    t = hy.zeros(3, 4)
    with pytest.raises(ValueError, match="could not broadcast"):
        t[0] = hy.ones(3)
    with pytest.raises(ValueError, match="could not broadcast"):
        t[[0, 1]] = hy.ones(3, 4)
    t[0] = hy.ones(1, 1, 4)  # leading size-1 dims are dropped, as in NumPy
    assert t[0].tolist() == [1, 1, 1, 1]


def test_zero_d_tensor():
    t = hy.tensor(5.0)
    assert t[()].item() == 5.0
    assert t[None].shape == (1,)
    assert t[...].shape == ()
    assert t[True].shape == (1,)
    with pytest.raises(IndexError):
        t[0]
    t[()] = 2.0
    assert t.item() == 2.0


def test_index_ops_directly():
    t = hy.arange(12).reshape(3, 4)
    r = hy.ops.index(t, [hy.tensor([2, 0]), hy.tensor([[1], [3]])])
    np.testing.assert_array_equal(r.numpy(), np.arange(12).reshape(3, 4)[[2, 0], [[1], [3]]])
    z = hy.zeros(5)
    hy.ops.index_put_(z, [hy.tensor([0, 1, 1, 4])], hy.tensor([1.0, 2.0, 3.0, 4.0]), accumulate=True)
    assert z.tolist() == [1, 5, 0, 0, 4]
    assert t.index_put_([hy.tensor([0])], hy.tensor(9)) is t
    assert t[0].tolist() == [9, 9, 9, 9]
    with pytest.raises(TypeError, match="indices"):
        hy.ops.index(t, [hy.tensor([0.5])])
    with pytest.raises(IndexError, match="too many indices"):
        hy.ops.index(t, [hy.tensor([0])] * 3)
    nz = hy.ops.nonzero(hy.tensor([[0, 1], [2, 0]]))
    assert nz.tolist() == [[0, 1], [1, 0]] and nz.dtype == hy.int64
    m = hy.tensor([True, False, True])
    assert hy.ops.masked_fill(hy.zeros(2, 3), m, 1.0).tolist() == [[1, 0, 1], [1, 0, 1]]
    with pytest.raises(TypeError, match="mask must be a bool tensor"):
        hy.ops.masked_fill(hy.zeros(3), hy.tensor([1, 0, 1]), 1.0)
    with pytest.raises(ValueError, match="masked_fill_"):
        hy.zeros(3).masked_fill_(hy.tensor([[True], [False]]), 1.0)
    assert hy.ops.masked_select(hy.arange(6).reshape(2, 3), m).tolist() == [0, 2, 3, 5]


def _random_index(rng, shape):
    """A random mix of ints, slices, None, ..., lists, 2-d index arrays and masks for `shape`."""
    items, d = [], 0
    for _ in range(int(rng.integers(1, 4))):
        size = shape[d] if d < len(shape) else 0
        k = int(rng.integers(0, 8))
        if size and k == 0:
            items.append(int(rng.integers(-size, size)))
        elif size and k == 1:
            items.append(slice(int(rng.integers(-size - 1, size + 1)), None, int(rng.integers(1, 3))))
        elif size and k == 2:
            items.append([int(x) for x in rng.integers(-size, size, size=int(rng.integers(1, 3)))])
        elif size and k == 3:
            items.append(rng.integers(0, size, size=(2, 1)))
        elif size and k == 4:
            items.append(rng.random(size) > 0.5)
        elif k == 5:
            items.append(None)
            continue
        elif k == 6:
            items.append(Ellipsis)
            continue
        else:
            items.append(slice(None))
        d += 1
    return tuple(items)


def test_random_index_expressions_match_numpy():
    rng = np.random.default_rng(2024)
    checked = 0
    for _ in range(400):
        shape = tuple(int(x) for x in rng.integers(1, 5, size=int(rng.integers(1, 4))))
        a = rng.standard_normal(shape).astype(np.float32)
        index = _random_index(rng, shape)
        try:
            expected = a[index]
        except IndexError:
            with pytest.raises(IndexError):
                hy.from_numpy(a.copy())[index]
            continue
        check_equal(hy.from_numpy(a.copy())[index], expected)
        value = rng.standard_normal(expected.shape).astype(np.float32)
        b, c = a.copy(), a.copy()
        b[index] = value
        hy.from_numpy(c)[index] = hy.from_numpy(value) if value.ndim else float(value)
        np.testing.assert_array_equal(c, b, err_msg=f"setitem {shape} {index}")
        checked += 1
    assert checked > 250


def test_nonzero_of_a_zero_size_tensor_with_several_dims():
    # finding a chunk's coordinates divided by the zero size: SIGFPE, hence the subprocess
    from isolated import run_isolated
    out = run_isolated("for s in [(0, 3), (3, 0), (2, 0, 4), (0,)]:\n"
                       "    print(tuple(hy.nonzero(hy.zeros(*s)).shape), hy.nonzero(hy.ones(*s)).dtype)\n")
    assert out.splitlines() == [f"{(0, len(s))} hyflow.int64" for s in [(0, 3), (3, 0), (2, 0, 4), (0,)]]
