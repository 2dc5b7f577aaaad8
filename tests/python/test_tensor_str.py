"""Tensor printing: the layout torch uses (hyflow's reprs differ only in 'hyflow.' for 'torch.')."""
import numpy as np
import pytest

import hyflow as hy

try:
    import torch
except ImportError:  # torch is a test reference only
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (reference for repr layout)")


def test_matrix_of_integral_floats():
    assert repr(hy.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"
    assert str(hy.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"


def test_dtype_suffix_only_for_non_default_dtypes():
    assert repr(hy.tensor([1, 2, 3])) == "tensor([1, 2, 3])"
    assert repr(hy.tensor([True, False])) == "tensor([ True, False])"
    assert repr(hy.tensor([1, 2], dtype=hy.int32)) == "tensor([1, 2], dtype=hyflow.int32)"
    assert repr(hy.tensor([0.5], dtype=hy.float64)) == "tensor([0.5000], dtype=hyflow.float64)"


def test_scalars_and_empty():
    assert repr(hy.tensor(3.5)) == "tensor(3.5000)"
    assert repr(hy.tensor(7)) == "tensor(7)"
    assert repr(hy.zeros(0)) == "tensor([])"
    assert repr(hy.zeros(0, 3)) == "tensor([], size=(0, 3))"


def test_summarizes_large_tensors():
    text = repr(hy.arange(2000, dtype=hy.float32))
    assert text == "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])"
    assert "..." not in repr(hy.arange(1000, dtype=hy.float32))


def test_half_precision_prints_via_float32():
    assert repr(hy.tensor([1.5, 2.25], dtype=hy.bfloat16)) == "tensor([1.5000, 2.2500], dtype=hyflow.bfloat16)"
    assert repr(hy.tensor([1.0, 2.0], dtype=hy.float16)) == "tensor([1., 2.], dtype=hyflow.float16)"


def test_non_contiguous_views_print_their_logical_layout():
    t = hy.arange(6, dtype=hy.float32).reshape(2, 3).transpose(0, 1)
    assert repr(t) == "tensor([[0., 3.],\n        [1., 4.],\n        [2., 5.]])"


def test_printoptions():
    try:
        hy.set_printoptions(precision=2)
        assert repr(hy.tensor([0.12345])) == "tensor([0.12])"
        hy.set_printoptions(threshold=5, edgeitems=1)
        assert repr(hy.arange(10)) == "tensor([0,  ..., 9])"
    finally:
        hy.set_printoptions(profile="default")
    with pytest.raises(ValueError, match="profile"):
        hy.set_printoptions(profile="huge")


_CASES = {
    "ints_as_float": lambda: np.array([[1.0, 2.0], [3.0, 4.0]], np.float32),
    "decimals": lambda: np.array([[1.25, -2.5], [3.125, 400.0]], np.float32),
    "small_values_sci": lambda: np.array([1e-5, 1.0, 2.0], np.float32),
    "wide_range_sci": lambda: np.array([1.0, 1e5], np.float32),
    "huge_ints": lambda: np.array([1e9, 2.0], np.float32),
    "nonfinite": lambda: np.array([np.nan, np.inf, -np.inf, 1.5], np.float32),
    "nonfinite_int_mode": lambda: np.array([np.nan, 2.0, -np.inf], np.float32),
    "all_nan": lambda: np.array([np.nan, np.nan], np.float32),
    "zeros": lambda: np.zeros((2, 2), np.float32),
    "negative_zero": lambda: np.array([-0.0, 1.0], np.float32),
    "float64": lambda: np.array([0.1, 0.2, 1 / 3], np.float64),
    "int64": lambda: np.array([[1, -20], [300, 4]], np.int64),
    "int32": lambda: np.array([5, -6], np.int32),
    "bool": lambda: np.array([[True, False], [False, True]]),
    "scalar_float": lambda: np.array(2.5, np.float32),
    "scalar_int": lambda: np.array(-3, np.int64),
    "scalar_bool": lambda: np.array(True),
    "line_wrap": lambda: (np.arange(30, dtype=np.float32) / 7),
    "line_wrap_ints": lambda: np.arange(40, dtype=np.int64) * 1000,
    "rank3": lambda: np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5,
    "rank4": lambda: np.arange(16, dtype=np.int64).reshape(2, 2, 2, 2),
    "summarized_1d": lambda: np.arange(2000, dtype=np.float32),
    "summarized_2d": lambda: np.arange(2000, dtype=np.float32).reshape(40, 50) / 3,
    "summarized_3d": lambda: np.arange(8000, dtype=np.int64).reshape(20, 20, 20),
    "summarized_one_long_dim": lambda: np.ones((2, 1000), np.float32),
    "empty_1d": lambda: np.zeros(0, np.float32),
    "empty_2d": lambda: np.zeros((0, 3), np.float32),
    "empty_int32": lambda: np.zeros((2, 0), np.int32),
}


@needs_torch
@pytest.mark.parametrize("case", sorted(_CASES))
def test_matches_torch(case):
    arr = _CASES[case]()
    expected = repr(torch.from_numpy(arr.copy())).replace("torch.", "hyflow.")
    assert repr(hy.tensor(arr)) == expected


@needs_torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_types_match_torch(dtype):
    arr = np.array([[0.1, -2.5, 1000.0], [3.0, 1e-3, 7.0]], np.float32)
    expected = repr(torch.tensor(arr, dtype=getattr(torch, dtype))).replace("torch.", "hyflow.")
    assert repr(hy.tensor(arr, dtype=getattr(hy, dtype))) == expected
