"""sort / argsort / topk beyond the OpInfo table (tests/python/opinfo/sort.py): torch's named-tuple
results and argument names, NaN order, stability, gradients, and bad arguments."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close

nan, inf = float("nan"), float("inf")


def test_sort_and_topk_return_named_tuples_like_torch():
    x = hy.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    for result in (hy.sort(x), x.sort(), hy.topk(x, 2), x.topk(2)):
        values, indices = result
        assert result.values is values and result.indices is indices
        assert indices.dtype == hy.int64
    assert hy.sort(x).values.tolist() == [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0]]
    assert x.sort(dim=0, descending=True).indices.tolist() == [[0, 1, 1], [1, 0, 0]]
    assert hy.topk(x, k=1, dim=1, largest=False, sorted=True).values.tolist() == [[1.0], [0.0]]
    assert hy.argsort(x, dim=1, descending=True).tolist() == [[0, 2, 1], [1, 2, 0]]
    assert x.argsort().tolist() == [[1, 2, 0], [0, 2, 1]]


def test_nan_sorts_as_the_largest_value():
    x = hy.tensor([2.0, nan, -inf, 1.0, nan, inf])
    assert hy.sort(x).indices.tolist() == [2, 3, 0, 5, 1, 4]
    assert hy.sort(x, descending=True).indices.tolist() == [1, 4, 5, 0, 3, 2]
    assert hy.topk(x, 3).indices.tolist() == [1, 4, 5]
    assert hy.topk(x, 2, largest=False).indices.tolist() == [2, 3]


def test_equal_elements_keep_their_order():
    x = hy.tensor([1, 0, 1, 0, 1, 0], dtype=hy.int32)
    assert hy.sort(x, stable=True).indices.tolist() == [1, 3, 5, 0, 2, 4]
    assert hy.sort(x, descending=True, stable=True).indices.tolist() == [0, 2, 4, 1, 3, 5]
    assert hy.sort(x).indices.tolist() == [1, 3, 5, 0, 2, 4]  # stable=False gives the same order


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, size=(3, 50, 7)).astype(np.float64)  # many ties
    a[0, 5, 2] = a[1, 7, 3] = np.nan
    tx, hx = torch.from_numpy(a), hy.tensor(a)
    for dim in (0, 1, -1):
        for descending in (False, True):
            tv, ti = torch.sort(tx, dim=dim, descending=descending, stable=True)
            hv, hi = hy.sort(hx, dim=dim, descending=descending, stable=True)
            np.testing.assert_array_equal(hv.numpy(), tv.numpy())
            np.testing.assert_array_equal(hi.numpy(), ti.numpy())
    d = rng.permutation(300).astype(np.float32).reshape(3, 100)  # distinct: topk's order is defined
    for largest in (True, False):
        tv, ti = torch.topk(torch.from_numpy(d), 7, dim=1, largest=largest)
        hv, hi = hy.topk(hy.tensor(d), 7, dim=1, largest=largest)
        np.testing.assert_array_equal(hv.numpy(), tv.numpy())
        np.testing.assert_array_equal(hi.numpy(), ti.numpy())


def test_gradients_scatter_back_to_the_sorted_positions():
    x = hy.tensor([[3.0, 1.0, 2.0], [0.5, 5.0, 4.0]], requires_grad=True)
    w = hy.tensor([[1.0, 10.0, 100.0], [1.0, 10.0, 100.0]])
    (hy.sort(x, dim=1).values * w).sum().backward()
    assert x.grad.tolist() == [[100.0, 1.0, 10.0], [1.0, 100.0, 10.0]]
    x.grad = None
    hy.topk(x, 2, dim=1).values.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]


def test_topk_k_out_of_range_raises():
    x = hy.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"topk: k \(4\) is out of range.*0 <= k <= 3"):
        hy.topk(x, 4)
    with pytest.raises(RuntimeError, match=r"topk: k \(-1\) is out of range"):
        x.topk(-1)
    with pytest.raises(RuntimeError, match=r"topk: k \(3\) is out of range.*0 <= k <= 2"):
        hy.topk(x, 3, dim=0)


@pytest.mark.parametrize("call", [lambda x: hy.sort(x, dim=2), lambda x: hy.argsort(x, dim=-3),
                                  lambda x: hy.topk(x, 1, dim=5)])
def test_dim_out_of_range_raises_index_error(call):
    with pytest.raises(IndexError, match=r"(sort|argsort|topk): dim .* out of range"):
        call(hy.zeros(2, 3))


def test_half_precision_and_bool_round_trip():
    x = hy.tensor([0.5, -2.0, 1.5], dtype=hy.bfloat16)
    assert hy.sort(x).values.dtype == hy.bfloat16
    assert hy.sort(x).values.tolist() == [-2.0, 0.5, 1.5]
    b = hy.tensor([True, False, True])
    assert hy.sort(b).values.tolist() == [False, True, True]


def test_sort_and_topk_take_axis_alias_like_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((3, 4))
    for call in (lambda lib, a: lib.sort(a, axis=0), lambda lib, a: a.sort(axis=0, descending=True),
                 lambda lib, a: lib.topk(a, 2, axis=0), lambda lib, a: a.topk(2, axis=1, largest=False)):
        for got, want in zip(call(hy, hy.tensor(x)), call(torch, torch.tensor(x))):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(TypeError, match="both dim= and its alias axis="):
        hy.sort(hy.tensor(x), 1, axis=0)
