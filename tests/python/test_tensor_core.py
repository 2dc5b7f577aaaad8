"""Tensor core: geometry, views over shared storage, casts, copies, scalars, item/tolist."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close


def test_tensor_defaults_follow_torch():
    assert hy.tensor([[1.0, 2.0], [3.0, 4.0]]).dtype == hy.float32
    assert hy.tensor([1, 2]).dtype == hy.int64
    assert hy.tensor([True, False]).dtype == hy.bool
    assert hy.tensor(np.arange(3.0)).dtype == hy.float64  # NumPy arrays keep their dtype
    assert hy.tensor(2.5).shape == ()
    assert hy.tensor([1, 2], dtype=hy.float64).dtype == hy.float64
    assert hy.tensor([1.5], dtype="bfloat16").dtype == hy.bfloat16


def test_geometry_properties():
    t = hy.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3 and t.numel() == 24
    assert t.stride() == (12, 4, 1) and t.size(1) == 3 and t.size(-1) == 4
    assert t.is_contiguous() and t.itemsize == 4 and t.nbytes == 96 and len(t) == 2
    assert t.device == "cpu"


def test_allocations_are_64_byte_aligned():
    for n in (1, 3, 17, 1000):
        assert hy.empty(n).data_ptr() % 64 == 0


def test_views_share_storage_and_bump_version():
    base = hy.arange(12.0).reshape(3, 4)
    v = base.transpose(0, 1)
    assert v.shape == (4, 3) and not v.is_contiguous()
    assert v.untyped_storage_ptr() == base.untyped_storage_ptr()
    before = base._version
    v.fill_(1.0)
    assert base._version > before
    assert base.tolist() == [[1.0] * 4] * 3


def test_view_rules():
    t = hy.arange(24).reshape(2, 3, 4)
    assert t.view(6, 4).shape == (6, 4)
    assert t.view(-1).shape == (24,)
    assert t.reshape(4, -1).shape == (4, 6)
    with pytest.raises(ValueError, match="cannot be viewed"):
        t.transpose(0, 2).view(24)
    assert t.transpose(0, 2).reshape(24).tolist() == np.arange(24).reshape(2, 3, 4).transpose(2, 1, 0).ravel().tolist()
    with pytest.raises(ValueError, match="only one dimension can be -1"):
        t.view(-1, -1)
    with pytest.raises(ValueError, match="invalid for input of size 24"):
        t.reshape(5, 5)


def test_permute_T_mT_expand_squeeze_unsqueeze_flatten():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = hy.tensor(a, dtype=hy.float64)
    assert_close(t.permute(2, 0, 1), a.transpose(2, 0, 1))
    assert_close(t.T, a.T)
    assert_close(t.mT, np.swapaxes(a, -1, -2))
    e = hy.tensor([[1.0], [2.0]]).expand(2, 3)
    assert e.shape == (2, 3) and e.stride() == (1, 0)
    assert_close(e, np.array([[1.0] * 3, [2.0] * 3], dtype=np.float32))
    assert hy.zeros(1, 3, 1).squeeze().shape == (3,)
    assert hy.zeros(1, 3, 1).squeeze([0]).shape == (3, 1)
    assert hy.zeros(3).unsqueeze(0).shape == (1, 3) and hy.zeros(3).unsqueeze(-1).shape == (3, 1)
    assert t.flatten().shape == (24,) and t.flatten(1).shape == (2, 12)
    with pytest.raises(ValueError, match="cannot be expanded"):
        hy.zeros(2, 3).expand(3, 3)
    with pytest.raises(ValueError, match="must name each"):
        t.permute(0, 1)
    with pytest.raises(ValueError, match="repeats"):
        t.permute(0, 0, 1)


def test_select_slice_and_as_strided_bounds():
    t = hy.arange(10)
    assert t.select(0, -1).item() == 9
    assert hy.ops.slice(t, 0, 2, 9, 3).tolist() == [2, 5, 8]
    assert hy.ops.slice(t, 0, -3, None, 1).tolist() == [7, 8, 9]
    with pytest.raises(IndexError, match="out of bounds"):
        t.select(0, 10)
    with pytest.raises(ValueError, match="outside its storage"):
        hy.ops.as_strided(t, (5,), (3,))
    assert hy.ops.as_strided(t, (3,), (3,)).tolist() == [0, 3, 6]


def test_contiguous_clone_copy_fill_zero():
    t = hy.arange(6.0).reshape(2, 3).T
    c = t.contiguous()
    assert c.is_contiguous() and c.tolist() == t.tolist()
    k = t.clone()
    k.fill_(0)
    assert t.sum().item() == 15.0 if hasattr(t, "sum") else True
    dst = hy.zeros(3, 2, dtype=hy.int64)
    dst.copy_(t)
    assert dst.tolist() == [[0, 3], [1, 4], [2, 5]]
    dst.zero_()
    assert dst.tolist() == [[0, 0]] * 3
    row = hy.zeros(2, 3)
    row.copy_(hy.tensor([1.0, 2.0, 3.0]))  # broadcast copy
    assert row.tolist() == [[1.0, 2.0, 3.0]] * 2


def test_overlapping_copy_is_safe():
    t = hy.arange(5.0)
    hy.ops.slice(t, 0, 1, None, 1).copy_(hy.ops.slice(t, 0, 0, 4, 1))
    assert t.tolist() == [0.0, 0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("src", ["bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("dst", ["bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"])
def test_casts_between_every_dtype(src, dst):
    values = [0.0, 1.0, -2.0, 3.0, 100.0] if src != "bool" else [0.0, 1.0, 1.0, 0.0, 1.0]
    if src in ("int32", "int64"):
        values = [0, 1, -2, 3, 100]
    t = hy.tensor(values, dtype=getattr(hy, src))
    r = t.to(getattr(hy, dst))
    assert r.dtype == getattr(hy, dst)
    expected = np.array(values, dtype=np.float64).astype(dst if dst != "bfloat16" else "float32")
    assert_close(r.to(hy.float64), expected.astype(np.float64), rtol=1e-2, atol=0)


def test_half_and_bfloat16_rounding():
    x = hy.tensor([1.0 + 2 ** -11, 65504.0, 70000.0, 1e-8, -0.0], dtype=hy.float64)
    h = x.to(hy.float16).to(hy.float64).tolist()
    assert h[0] == 1.0 and h[1] == 65504.0 and h[2] == float("inf") and h[3] == pytest.approx(0.0, abs=6e-8)
    b = hy.tensor([1.0 + 2 ** -8, 3.0e38], dtype=hy.float64).to(hy.bfloat16).to(hy.float64).tolist()
    assert b[0] == 1.0 and b[1] == pytest.approx(3.0e38, rel=1e-2)
    assert np.isnan(hy.tensor([float("nan")]).to(hy.bfloat16).to(hy.float32).item())


def test_item_tolist_and_number_protocol():
    assert hy.tensor(3).item() == 3 and isinstance(hy.tensor(3).item(), int)
    assert hy.tensor([2.5]).item() == 2.5
    assert float(hy.tensor(1.5)) == 1.5 and int(hy.tensor(7)) == 7
    assert [10, 20, 30][hy.tensor(1)] == 20
    assert bool(hy.tensor([1.0])) is True
    with pytest.raises(ValueError, match="ambiguous"):
        bool(hy.zeros(2))
    with pytest.raises(ValueError, match="exactly one element"):
        hy.zeros(2).item()
    with pytest.raises(TypeError, match="0-d"):
        len(hy.tensor(1.0))
    assert hy.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert hy.tensor(True).tolist() is True


def test_type_promotion_follows_torch():
    f32, i32, i64 = hy.ones(2), hy.ones(2, dtype=hy.int32), hy.ones(2, dtype=hy.int64)
    assert (f32 + 2.5).dtype == hy.float32        # Python float stays weak
    assert (i32 + 2).dtype == hy.int32            # Python int stays weak
    assert (i32 + 2.5).dtype == hy.float32        # category lift to the default float
    assert (i32 + i64).dtype == hy.int64
    assert (f32 + hy.tensor(1.0, dtype=hy.float64)).dtype == hy.float32  # 0-d same category: weak
    assert (i32 + hy.tensor(1.0, dtype=hy.float64)).dtype == hy.float64  # 0-d higher category: its dtype
    assert (hy.ones(2, dtype=hy.float16) + hy.ones(2, dtype=hy.bfloat16)).dtype == hy.float32
    assert (hy.ones(2, dtype=hy.bool) + hy.ones(2, dtype=hy.bool)).dtype == hy.bool
    assert (i64 / 2).dtype == hy.float32
    assert hy.promote_types(hy.int32, hy.float16) == hy.float16


def test_inplace_ops_refuse_downcasting_category():
    i = hy.ones(3, dtype=hy.int64)
    with pytest.raises(TypeError, match="can't be cast"):
        i.add_(1.5)
    i.add_(2)
    assert i.tolist() == [3, 3, 3]
    with pytest.raises(TypeError, match="alpha"):
        hy.add(i, i, alpha=0.5)


def test_out_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)|\(2,\).*\(3,\)"):
        hy.add(hy.ones(2), hy.ones(2), out=hy.empty(3))


def test_broadcast_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        hy.ones(2, 3) + hy.ones(4)


def test_integer_division_by_zero_raises():
    with pytest.raises(ValueError, match="division by zero"):
        hy.tensor([1, 2]) // hy.tensor([1, 0])
    with pytest.raises(ValueError, match="division by zero"):
        hy.tensor([1, 2]) % 0
    assert (hy.tensor([1.0]) / 0).item() == float("inf")


def test_python_semantics_of_floor_div_and_mod():
    a = hy.tensor([7, -7, 7, -7])
    b = hy.tensor([2, 2, -2, -2])
    assert (a // b).tolist() == [3, -4, -4, 3]
    assert (a % b).tolist() == [1, 1, -1, -1]
    assert (hy.tensor([-7.5]) % 2).tolist() == [0.5]


def test_operators_return_notimplemented_for_unknown_types():
    with pytest.raises(TypeError):
        hy.ones(2) + "a"
    assert (hy.ones(2) == "a") is False


def test_reflected_operators():
    t = hy.tensor([1.0, 2.0])
    assert (2 - t).tolist() == [1.0, 0.0]
    assert (1 / t).tolist() == [1.0, 0.5]
    assert (2 ** t).tolist() == [2.0, 4.0]


def test_tensors_hash_by_identity_and_keep_python_identity():
    t = hy.ones(2)
    d = {t: 1}
    assert d[t] == 1
    r = t.add_(1)
    assert r is t
    t.note = "attributes allowed"
    assert t.note == "attributes allowed"


def test_elementwise_results_keep_a_transposed_layout():
    x = hy.arange(12.0).reshape(3, 4).T          # a dense, transposed layout
    for r in (-x, x + 1, x * x, x.exp(), x.to(hy.float64)):
        assert r.stride() == x.stride(), "result should be laid out like its input (like NumPy)"
    assert_close(x + 1, np.arange(12.0).reshape(3, 4).T + 1)
    b = hy.ones(4, 3) + x                           # mixed layouts: values still right
    assert_close(b, np.arange(12.0).reshape(3, 4).T + 1)


# ---- integer division: wrap like NumPy, never trap (issue 15) ----------------------------------------
def test_int_min_floor_divide_remainder_and_trunc_div_by_minus_one_wrap():
    # INT_MIN / -1 used to kill the process with SIGFPE, so the checks run in a subprocess
    from isolated import run_isolated
    out = run_isolated(
        "for dt in (hy.int32, hy.int64):\n"
        "    lo = -2**31 if dt == hy.int32 else -2**63\n"
        "    a = hy.tensor([lo, lo, 7, -7], dtype=dt)\n"
        "    b = hy.tensor([-1, 1, -1, -1], dtype=dt)\n"
        "    r = [(a // b).tolist(), (a % b).tolist(), hy.floor_divide(a, b).tolist(), hy.remainder(a, b).tolist(),\n"
        "         hy.div(a, b, rounding_mode='trunc').tolist(), hy.div(a, b, rounding_mode='floor').tolist(),\n"
        "         (a // -1).tolist(), (a % -1).tolist(), a.clone().floor_divide_(b).tolist(),\n"
        "         a.clone().remainder_(-1).tolist(), a.clone().div_(b, rounding_mode='trunc').tolist()]\n"
        "    c = a.clone(); c //= -1; d = a.clone(); d %= -1\n"
        "    r += [c.tolist(), d.tolist(), (lo // hy.tensor([-1], dtype=dt)).tolist()]\n"
        "    print(r)\n")
    for line, lo in zip(out.splitlines(), (-2**31, -2**63)):
        q, m = [lo, lo, -7, 7], [0, 0, 0, 0]
        assert eval(line) == [q, m, q, m, q, q, q, m, q, m, q, q, m, [lo]]


def test_int32_divisor_is_checked_in_the_dtype_it_divides_in():
    # int32 // 2**32 passed the zero check as int64, then divided by a wrapped 0 (SIGFPE)
    from isolated import run_isolated
    out = run_isolated(
        "a = hy.tensor([5, -5], dtype=hy.int32)\n"
        "for f in (lambda: a // 2**32, lambda: a % 2**32, lambda: hy.div(a, 2**32, rounding_mode='trunc'),\n"
        "          lambda: a.clone().floor_divide_(2**32), lambda: 2**32 // a,\n"
        "          lambda: a // hy.tensor(2**32), lambda: a % hy.tensor(-2**32)):\n"
        "    try:\n"
        "        f()\n"
        "        print('no error')\n"
        "    except ValueError as e:\n"
        "        print(e)\n")
    lines = out.splitlines()
    assert len(lines) == 7
    for line in lines[:5]:
        assert "Python integer 4294967296 out of bounds for int32" in line
    for line in lines[5:]:  # a 0-d int64 tensor converts to int32 like torch does: its wrapped 0 is a zero divisor
        assert "integer division by zero" in line


def test_python_int_out_of_bounds_for_int32_raises_like_numpy2():
    a = hy.tensor([1, 2], dtype=hy.int32)
    for f in (lambda: a + 2**40, lambda: a * 2**31, lambda: 2**40 - a, lambda: a.add_(2**40),
              lambda: hy.maximum(a, -2**40), lambda: a & 2**33, lambda: a.add(1, alpha=2**40)):
        with pytest.raises(ValueError, match="out of bounds for int32"):
            f()
    assert a.tolist() == [1, 2]
    assert (a + (2**31 - 1)).dtype == hy.int32 and (a + -2**31).tolist() == [-2**31 + 1, -2**31 + 2]
    # comparisons compare exactly, as NumPy 2 does
    assert (a == 2**32 + 1).tolist() == [False, False]
    assert (a < 2**40).tolist() == [True, True] and (a > -2**40).tolist() == [True, True]
    assert (a + 2**40.0).dtype == hy.float32  # a float scalar promotes instead


# ---- float floor_divide / remainder edge cases against NumPy ----------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_float_floor_divide_and_remainder_match_numpy_at_inf_nan_and_zero(dtype):
    vals = [np.inf, -np.inf, np.nan, -0.0, 0.0, 1.0, -1.0, 5.0, -5.0, 2.0, -2.0]
    a, b = np.meshgrid(np.array(vals), np.array(vals), indexing="ij")
    a, b = a.ravel().astype(np.float32), b.ravel().astype(np.float32)  # every value is exact in every dtype
    ha, hb = hy.tensor(a).to(getattr(hy, dtype)), hy.tensor(b).to(getattr(hy, dtype))
    ref_dt = np.float16 if dtype == "float16" else np.float64 if dtype == "float64" else np.float32
    with np.errstate(all="ignore"):
        ref_q = np.floor_divide(a.astype(ref_dt), b.astype(ref_dt))
        ref_r = np.remainder(a.astype(ref_dt), b.astype(ref_dt))
    for got, ref in (((ha // hb), ref_q), ((ha % hb), ref_r), (hy.div(ha, hb, rounding_mode="floor"), ref_q)):
        g = got.to(hy.float64).numpy()
        np.testing.assert_array_equal(g, ref.astype(np.float64))
        num = ~np.isnan(ref)
        np.testing.assert_array_equal(np.signbit(g[num]), np.signbit(ref[num]))  # -0.0 vs 0.0 too
    assert (hy.tensor([np.inf, -np.inf]) // 3.0).isnan().all().item()


# ---- conversions of Python numbers and NumPy arrays into integer dtypes ----------------------------
def test_tensor_of_uint64_beyond_int64_raises_or_converts_to_float64():
    big = 2**64 - 1
    for make in (lambda: hy.tensor(big), lambda: hy.tensor([big]), lambda: hy.tensor(np.array([big], np.uint64)),
                 lambda: hy.as_tensor(np.array([1, big], np.uint64)), lambda: hy.tensor(np.uint64(2**63))):
        with pytest.raises(ValueError, match=r"cannot be converted to int64.*dtype=hyflow.float64"):
            make()
    assert hy.tensor([big], dtype=hy.float64).tolist() == [float(big)]
    assert hy.as_tensor(np.array([big], np.uint64), dtype=hy.float64).tolist() == [float(big)]
    assert hy.tensor(np.array([2**63 - 1], np.uint64)).tolist() == [2**63 - 1]


def test_tensor_of_python_int_beyond_int64_raises():
    for data in ([2**70], [1, 2**64], [-2**63 - 1], 2**100, [[1], [2**80]]):
        with pytest.raises(ValueError, match="Python integer .* cannot be converted to int64"):
            hy.tensor(data)
    with pytest.raises(ValueError, match="int32"):
        hy.tensor([2**70], dtype=hy.int32)
    assert hy.tensor([2**70, 1], dtype=hy.float64).tolist() == [2.0**70, 1.0]


def test_tensor_of_ints_in_uint64_range_mixed_with_small_ints_raises():
    # NumPy reads [0, 2**63] as float64, which became a float32 tensor of rounded values (fuzz finding).
    for data in ([0, 2**63], [1, 2**64 - 1], [[0], [2**63]]):
        with pytest.raises(ValueError, match="Python integer .* cannot be converted to int64"):
            hy.tensor(data)
        with pytest.raises(ValueError, match="cannot be converted to int64"):
            hy.as_tensor(data)
    assert hy.tensor([0, 2**63], dtype=hy.float64).tolist() == [0.0, 2.0**63]
    assert hy.tensor([0.5, 2**63]).dtype == hy.float32  # a float in the data makes it a float tensor


def test_numpy_unsigned_arrays_convert_to_int64_or_raise():
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        a = np.array([0, np.iinfo(dt).max if dt != np.uint64 else 2**63 - 1], dt)
        with pytest.raises(TypeError, match="not supported"):
            hy.from_numpy(a)  # no hyflow dtype shares uint memory
        for t in (hy.tensor(a), hy.as_tensor(a)):
            assert t.dtype == hy.int64 and t.tolist() == a.tolist()


def test_tensor_with_an_integer_dtype_checks_every_value_fits():
    for data, dt in (([2**40], hy.int32), ([float("nan")], hy.int32), ([float("inf")], hy.int64),
                     ([1e400], hy.int64), (np.array([3e9]), hy.int32), (np.array([2**63], np.uint64), hy.int64)):
        with pytest.raises(ValueError, match=f"cannot be converted to {dt.name} without overflow"):
            hy.tensor(data, dtype=dt)
    assert hy.tensor([3.7, -3.7], dtype=hy.int32).tolist() == [3, -3]  # truncation, as torch
    assert hy.tensor([-2**31, 2**31 - 1], dtype=hy.int32).tolist() == [-2**31, 2**31 - 1]


def test_filling_integer_tensors_with_nan_inf_or_too_big_values_raises():
    i32 = lambda: hy.zeros(3, dtype=hy.int32)  # noqa: E731
    mask = hy.tensor([True, False, True])
    bad = [float("nan"), float("inf"), -float("inf"), 1e400, 2**40, 2.0**40]
    for v in bad:
        for f in (lambda: i32().fill_(v), lambda: hy.full((2,), v, dtype=hy.int32), lambda: hy.full_like(i32(), v),
                  lambda: i32().masked_fill(mask, v), lambda: i32().masked_fill_(mask, v)):
            with pytest.raises(ValueError, match="int32"):
                f()
        t = i32()
        for idx in (0, slice(None), mask):
            with pytest.raises(ValueError, match="int32"):
                t[idx] = v
        assert t.tolist() == [0, 0, 0]
    for v in (float("nan"), float("inf"), 2.0**63):
        with pytest.raises(ValueError, match="int64"):
            hy.zeros(2, dtype=hy.int64).fill_(v)
    with pytest.raises(ValueError, match="int32"):
        hy.clamp(i32(), max=2**40)
    with pytest.raises(ValueError, match="int32"):
        hy.where(mask, i32(), 2**40)
    with pytest.raises(ValueError, match="int32"):
        hy.linspace(0, float("nan"), 3, dtype=hy.int32)
    with pytest.raises(ValueError, match="int32"):
        hy.arange(0, 2**33, 2**31, dtype=hy.int32)
    # in-range floats truncate as in torch; bools take any number's truth value
    assert i32().fill_(3.7).tolist() == [3, 3, 3] and hy.full((1,), -2**31, dtype=hy.int32).tolist() == [-2**31]
    assert hy.zeros(2, dtype=hy.bool).fill_(float("nan")).tolist() == [True, True]
    assert hy.clamp(i32(), min=-5, max=2**31 - 1).tolist() == [0, 0, 0]


def test_arange_over_the_whole_int64_range():
    # end - start overflowed int64, and the count came out 0: an empty tensor (scripts/sanitize.sh finding).
    np.testing.assert_array_equal(hy.arange(-2**63, 2**63 - 1, 2**62).numpy(),
                                  np.arange(-2**63, 2**63 - 1, 2**62, dtype=np.int64))
    np.testing.assert_array_equal(hy.arange(2**63 - 1, -2**63, -2**62).numpy(),
                                  np.arange(2**63 - 1, -2**63, -2**62, dtype=np.int64))
    with pytest.raises(ValueError, match="too many elements"):
        hy.arange(-2**63, 2**63 - 1)


def test_integer_add_sub_mul_wrap_like_numpy():
    # Checked exactly here; under scripts/sanitize.sh, UBSan also fails it if a kernel overflows a signed type.
    for dt, npdt in ((hy.int32, np.int32), (hy.int64, np.int64)):
        info = np.iinfo(npdt)
        a = np.array([info.max, info.min, -1, 7], npdt)
        b = np.array([info.max, info.max, info.min, 3], npdt)
        x, y = hy.tensor(a), hy.tensor(b)
        with np.errstate(over="ignore"):
            for got, want in ((x + y, a + b), (x - y, a - b), (x * y, a * b), (x * 3, a * np.array(3, npdt)),
                              (hy.add(x, y, alpha=3), a + np.array(3, npdt) * b),
                              (hy.sub(x, y, alpha=2), a - np.array(2, npdt) * b)):
                assert got.dtype == dt
                np.testing.assert_array_equal(got.numpy(), want)


def test_linspace_of_one_step_is_start():
    assert hy.linspace(2.0, 5.0, 1).tolist() == [2.0]
    assert hy.linspace(-1, 7, 1, dtype=hy.int64).tolist() == [-1]
    assert hy.linspace(0.0, 1.0, 0).tolist() == []
    np.testing.assert_array_equal(hy.linspace(0.0, 1.0, 5, dtype=hy.float64).numpy(), np.linspace(0, 1, 5))


# --- small pieces PyTorch programs call ------------------------------------------------------------

def test_format_spec_on_scalar_tensors_like_torch():
    loss = hy.tensor(0.123456)
    assert f"{loss:.4f}" == "0.1235" and f"{loss}" == str(loss.item()) and f"{hy.tensor(7):>3d}" == "  7"
    assert f"{hy.tensor([2.5]):.1f}" == "2.5"  # one element: formatted as its number too
    t = hy.tensor([1.0, 2.0])
    assert f"{t}" == str(t)
    with pytest.raises(TypeError, match=r"unsupported format string '\.2f'.*shape \(2,\)"):
        f"{t:.2f}"
    lw = hy.tensor(1.5, requires_grad=True) * 2
    assert f"{lw:.2f}" == "3.00"


def test_round_view_as_t():
    assert round(hy.tensor([1.26, -2.5]), 1).tolist() == pytest.approx([1.3, -2.5])
    assert round(hy.tensor([1.4, 2.6])).tolist() == [1.0, 3.0]
    a, b = hy.arange(6.0), hy.zeros(2, 3)
    assert a.view_as(b).shape == (2, 3) and a.view_as(b).tolist() == [[0, 1, 2], [3, 4, 5]]
    m = hy.arange(6.0).reshape(2, 3)
    assert m.t().shape == (3, 2) and m.t().tolist() == [[0, 3], [1, 4], [2, 5]]
    v = hy.ones(3)
    assert v.t() is v and hy.tensor(1.0).t().dim() == 0
    with pytest.raises(RuntimeError, match=r"t\(\) expects a tensor with <= 2 dimensions, but self is 3D"):
        hy.ones(1, 2, 3).t()


def test_device_shims_cpu_cuda_pin_memory():
    x = hy.ones(2)
    assert x.cpu() is x and x.pin_memory() is x and not x.is_pinned()
    if not hy.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            x.cuda()
    assert x.to("cpu", non_blocking=True) is x
    assert x.to(hy.float64, non_blocking=True).dtype == hy.float64
    assert x.to(hy.float64, True, True).dtype == hy.float64  # torch's positional (non_blocking, copy)
    assert x.to(memory_format=hy.preserve_format) is x


def test_memory_format_arguments():
    x = hy.arange(6.0).reshape(2, 3).T
    c = x.contiguous(memory_format=hy.contiguous_format)
    assert c.is_contiguous() and c.tolist() == x.tolist()
    assert x.contiguous(memory_format=hy.channels_last).tolist() == x.tolist()  # a layout hint: same values
    with pytest.raises(RuntimeError, match="preserve memory format is unsupported"):
        x.contiguous(memory_format=hy.preserve_format)
    for cl in (x.clone(memory_format=hy.preserve_format), hy.clone(x, memory_format=hy.contiguous_format), x.clone()):
        assert cl.tolist() == x.tolist()
    with pytest.raises(TypeError, match="memory_format must be a hyflow memory format"):
        x.clone(memory_format="contiguous")
    assert repr(hy.channels_last) == "hyflow.channels_last"


def test_memory_format_in_like_factories_is_contiguous_and_copy_non_blocking():
    x = hy.arange(6.0).reshape(2, 3)
    for fmt in (hy.contiguous_format, hy.preserve_format, hy.channels_last):
        for out in (hy.zeros_like(x, memory_format=fmt), hy.ones_like(x, memory_format=fmt),
                    hy.empty_like(x, memory_format=fmt), hy.full_like(x, 2.0, memory_format=fmt),
                    hy.rand_like(x, memory_format=fmt), hy.randn_like(x, memory_format=fmt)):
            assert out.shape == x.shape and out.dtype == x.dtype and out.is_contiguous()
    assert hy.full_like(x, 2.0, memory_format=hy.contiguous_format).tolist() == [[2.0] * 3] * 2
    with pytest.raises(TypeError, match="memory_format must be a hyflow memory format"):
        hy.zeros_like(x, memory_format="channels_last")
    y = hy.zeros(3)
    assert y.copy_(hy.ones(3), non_blocking=True) is y and y.tolist() == [1, 1, 1]
    y.copy_(hy.full((3,), 2.0), True)  # torch's positional non_blocking
    assert y.tolist() == [2, 2, 2]
    with pytest.raises(TypeError, match="memory_format must be a hyflow memory format"):
        x.is_contiguous(memory_format="channels_last")


def test_is_contiguous_memory_format_matches_torch():
    torch = pytest.importorskip("torch")
    fmts = [(hy.contiguous_format, torch.contiguous_format), (hy.preserve_format, torch.preserve_format),
            (hy.channels_last, torch.channels_last)]
    for shape in [(2, 3, 4, 5), (2, 1, 4, 5), (2, 3, 1, 1), (1, 1, 1, 1), (0, 3, 4, 5), (2, 3), (4,)]:
        h, t = hy.zeros(*shape), torch.zeros(*shape)
        views = [(h, t)]
        if len(shape) == 4:  # NHWC data seen as NCHW: torch's channels_last layout
            views.append((h.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
                          t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)))
            views.append((h.transpose(2, 3), t.transpose(2, 3)))
        for hv, tv in views:
            if hv.numel() == 0 and hv is not h:
                continue  # empty views: torch calls every empty tensor contiguous, hyflow's core checks strides
            for hf, tf in fmts:
                assert hv.is_contiguous(memory_format=hf) == tv.is_contiguous(memory_format=tf), (shape, hf)


def test_addcmul_addcdiv_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(4) for _ in range(3))
    for name in ("addcmul", "addcdiv"):
        want = getattr(torch, name)(torch.tensor(a), torch.tensor(b), torch.tensor(c), value=-0.5).numpy()
        assert_close(getattr(hy, name)(hy.tensor(a), hy.tensor(b), hy.tensor(c), value=-0.5), want)
        assert_close(getattr(hy.tensor(a), name)(hy.tensor(b), hy.tensor(c), value=-0.5), want)
        x = hy.tensor(a)
        assert getattr(x, name + "_")(hy.tensor(b), hy.tensor(c), value=-0.5) is x
        assert_close(x, want)
    # differentiable: composed of recorded ops
    w = hy.tensor(b, requires_grad=True)
    hy.addcmul(hy.tensor(a), w, hy.tensor(c), value=2.0).sum().backward()
    assert_close(w.grad, 2.0 * c)


def test_zero_dim_tensor_as_alpha_like_torch():
    a, b = hy.ones(3), hy.full((3,), 2.0)
    assert hy.add(a, b, alpha=hy.tensor(3.0)).tolist() == [7.0] * 3
    assert a.sub(b, alpha=hy.tensor(2)).tolist() == [-3.0] * 3
    assert hy.ones(2, dtype=hy.int64).add(hy.ones(2, dtype=hy.int64), alpha=hy.tensor(2)).tolist() == [3, 3]
    x = hy.ones(3)
    x.add_(b, alpha=hy.tensor(0.5))
    assert x.tolist() == [2.0] * 3
    with pytest.raises(TypeError):
        hy.add(a, b, alpha=hy.tensor([3.0]))  # torch also takes only 0-d tensors as numbers
