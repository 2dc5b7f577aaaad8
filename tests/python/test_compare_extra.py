"""isclose beyond the OpInfo table (tests/python/opinfo/compare.py), allclose, is_tensor, the
one-argument where and nonzero(as_tuple=True)."""
import numpy as np
import pytest

import hyflow as hy

nan, inf = float("nan"), float("inf")


def test_isclose_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.array([1.0, 1.0 + 1e-6, 1.0 + 1e-3, nan, nan, inf, inf, -inf, 0.0, 1e-9], dtype=np.float32)
    b = np.array([1.0, 1.0, 1.0, nan, 1.0, inf, -inf, -inf, 1e-9, 0.0], dtype=np.float32)
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 1e-2, "atol": 0.0}, {"rtol": 0.0, "atol": 1e-8}):
        expected = torch.isclose(torch.from_numpy(a), torch.from_numpy(b), **kwargs).numpy()
        assert hy.isclose(hy.tensor(a), hy.tensor(b), **kwargs).numpy().tolist() == expected.tolist()
        assert hy.tensor(a).isclose(hy.tensor(b), **kwargs).numpy().tolist() == expected.tolist()


def test_isclose_integers_use_fractional_tolerances():
    a, b = hy.tensor([10, 10, 10]), hy.tensor([10, 11, 13])
    assert hy.isclose(a, b, rtol=0.1, atol=0).tolist() == [True, True, False]


def test_isclose_errors():
    with pytest.raises(RuntimeError, match="isclose: expected self and other to have the same dtype.*float32 != float64"):
        hy.isclose(hy.zeros(2), hy.zeros(2, dtype=hy.float64))
    with pytest.raises(ValueError, match="isclose: rtol must be greater than or equal to zero"):
        hy.isclose(hy.zeros(2), hy.zeros(2), rtol=-1.0)
    with pytest.raises(ValueError, match="isclose: atol must be greater than or equal to zero"):
        hy.isclose(hy.zeros(2), hy.zeros(2), atol=-1.0)


def test_allclose_returns_a_python_bool():
    a = hy.tensor([1.0, 2.0, nan])
    r = hy.allclose(a, a)
    assert r is False  # NaN != NaN
    assert hy.allclose(a, a, equal_nan=True) is True
    assert a.allclose(a + 1e-7, equal_nan=True) is True
    assert hy.allclose(hy.ones(2, 3), hy.ones(3)) is True  # broadcast
    assert hy.allclose(hy.zeros(0), hy.zeros(0)) is True


def test_is_tensor():
    assert hy.is_tensor(hy.zeros(1)) and hy.is_tensor(hy.nn.Parameter(hy.zeros(1)))
    assert not hy.is_tensor(np.zeros(1)) and not hy.is_tensor(1.0)


def test_one_argument_where_is_nonzero_as_tuple():
    torch = pytest.importorskip("torch")
    x = np.array([[0, 1, 0], [2, 0, 3]])
    expected = torch.where(torch.from_numpy(x))
    got = hy.where(hy.tensor(x))
    assert isinstance(got, tuple) and len(got) == 2
    for g, e in zip(got, expected):
        assert g.dtype == hy.int64 and g.tolist() == e.tolist()
    assert hy.tensor(x)[hy.where(hy.tensor(x) > 1)].tolist() == [2, 3]
    assert [t.tolist() for t in hy.tensor(x).nonzero(as_tuple=True)] == [e.tolist() for e in expected]
    assert hy.nonzero(hy.tensor(x)).tolist() == torch.nonzero(torch.from_numpy(x)).tolist()
    assert [t.tolist() for t in hy.where(hy.tensor(5))] == [[0]]  # 0-d: one index tensor, like torch


def test_three_argument_where_still_works_and_half_calls_raise():
    c = hy.tensor([True, False])
    assert hy.where(c, hy.tensor([1.0, 2.0]), hy.tensor([3.0, 4.0])).tolist() == [1.0, 4.0]
    with pytest.raises(TypeError, match="where\\(\\): other is missing"):
        hy.where(c, hy.tensor([1.0, 2.0]))
