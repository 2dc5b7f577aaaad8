"""One named regression case per defect the issue-15 fuzz pass found (the properties in
test_fuzz_ops.py search around them). Cases that crashed the process run in a child interpreter.

Defects fixed on another branch are marked by `fixed_on_branch` (xfail, strict) until it is merged;
fuzz_pending.py lists them.
"""
import numpy as np
import pytest

import hyflow as hy
from fuzz_child import assert_runs_cleanly
from fuzz_pending import fixed_on_branch

INT_MIN = {"int32": -2**31, "int64": -2**63}


# --- crashes -------------------------------------------------------------------------------------

@fixed_on_branch("nonzero_zero_size_dim")
def test_nonzero_with_a_zero_size_dim():
    assert_runs_cleanly("""
        for shape in [(2, 0), (0, 3), (3, 0, 2)]:
            r = hy.nonzero(hy.zeros(*shape))
            assert tuple(r.shape) == (0, len(shape)), (shape, r.shape)
            assert r.dtype == hy.int64
    """)


# Integer division that overflows: NumPy wraps (INT_MIN // -1 == INT_MIN, INT_MIN % -1 == 0); raising
# a ValueError is allowed too. The divisor comes as a tensor and as a Python int.
_INT_DIVISION_CHILD = """
    for dtype, lo in [(hy.int32, -2**31), (hy.int64, -2**63)]:
        x = hy.tensor([lo, 7], dtype=dtype)
        for divisor in (hy.tensor([-1, -1], dtype=dtype), -1):
            try:
                r = {call}
            except ValueError:
                continue
            assert r.tolist() == {expected}, (dtype, r.tolist())
"""


@fixed_on_branch("int_division_overflow")
def test_int_min_floor_divide_minus_one():
    assert_runs_cleanly(_INT_DIVISION_CHILD.format(call="x // divisor", expected="[lo, -7]"))


@fixed_on_branch("int_division_overflow")
def test_int_min_remainder_minus_one():
    assert_runs_cleanly(_INT_DIVISION_CHILD.format(call="x % divisor", expected="[0, 0]"))


@fixed_on_branch("int_division_overflow")
@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_int_min_div_rounding_minus_one(mode):
    assert_runs_cleanly(_INT_DIVISION_CHILD.format(call=f"hy.div(x, divisor, rounding_mode={mode!r})",
                                                   expected="[lo, -7]"))


@fixed_on_branch("int_scalar_out_of_range")
def test_int32_floor_divide_by_two_to_the_32():
    # 2**32 is not zero as an int64 but wraps to 0 in int32: it must be refused, not divided by.
    assert_runs_cleanly("""
        x = hy.tensor([5, -5], dtype=hy.int32)
        for call in (lambda: x // 2**32, lambda: x % 2**32, lambda: hy.div(x, 2**32, rounding_mode="trunc")):
            try:
                call()
            except ValueError as e:
                assert "4294967296" in str(e), str(e)
            else:
                raise AssertionError("int32 // 2**32 did not raise")
    """)


# --- silent wrong results ------------------------------------------------------------------------

def _values(t):
    return np.asarray((t.to(hy.float32) if t.dtype == hy.bfloat16 else t).contiguous().numpy())


@pytest.mark.parametrize("dtype", [
    pytest.param("float32", marks=fixed_on_branch("inplace_partial_overlap")),
    pytest.param("float64", marks=fixed_on_branch("inplace_partial_overlap")),
    pytest.param("int32", marks=fixed_on_branch("inplace_partial_overlap")),
    pytest.param("int64", marks=fixed_on_branch("inplace_partial_overlap")),
    "float16", "bfloat16",  # right already: a control that the test checks what it means to
])
def test_add_inplace_of_own_transpose(dtype):
    a = np.arange(16, dtype=np.float32).reshape(4, 4)
    x = hy.tensor(a).to(getattr(hy, dtype))
    x.add_(x.T)
    np.testing.assert_array_equal(_values(x), a + a.T)


@fixed_on_branch("write_to_expanded")
def test_inplace_op_on_expanded_tensor_raises():
    base = hy.zeros(3)
    with pytest.raises(RuntimeError):
        base.expand(2, 3).add_(1)
    assert base.tolist() == [0.0, 0.0, 0.0]


@fixed_on_branch("write_to_expanded")
def test_out_expanded_tensor_raises():
    out = hy.zeros(3).expand(2, 3)
    with pytest.raises(RuntimeError):
        hy.add(hy.ones(2, 3), hy.tensor([[1.0], [2.0]]), out=out)


@fixed_on_branch("linspace_one_step")
def test_linspace_with_one_step_is_start():
    assert hy.linspace(2.0, 5.0, 1).tolist() == [2.0]
    assert hy.linspace(-1, 7, 1).tolist() == [-1.0]


@fixed_on_branch("floor_divide_inf")
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_floor_divide_inf_by_finite_is_nan(dtype):
    x = hy.tensor([float("inf"), float("-inf"), float("inf")]).to(getattr(hy, dtype))
    y = hy.tensor([2.0, 3.0, -0.5]).to(getattr(hy, dtype))
    assert np.isnan(_values(hy.floor_divide(x, y))).all()
    assert np.isnan(_values(x // 2.0)).all()


@fixed_on_branch("uint64_conversion")
def test_tensor_of_uint64_max_does_not_wrap():
    a = np.array([2**64 - 1], dtype=np.uint64)
    for make in (lambda: hy.tensor(a), lambda: hy.as_tensor(a), lambda: hy.tensor([2**64 - 1])):
        try:
            t = make()
        except (ValueError, OverflowError, TypeError):
            continue
        raise AssertionError(f"2**64-1 became {t.tolist()} ({t.dtype}); no hyflow dtype holds it exactly")


@fixed_on_branch("bool_bytes_not_0_1")
def test_bool_tensor_from_bytes_not_0_1_is_consistent():
    # True is any non-zero byte; whatever hyflow does on import, every op must agree on that.
    raw = np.array([0, 2, 255, 1, 128], dtype=np.uint8)
    try:
        t = hy.from_numpy(raw.view(np.bool_))
    except (ValueError, TypeError):
        return
    truth = raw != 0
    assert int(t.sum()) == int(truth.sum())
    assert t.logical_not().tolist() == (~truth).tolist()
    assert bool(t[1:4].all()) is True
    assert (t == hy.tensor(truth)).all().item()


@fixed_on_branch("int_fill_out_of_range")
@pytest.mark.parametrize("value", [float("nan"), 2**40, 1e400], ids=["nan", "2**40", "1e400"])
def test_filling_int32_with_unrepresentable_value_raises(value):
    for fill in (lambda: hy.full((3,), value, dtype=hy.int32), lambda: hy.zeros(3, dtype=hy.int32).fill_(value)):
        with pytest.raises((ValueError, OverflowError, TypeError, RuntimeError)):
            fill()


@fixed_on_branch("conv2d_groups_zero")
def test_conv2d_groups_zero_raises_value_error():
    # With zero input channels, `channels == weight_channels * groups` holds for groups=0, and the
    # next check divided by groups.
    x, w = hy.ones(1, 0, 4, 4), hy.ones(2, 0, 3, 3)
    with pytest.raises(ValueError, match="groups"):
        hy.nn.functional.conv2d(x, w, groups=0)
    with pytest.raises(ValueError, match="groups"):
        hy.nn.Conv2d(4, 4, 3, groups=0)


@fixed_on_branch("floor_divide_by_inf")
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_floor_divide_finite_by_inf_follows_python(dtype):
    # Python, NumPy and PyTorch: -1.0 // inf == -1.0 and 1.0 // -inf == -1.0 (the floor of a tiny negative).
    x = hy.tensor([-1.0, 1.0, 1.0, -1.0]).to(getattr(hy, dtype))
    y = hy.tensor([float("inf"), float("-inf"), float("inf"), float("-inf")]).to(getattr(hy, dtype))
    assert _values(hy.floor_divide(x, y)).tolist() == [-1.0, -1.0, 0.0, 0.0]
