"""Issue 15 defects whose fixes live on other branches, in one place.

While a defect is listed here, its named regression test in test_fuzz_regressions.py is marked
``xfail(strict=True)`` (so it must flip to passing when the fix lands) and the properties steer around
it (a known crash would otherwise stop the property before it finds anything new). When a branch is
merged, set its entries to None: the marks go and the properties cover those inputs again.
"""
import pytest

PENDING = {
    # defect id: branch that fixes it (None once merged)
    "nonzero_zero_size_dim": None,     # SIGFPE
    "int_division_overflow": None,     # INT_MIN // -1, INT_MIN % -1, div trunc/floor: SIGFPE
    "int_scalar_out_of_range": None,   # int32_tensor // 2**32 divides by a wrapped 0; int32 + 2**40 wraps
    "linspace_one_step": None,         # linspace(a, b, 1) == [b]
    "floor_divide_inf": None,          # floor_divide(+-inf, finite) == +-inf, not nan
    "floor_divide_by_inf": None,       # floor_divide(-1.0, inf) == -0.0, not -1.0 (found by this fuzz test)
    "uint64_conversion": None,         # hy.tensor(uint64 2**64-1) == -1
    "bool_bytes_not_0_1": None,        # from_numpy of bools stored as 2..255
    "int_fill_out_of_range": None,     # full/fill_ of an int tensor with nan, 2**40, 1e400
    "conv2d_groups_zero": None,        # ZeroDivisionError
    "inplace_partial_overlap": None,       # x.add_(x.T) wrong for f32/f64/i32/i64
    "write_to_expanded": None,             # in-place on / out= into stride-0 tensors write through aliases
}


def pending(defect):
    """True while `defect`'s fix has not been merged (the properties then avoid its inputs)."""
    assert defect in PENDING, f"unknown defect id {defect!r}"
    return PENDING[defect] is not None


def fixed_on_branch(defect):
    """The xfail mark for a named regression test of a pending defect (strict: it must flip)."""
    if not pending(defect):
        return pytest.mark.skipif(False, reason="merged")  # a mark that does nothing
    return pytest.mark.xfail(strict=True, reason=f"issue 15: fixed on branch {PENDING[defect]}")

