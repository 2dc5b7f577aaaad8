"""Shape ops beyond the OpInfo table: views, torch calling conventions, in-place scatter_add_, and the
bad inputs that must raise (messages name the op and the offending shapes/values)."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close


def arange(*shape, dtype=hy.float32):
    n = int(np.prod(shape)) if shape else 1
    return hy.arange(0, n).to(dtype).reshape(*shape)


# --- views and calling conventions -----------------------------------------------------------------

def test_split_and_chunk_return_views():
    x = arange(6, 4)
    for pieces in (x.split(2), hy.split(x, [1, 5]), x.chunk(3, dim=1), hy.chunk(x, 2)):
        for p in pieces:
            assert p.untyped_storage_ptr() == x.untyped_storage_ptr()
    first = x.split(2, dim=1)[1]
    first.fill_(-1.0)
    assert x.numpy()[:, 2:4].tolist() == [[-1.0, -1.0]] * 6


def test_split_calling_conventions():
    x = arange(7)
    assert [p.shape for p in x.split(3)] == [(3,), (3,), (1,)]
    assert [p.shape for p in hy.split(x, (2, 5))] == [(2,), (5,)]
    assert [p.shape for p in hy.split(x, [7])] == [(7,)]
    with pytest.raises(ValueError, match=r"\[3\].*\(7,\)"):
        hy.split(x, [3])
    with pytest.raises(ValueError, match=r"sum to 6.*\(7,\)"):
        x.split([2, 4])
    with pytest.raises(ValueError, match="split_size"):
        x.split(0)


def test_chunk_of_empty_dim_gives_chunks_pieces():
    assert [p.shape for p in hy.chunk(hy.empty(0, 4), 3)] == [(0, 4)] * 3
    with pytest.raises(ValueError, match="chunks"):
        hy.chunk(arange(3), 0)


def test_cat_stack_accept_any_iterable():
    a, b = arange(2, 3), arange(2, 3) + 10
    assert_close(hy.cat((a, b), 1), np.concatenate([a.numpy(), b.numpy()], 1))
    assert_close(hy.cat((t for t in (a, b)), dim=0), np.concatenate([a.numpy(), b.numpy()], 0))
    assert_close(hy.concat([a, b]), hy.concatenate([a, b]))
    assert_close(hy.stack((a, b), dim=-1), np.stack([a.numpy(), b.numpy()], -1))


def test_varargs_methods():
    x = arange(2, 3)
    assert x.repeat(2, 2).shape == (4, 6) and x.repeat((2, 1, 1)).shape == (2, 2, 3)
    assert x.tile(2).shape == (2, 6) and hy.tile(x, (2, 1, 1)).shape == (2, 2, 3)
    assert x.flip(0, 1).tolist() == [[5.0, 4.0, 3.0], [2.0, 1.0, 0.0]]
    assert x.flip([1]).tolist() == hy.flip(x, 1).tolist()
    assert x.roll(1, 1).tolist() == [[2.0, 0.0, 1.0], [5.0, 3.0, 4.0]]
    assert [t.tolist() for t in x.unbind(1)] == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]


def test_pad_torch_convention():
    x = arange(1, 2, 3)
    assert hy.pad(x, (1, 1)).shape == (1, 2, 5)
    assert hy.pad(x, (1, 1, 2, 0), value=7).numpy()[0, 0].tolist() == [7.0] * 5
    assert hy.pad(x, (-1, 0)).tolist() == [[[1.0, 2.0], [4.0, 5.0]]]
    assert hy.pad(x, [2, 2], mode="reflect").numpy()[0, 0].tolist() == [2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0]


def test_flip_and_roll_results_are_copies():
    x = arange(3, 2)
    for y in (x.flip(0), x.roll(0, 0), hy.pad(x, [0, 0]), x.repeat(1, 1)):
        assert y.untyped_storage_ptr() != x.untyped_storage_ptr()


# --- scatter_add_ -----------------------------------------------------------------------------------

def test_scatter_add_inplace():
    x = hy.zeros(3)
    v = x._version
    r = x.scatter_add_(0, hy.tensor([0, 0, 2, 2, 2]), hy.ones(5))
    assert r is x and x._version > v
    assert x.tolist() == [2.0, 0.0, 3.0]


def test_scatter_add_bad_index_leaves_self_untouched():
    x = hy.zeros(3)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dim 0 with size 3"):
        x.scatter_add_(0, hy.tensor([0, 1, 3]), hy.ones(3))
    assert x.tolist() == [0.0, 0.0, 0.0]


def test_scatter_add_src_aliasing_self():
    x = hy.ones(4)
    x.scatter_add_(0, hy.tensor([3, 2, 1, 0]), x)
    assert x.tolist() == [2.0, 2.0, 2.0, 2.0]


def test_scatter_add_dtype_rules():
    with pytest.raises(TypeError, match="src of dtype float32"):
        hy.scatter_add(hy.zeros(3, dtype=hy.int64), 0, hy.tensor([0]), hy.ones(1))
    r = hy.scatter_add(hy.zeros(3), 0, hy.tensor([1]), hy.ones(1, dtype=hy.int32))
    assert r.dtype == hy.float32 and r.tolist() == [0.0, 1.0, 0.0]


def test_scatter_add_does_not_depend_on_thread_count():
    rng = np.random.default_rng(5)
    idx = hy.from_numpy(rng.integers(0, 50, size=(100000,)))
    src = hy.from_numpy(rng.standard_normal(100000).astype(np.float32))
    old = hy.get_num_threads()
    try:
        hy.set_num_threads(1)
        one = hy.scatter_add(hy.zeros(50), 0, idx, src).numpy()
        hy.set_num_threads(2)
        two = hy.scatter_add(hy.zeros(50), 0, idx, src).numpy()
    finally:
        hy.set_num_threads(old)
    assert np.array_equal(one, two)  # same summation order per output element


# --- bad input ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda x, i: hy.gather(x, 1, i.reshape(1, -1)),
    lambda x, i: hy.index_select(x, 1, i),
    lambda x, i: hy.scatter_add(x, 1, i.reshape(1, -1), hy.ones(1, i.shape[0])),
])
@pytest.mark.parametrize("bad", [4, -1, 100])
def test_index_out_of_range_raises_index_error(call, bad):
    x = arange(3, 4)
    with pytest.raises(IndexError) as e:
        call(x, hy.tensor([0, bad]))
    assert str(bad) in str(e.value) and "size 4" in str(e.value)


def test_index_out_of_range_on_fast_paths():
    with pytest.raises(IndexError, match="index 10 is out of bounds for dim 0 with size 10"):
        hy.index_select(hy.ones(10, 64), 0, hy.tensor([0, 10]))  # whole-row copies
    idx = np.zeros((2, 5000), dtype=np.int64)
    idx[1, 4321] = -7  # in a later block of a long row
    with pytest.raises(IndexError, match="index -7 is out of bounds for dim 1 with size 5000"):
        hy.gather(hy.ones(2, 5000), 1, hy.from_numpy(idx))
    with pytest.raises(IndexError, match="size 0"):
        hy.gather(hy.ones(2, 0), 1, hy.zeros(2, 1, dtype=hy.int64))


@pytest.mark.parametrize("dtype", [hy.float32, hy.bool, hy.float64])
def test_index_dtype_must_be_integer(dtype):
    x = arange(3, 4)
    idx = hy.zeros(1, 2, dtype=dtype)
    for call in (lambda: hy.gather(x, 1, idx), lambda: hy.index_select(x, 1, idx.reshape(-1)),
                 lambda: hy.scatter_add(x, 1, idx, hy.ones(1, 2))):
        with pytest.raises(TypeError, match="int64 or int32"):
            call()


def test_index_int32_accepted():
    x = arange(3, 4)
    assert hy.index_select(x, 0, hy.tensor([2, 0], dtype=hy.int32)).tolist() == [[8.0, 9.0, 10.0, 11.0],
                                                                                 [0.0, 1.0, 2.0, 3.0]]


def test_gather_shape_errors():
    x = arange(3, 4)
    with pytest.raises(ValueError, match="same number of dims|as many dims"):
        hy.gather(x, 0, hy.tensor([0]))
    with pytest.raises(ValueError, match=r"\(5, 1\).*\(3, 4\)"):
        hy.gather(x, 1, hy.zeros(5, 1, dtype=hy.int64))
    with pytest.raises(ValueError, match="0-d or 1-D"):
        hy.index_select(x, 0, hy.zeros(1, 1, dtype=hy.int64))
    with pytest.raises(IndexError):
        hy.gather(x, 2, hy.zeros(3, 4, dtype=hy.int64))


def test_cat_errors():
    with pytest.raises(ValueError, match="non-empty"):
        hy.cat([])
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        hy.cat([hy.ones(2, 3), hy.ones(2, 4)])
    with pytest.raises(ValueError, match="same number of dims"):
        hy.cat([hy.ones(2, 3), hy.ones(2, 3, 1)])
    with pytest.raises(ValueError, match="0-d"):
        hy.cat([hy.tensor(1.0), hy.tensor(2.0)])
    with pytest.raises(IndexError):
        hy.cat([hy.ones(2, 3)], dim=2)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        hy.stack([hy.ones(2, 3), hy.ones(3, 2)])


def test_cat_legacy_empty_and_all_empty():
    assert hy.cat([hy.empty(0), hy.ones(2, 3)]).shape == (2, 3)
    assert hy.cat([hy.empty(0), hy.empty(0)]).shape == (0,)


def test_pad_errors():
    x = arange(2, 3)
    with pytest.raises(ValueError, match="even"):
        hy.pad(x, [1])
    with pytest.raises(ValueError, match="covers 3 dims"):
        hy.pad(x, [1, 1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="smaller than its size"):
        hy.pad(x, [3, 0], mode="reflect")
    with pytest.raises(ValueError, match="only supported in 'constant'"):
        hy.pad(x, [-1, 0], mode="replicate")
    with pytest.raises(ValueError, match="mode"):
        hy.pad(x, [1, 1], mode="symmetric")
    with pytest.raises(ValueError, match="below zero"):
        hy.pad(x, [-2, -2])


def test_other_errors():
    x = arange(2, 3)
    with pytest.raises(ValueError, match="more than once"):
        x.flip(0, 0)
    with pytest.raises(ValueError, match="same length"):
        hy.roll(x, [1, 2], [0])
    with pytest.raises(ValueError, match="fewer than the dims"):
        x.repeat(2)
    with pytest.raises(ValueError, match="non-negative"):
        x.repeat(1, -1)
    with pytest.raises(IndexError):
        x.flip(2)


def test_flip_and_roll_edge_cases():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((40, 300)).astype(np.float32)
    t = hy.from_numpy(a)
    for view, ref in ((t[::2, 7:290], a[::2, 7:290]), (t.T, a.T), (t[3], a[3])):
        assert_close(view.flip(-1), np.flip(ref, -1))
        assert_close(view.flip(0), np.flip(ref, 0))
    assert_close(hy.roll(t, [3, 4], [1, 1]), np.roll(a, 7, 1))  # a dim named twice: shifts add up
    assert_close(hy.roll(t, [40, -300], [0, 1]), a)  # whole turns
    assert hy.roll(hy.tensor(5.0), [3]).item() == 5.0
    assert hy.roll(hy.tensor(5.0), [3], [0]).item() == 5.0


def test_large_parallel_shapes_match_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 400)).astype(np.float32)
    t = hy.from_numpy(a)
    assert_close(t.flip(0, 1), np.flip(a))
    assert_close(t.roll([7, -3], [0, 1]), np.roll(a, (7, -3), (0, 1)))
    assert_close(hy.pad(t, [5, 5, 5, 5], mode="circular"), np.pad(a, 5, mode="wrap"))
    idx = rng.integers(0, 300, size=(900,))
    assert_close(hy.index_select(t, 0, hy.from_numpy(idx)), a[idx])


def test_cat_concat_stack_take_axis_alias_like_torch():
    torch = pytest.importorskip("torch")
    a, b = np.arange(6.0).reshape(2, 3), np.arange(6.0, 12.0).reshape(2, 3)
    for name in ("cat", "concat", "concatenate", "stack"):
        got = getattr(hy, name)([hy.tensor(a), hy.tensor(b)], axis=1)
        want = getattr(torch, name)([torch.tensor(a), torch.tensor(b)], axis=1)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(TypeError, match="both dim= and its alias axis="):
        hy.cat([hy.tensor(a)], dim=1, axis=0)
