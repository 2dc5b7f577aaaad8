"""Unary and ternary ops beyond the OpInfo table: bad inputs that must raise, Python operators, NaN and
integer edge cases, in-place writes through strided views."""
import math

import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close


def t(values, dtype=None):
    return hy.tensor(values, dtype=dtype) if dtype is not None else hy.tensor(values)


# ---- bad inputs -------------------------------------------------------------------------------------

def test_neg_of_bool_raises():
    b = t([True, False])
    with pytest.raises(TypeError, match="neg"):
        hy.neg(b)
    with pytest.raises(TypeError, match="neg"):
        -b


def test_relu_of_bool_raises():
    with pytest.raises(TypeError, match="relu"):
        hy.relu(t([True]))


def test_bitwise_not_of_float_raises():
    with pytest.raises(TypeError, match="bitwise_not"):
        hy.bitwise_not(t([1.0]))
    with pytest.raises(TypeError, match="bitwise_not"):
        ~t([1.0])


def test_clamp_without_bounds_raises():
    x = t([1.0, 2.0])
    with pytest.raises(ValueError, match="clamp"):
        hy.clamp(x)
    with pytest.raises(ValueError, match="clamp"):
        x.clamp_()
    with pytest.raises(ValueError, match="clamp_tensor"):
        hy.ops.clamp_tensor(x)


def test_clamp_of_bool_raises():
    with pytest.raises(TypeError, match="clamp"):
        hy.clamp(t([True, False]), min=False)


def test_where_with_non_bool_condition_raises():
    with pytest.raises(TypeError, match="condition"):
        hy.where(t([1, 0]), t([1.0, 2.0]), t([3.0, 4.0]))


def test_where_with_incompatible_shapes_raises():
    with pytest.raises(ValueError, match="where"):
        hy.where(t([True, False, True]), t([1.0, 2.0]), 0.0)
    with pytest.raises(ValueError, match="clamp_tensor"):
        hy.ops.clamp_tensor(t([1.0, 2.0, 3.0]), min=t([0.0, 1.0]))


def test_gelu_bad_approximate_raises():
    with pytest.raises(ValueError, match="approximate"):
        hy.gelu(t([1.0]), approximate="fast")


def test_inplace_float_result_into_int_raises():
    with pytest.raises(TypeError):
        t([1, 2]).exp_()
    with pytest.raises(TypeError):
        t([1, 2]).clamp_(min=0.5)


def test_out_with_wrong_shape_raises():
    with pytest.raises(ValueError, match="exp"):
        hy.exp(t([1.0, 2.0]), out=hy.empty((3,)))


# ---- Python operators -------------------------------------------------------------------------------

def test_unary_operators():
    x = t([-1.5, 2.0])
    assert_close(-x, t([1.5, -2.0]))
    assert_close(abs(x), t([1.5, 2.0]))
    assert (+x) is x
    with pytest.raises(TypeError):
        +t([True])
    assert_close(~t([True, False]), t([False, True]))
    assert_close(~t([0, 5, -1], hy.int32), t([-1, -6, 0], hy.int32))
    assert (~t([0, 5], hy.int32)).dtype == hy.int32


def test_tensor_clamp_method_accepts_tensor_bounds():
    x = t([-3.0, 0.5, 4.0])
    assert_close(x.clamp(min=t([0.0, 1.0, 0.0]), max=2.0), t([0.0, 1.0, 2.0]))
    assert_close(x.clamp(-1, 1), t([-1.0, 0.5, 1.0]))
    y = x.clone()
    y.clamp_tensor_(max=t(0.0))
    assert_close(y, t([-3.0, 0.0, 0.0]))


# ---- semantics ---------------------------------------------------------------------------------------

def test_integer_negation_and_abs_wrap():
    m = np.iinfo(np.int32).min
    x = t([m, -3], hy.int32)
    assert hy.neg(x).tolist() == [m, 3]
    assert hy.abs(x).tolist() == [m, 3]


def test_round_half_to_even():
    x = t([0.5, 1.5, 2.5, -0.5, -1.5, 2.675])
    assert hy.round(x).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 3.0]
    assert_close(hy.round(x, decimals=2), np.round(x.numpy(), 2))
    assert hy.round(t([15, 25, -15, -25, 14]), decimals=-1).tolist() == [20, 20, -20, -20, 10]
    assert hy.round(t([123], hy.int32), decimals=-12).tolist() == [0]


def test_special_values():
    nan, inf = math.nan, math.inf
    assert hy.sign(t([nan, -0.0, -2.0])).tolist() == [0.0, 0.0, -1.0]
    assert hy.rsqrt(t([0.0, 4.0])).tolist() == [inf, 0.5]
    assert math.isnan(hy.relu(t([nan])).item())
    assert hy.isfinite(t([1.0, inf, -inf, nan])).tolist() == [True, False, False, False]
    assert hy.isinf(t([1.0, inf, -inf, nan])).tolist() == [False, True, True, False]
    big, tiny = hy.softplus(t([100.0, -100.0])).tolist()
    assert big == 100.0 and 0.0 <= tiny < 1e-40
    assert hy.sigmoid(t([-inf, inf])).tolist() == [0.0, 1.0]


def test_clamp_nan_and_inverted_bounds():
    nan = math.nan
    r = hy.clamp(t([1.0, nan, 3.0]), min=0.0, max=2.0).tolist()
    assert r[0] == 1.0 and math.isnan(r[1]) and r[2] == 2.0
    assert all(math.isnan(v) for v in hy.clamp(t([1.0, 2.0]), min=nan).tolist())
    r = hy.ops.clamp_tensor(t([1.0, 2.0, 3.0]), min=t([nan, 0.0, 0.0])).tolist()
    assert math.isnan(r[0]) and r[1:] == [2.0, 3.0]
    assert hy.clamp(t([1, 5, 9]), min=6, max=2).tolist() == [2, 2, 2]


def test_clamp_promotes_like_binary_ops():
    assert hy.clamp(t([1, 2, 3]), min=1.5).dtype == hy.float32
    assert hy.clamp(t([1, 2, 3], hy.int32), min=1).dtype == hy.int32
    assert hy.clamp(t([1.0], hy.float16), min=0.5).dtype == hy.float16


def test_where_keeps_bits_and_promotes():
    x = t([-0.0, math.nan], hy.float16)
    r = hy.where(t([True, True]), x, 1.0)
    assert r.dtype == hy.float16
    assert math.copysign(1.0, r.tolist()[0]) == -1.0 and math.isnan(r.tolist()[1])
    assert hy.where(t([True, False]), t([1, 2]), 0.5).dtype == hy.float32
    assert hy.where(t([True, False]), t([1, 2], hy.int32), t([3, 4])).dtype == hy.int64


def test_inplace_through_strided_view():
    base = hy.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    view = base.T  # non-contiguous
    view.exp_()
    assert_close(base, np.exp(np.arange(12, dtype=np.float32).reshape(3, 4)), rtol=4e-6)
    view.neg_()
    assert base.numpy()[0, 0] == -1.0


def test_out_with_wider_dtype():
    x = t([0.5, 1.0], hy.float32)
    out = hy.empty((2,), dtype=hy.float64)
    r = hy.exp(x, out=out)
    assert r is out and out.dtype == hy.float64
    assert_close(out, np.exp(np.float32([0.5, 1.0])).astype(np.float64), rtol=1e-6)


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "gelu", "erf", "sin", "log1p"])
def test_half_precision_computes_in_float32(name):
    x = np.linspace(0.1, 3, 257).astype(np.float32)
    want = getattr(hy, name)(hy.from_numpy(x)).numpy()
    for dt, tol in ((hy.float16, 2e-3), (hy.bfloat16, 1.6e-2)):
        got = getattr(hy, name)(hy.from_numpy(x).to(dt))
        assert got.dtype == dt
        xin = hy.from_numpy(x).to(dt).to(hy.float32)
        assert_close(got.to(hy.float32), getattr(hy, name)(xin).numpy(), rtol=tol, atol=1e-3)
        assert np.allclose(got.to(hy.float32).numpy(), want, rtol=5e-2, atol=5e-2)
