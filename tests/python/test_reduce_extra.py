"""Reductions beyond the OpInfo table: bad arguments that must raise, NaN/inf semantics, empty
reductions, accuracy and reproducibility of long float sums, memory-order (transposed) inputs, and the
max/min overloads (x.max(), x.max(dim), hy.max(a, b))."""
import numpy as np
import pytest

import hyflow as hy
from hyflow import _reductions
from hyflow.testing import assert_close

hy_max, hy_min = _reductions.max, _reductions.min
nan, inf = float("nan"), float("inf")


def t(values, dtype=hy.float32):
    return hy.tensor(values, dtype=dtype)


def a(x):
    return x.contiguous().numpy()


# ---- bad arguments ----

@pytest.mark.parametrize("op,kwargs", [
    ("sum", {"dim": [1, 1]}), ("sum", {"dim": [0, -2]}), ("mean", {"dim": [1, -1]}), ("amax", {"dim": [0, 0]}),
    ("var", {"dim": [1, 1]}), ("all", {"dim": [0, 0]}), ("norm", {"dim": [1, 1]}), ("logsumexp", {"dim": [0, 0]}),
])
def test_duplicate_dims_raise_value_error(op, kwargs):
    with pytest.raises(ValueError, match=f"{op}.*more than once"):
        getattr(hy.ops, op)(hy.ones(2, 3), **kwargs)


@pytest.mark.parametrize("call", [
    lambda x: hy.ops.sum(x, [2]), lambda x: hy.ops.sum(x, [-3]), lambda x: hy.ops.amin(x, [5]),
    lambda x: hy.ops.max_dim(x, 2), lambda x: hy.ops.argmax(x, 3), lambda x: hy.ops.softmax(x, 2),
    lambda x: hy.ops.cumsum(x, -3), lambda x: hy.ops.logsumexp(x, [2]), lambda x: hy.ops.var(x, [9]),
])
def test_out_of_range_dims_raise_index_error(call):
    with pytest.raises(IndexError):
        call(hy.ones(2, 3))


def test_error_messages_name_the_op():
    with pytest.raises(IndexError, match="cumsum"):
        hy.ops.cumsum(hy.ones(2), 1)
    with pytest.raises(ValueError, match="argmax"):
        hy.ops.argmax(hy.ones(0))


@pytest.mark.parametrize("call", [
    lambda: hy.ops.max(hy.ones(0)), lambda: hy.ops.min(hy.ones(0, 3)), lambda: hy.ops.amax(hy.ones(0)),
    lambda: hy.ops.amin(hy.ones(3, 0), [1]), lambda: hy.ops.max_dim(hy.ones(2, 0), 1),
    lambda: hy.ops.argmax(hy.ones(0)), lambda: hy.ops.argmin(hy.ones(4, 0), 1),
    lambda: hy.ops.norm(hy.ones(0), inf), lambda: hy.ops.norm(hy.ones(2, 0), -inf, [1]),
])
def test_reductions_without_identity_raise_on_empty(call):
    with pytest.raises(ValueError, match="zero elements"):
        call()


def test_empty_tensor_reduced_over_nonempty_dim_is_fine():
    assert hy.ops.amax(hy.ones(0, 3), [1]).shape == (0,)
    v, i = hy.ops.max_dim(hy.ones(0, 3), 1)
    assert v.shape == (0,) and i.shape == (0,) and i.dtype == hy.int64


@pytest.mark.parametrize("op", ["mean", "var", "std", "norm", "softmax", "log_softmax"])
def test_float_only_ops_reject_integers(op):
    x = hy.tensor([1, 2, 3])
    args = (0,) if op in ("softmax", "log_softmax") else ()
    with pytest.raises(TypeError, match=op):
        getattr(hy.ops, op)(x, *args)


def test_integer_inputs_with_a_float_dtype_are_accepted():
    x = hy.tensor([1, 2, 3, 4])
    assert_close(hy.ops.mean(x, dtype=hy.float64), np.float64(2.5))
    assert hy.ops.softmax(x, 0, dtype=hy.float32).dtype == hy.float32
    with pytest.raises(TypeError):
        hy.ops.mean(x, dtype=hy.int64)


# ---- empty reductions that do have an identity ----

def test_empty_reductions_give_identities():
    e = hy.ones(0, 3)
    assert_close(hy.ops.sum(e), np.float32(0))
    assert_close(hy.ops.sum(e, [0]), np.zeros(3, np.float32))
    assert_close(hy.ops.prod(e, [0]), np.ones(3, np.float32))
    assert np.isnan(a(hy.ops.mean(e))).all()
    assert a(hy.ops.all(e)).item() is True and a(hy.ops.any(e)).item() is False
    assert_close(hy.ops.logsumexp(e, [0]), np.full(3, -np.inf, np.float32))
    assert_close(hy.ops.norm(e), np.float32(0))
    assert hy.ops.cumsum(e, 0).shape == (0, 3) and hy.ops.softmax(e, 1).shape == (0, 3)


# ---- NaN and infinities ----

def test_nan_propagates_through_value_reductions():
    x = t([[1.0, nan, 3.0], [4.0, 5.0, 6.0]])
    assert np.isnan(a(hy.ops.amax(x))) and np.isnan(a(hy.ops.amin(x)))
    assert np.isnan(a(hy.ops.max(x))) and np.isnan(a(hy.ops.min(x)))
    np.testing.assert_array_equal(np.isnan(a(hy.ops.amax(x, [1]))), [True, False])
    np.testing.assert_array_equal(np.isnan(a(hy.ops.sum(x, [0]))), [False, True, False])
    assert np.isnan(a(hy.ops.logsumexp(x, [0, 1])))
    assert np.isnan(a(hy.ops.var(x))) and np.isnan(a(hy.ops.norm(x, inf)))


def test_nan_is_the_extreme_for_indices_first_occurrence_wins():
    x = t([[2.0, nan, 7.0, nan], [3.0, 9.0, 9.0, 1.0]])
    for fn in (hy.ops.argmax, hy.ops.argmin):
        np.testing.assert_array_equal(a(fn(x, 1)), [1, {hy.ops.argmax: 1, hy.ops.argmin: 3}[fn]])
    v, i = hy.ops.max_dim(x, 1)
    assert np.isnan(a(v)[0]) and a(v)[1] == 9.0
    np.testing.assert_array_equal(a(i), [1, 1])  # first of the tied 9s
    v, i = hy.ops.min_dim(x, 1)
    np.testing.assert_array_equal(a(i), [1, 3])
    assert a(hy.ops.argmax(x)).item() == 1 and a(hy.ops.argmin(x)).item() == 1


def test_nan_index_in_a_long_chunked_row():
    x = np.arange(100000, dtype=np.float32)
    x[70001] = np.nan
    x[90000] = np.nan
    assert a(hy.ops.argmax(hy.from_numpy(x))).item() == 70001
    assert a(hy.ops.argmin(hy.from_numpy(x))).item() == 70001
    assert np.isnan(a(hy.ops.amax(hy.from_numpy(x))))


def test_logsumexp_with_infinities():
    x = t([[-inf, -inf], [inf, 1.0], [-inf, 0.0], [1000.0, 1000.0]])
    assert_close(hy.ops.logsumexp(x, [1]), np.array([-inf, inf, 0.0, 1000.0 + np.log(2)], np.float32))


def test_softmax_is_stable_and_masks_minus_inf():
    x = t([[1000.0, 1001.0], [0.0, -inf], [-1000.0, -1000.0]])
    assert_close(hy.ops.softmax(x, 1), np.array([[0.26894142, 0.73105858], [1, 0], [0.5, 0.5]], np.float32))
    ls = a(hy.ops.log_softmax(x, 1))
    assert np.isneginf(ls[1, 1]) and abs(ls[0, 0] - np.log(0.26894142)) < 1e-5
    # a row of -inf has no defined softmax: NaN, as in torch
    assert np.isnan(a(hy.ops.softmax(t([[-inf, -inf]]), 1))).all()


def test_all_any_treat_nan_as_true():
    x = t([0.0, nan])
    assert a(hy.ops.any(x)).item() is True
    assert a(hy.ops.all(t([nan, 1.0]))).item() is True
    assert a(hy.ops.all(x)).item() is False


# ---- dtypes ----

def test_result_dtypes():
    i32 = hy.tensor([2 ** 31 - 1, 1], dtype=hy.int32)
    s = hy.ops.sum(i32)
    assert s.dtype == hy.int64 and a(s).item() == 2 ** 31  # no int32 wraparound
    assert hy.ops.sum(hy.tensor([True, True, False])).dtype == hy.int64
    assert hy.ops.prod(hy.tensor([True, True])).dtype == hy.int64
    assert hy.ops.cumsum(i32, 0).dtype == hy.int64
    assert hy.ops.sum(hy.ones(3), dtype=hy.float64).dtype == hy.float64
    assert hy.ops.softmax(hy.ones(3), 0, dtype=hy.float64).dtype == hy.float64
    assert hy.ops.amax(i32).dtype == hy.int32 and hy.ops.amax(hy.tensor([True, False])).dtype == hy.bool
    assert hy.ops.argmax(hy.ones(3)).dtype == hy.int64
    assert hy.ops.logsumexp(hy.tensor([1, 2]), [0]).dtype == hy.float32
    assert hy.ops.mean(hy.ones(3, dtype=hy.float16)).dtype == hy.float16


def test_half_precision_accumulates_in_float32():
    x = hy.ones(100000, dtype=hy.float16)
    assert a(hy.ops.mean(x)).item() == 1.0  # a float16 running sum would stall at 2048
    y = hy.ones(1000, dtype=hy.bfloat16)
    assert a(hy.ops.sum(y).to(hy.float32)).item() == 1000.0  # a bfloat16 running sum stalls at 256


def test_integer_prod_wraps_like_numpy():
    x = np.full(70, 3, dtype=np.int64)
    assert a(hy.ops.prod(hy.from_numpy(x))).item() == np.prod(x)


# ---- accuracy and reproducibility ----

@pytest.mark.parametrize("n", [1_000_000, 4_000_003])
def test_float32_sum_accuracy(n):
    x = np.random.default_rng(0).uniform(0.0, 1.0, n).astype(np.float32)
    exact = x.astype(np.float64).sum()
    got = float(a(hy.ops.sum(hy.from_numpy(x))))
    assert abs(got - exact) / exact < 1e-5


def test_float32_outer_sum_accuracy():
    x = np.random.default_rng(1).uniform(0.0, 1.0, (1_000_000, 3)).astype(np.float32)
    exact = x.astype(np.float64).sum(0)
    got = a(hy.ops.sum(hy.from_numpy(x), [0])).astype(np.float64)
    assert (np.abs(got - exact) / exact).max() < 1e-5


def test_var_is_two_pass_accurate():
    # A large mean over a small spread: E[x^2] - E[x]^2 in float32 would lose every digit.
    x = (1e4 + np.random.default_rng(2).uniform(0, 1, 100000)).astype(np.float32)
    exact = x.astype(np.float64).var(ddof=1)
    got = float(a(hy.ops.var(hy.from_numpy(x))))
    assert abs(got - exact) / exact < 1e-3


def test_results_do_not_depend_on_thread_count():
    x = hy.from_numpy(np.random.default_rng(3).standard_normal(3_000_000).astype(np.float32))
    m = hy.from_numpy(np.random.default_rng(4).standard_normal((200_000, 5)).astype(np.float32))
    before = hy.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            hy.set_num_threads(n)
            results.append([a(hy.ops.sum(x)), a(hy.ops.sum(m, [0])), a(hy.ops.var(x)), a(hy.ops.cumsum(x, 0))])
    finally:
        hy.set_num_threads(before)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_cumsum_float32_long_row_accuracy():
    x = np.random.default_rng(5).uniform(0, 1, 200000).astype(np.float32)
    got = a(hy.ops.cumsum(hy.from_numpy(x), 0)).astype(np.float64)
    exact = np.cumsum(x.astype(np.float64))
    assert (np.abs(got - exact) / exact).max() < 1e-6


# ---- layouts ----

def test_permuted_inputs_reduce_in_memory_order():
    base = np.random.default_rng(6).standard_normal((4, 5, 6)).astype(np.float32)
    x = hy.from_numpy(base).permute(2, 0, 1)  # shape (6, 4, 5), not contiguous
    ref = base.transpose(2, 0, 1)
    for dims in ([0], [1], [2], [0, 1], [1, 2], [0, 2]):
        axis = tuple(dims)
        assert_close(hy.ops.sum(x, dims), ref.astype(np.float64).sum(axis), rtol=1e-5, atol=1e-5)
        assert_close(hy.ops.amax(x, dims, keepdim=True), ref.max(axis, keepdims=True))
        assert hy.ops.sum(x, dims).is_contiguous()
    assert a(hy.ops.argmax(x)).item() == ref.argmax()  # logical, not memory, order
    v, i = hy.ops.max_dim(x, 1)
    np.testing.assert_array_equal(a(i), ref.argmax(1))
    assert_close(hy.ops.softmax(x, 0), np.exp(ref) / np.exp(ref).sum(0), rtol=1e-5, atol=1e-6)
    assert_close(hy.ops.cumsum(x, 2), ref.cumsum(2), rtol=1e-5, atol=1e-5)


def test_broadcast_and_sliced_inputs():
    x = hy.ones(3, 1).expand(3, 4)  # stride 0
    assert_close(hy.ops.sum(x, [1]), np.full(3, 4.0, np.float32))
    y = hy.from_numpy(np.arange(24, dtype=np.float64).reshape(4, 6))[:, ::2]
    assert_close(hy.ops.sum(y, [0]), np.arange(24.0).reshape(4, 6)[:, ::2].sum(0))


# ---- max / min overloads ----

def test_max_min_overloads():
    x = t([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    assert x.max().shape == () and a(x.max()).item() == 7.0 and a(hy_min(x)).item() == 0.0
    r = x.max(dim=1)
    assert isinstance(r, tuple) and r._fields == ("values", "indices")
    np.testing.assert_array_equal(a(r.values), [5.0, 7.0])
    np.testing.assert_array_equal(a(r.indices), [1, 0])
    values, indices = x.min(0, keepdim=True)
    assert values.shape == (1, 3) and a(indices).tolist() == [[0, 1, 0]]
    assert_close(hy_max(x, t([3.0, 3.0, 3.0])), np.array([[3, 5, 3], [7, 3, 7]], np.float32))
    assert_close(x.min(t(2.0)), np.array([[1, 2, 2], [2, 0, 2]], np.float32))
    with pytest.raises(TypeError, match="keepdim"):
        x.max(keepdim=True)


def test_hy_max_min_exported():
    assert hy.max is _reductions.max and hy.min is _reductions.min


def test_tensor_methods():
    x = hy.from_numpy(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert_close(x.sum(1), np.array([6, 22, 38], np.float32))
    assert_close(x.mean(), np.float32(5.5))
    assert_close(x.std(0, correction=0), np.arange(12.0).reshape(3, 4).std(0), rtol=1e-6)
    assert x.argmax(keepdim=True).shape == (1, 1)
    assert_close(x.norm(1), np.float32(66))
    assert_close(x.softmax(-1).sum(-1), np.ones(3, np.float32), rtol=1e-6)
    assert_close(x.cumprod(0)[2], np.array([0, 45, 120, 231], np.float32))


# ---- cumprod's gradient with zeros in the input (PyTorch's formula; it used to raise) ----

ZERO_CASES = [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 3.0], [2.0, 3.0, 0.0], [2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 0.0, 1.5]]


@pytest.mark.parametrize("values", ZERO_CASES)
def test_cumprod_backward_with_zeros_matches_torch(values):
    torch = pytest.importorskip("torch")
    w = [1.0, -2.0, 3.0, 0.5, 4.0][:len(values)]
    x = hy.tensor(values, dtype=hy.float64, requires_grad=True)
    (x.cumprod(0) * hy.tensor(w, dtype=hy.float64)).sum().backward()
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    (tx.cumprod(0) * torch.tensor(w, dtype=torch.float64)).sum().backward()
    assert_close(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_cumprod_with_zeros_passes_gradcheck_and_gradgradcheck():
    from hyflow.testing import gradcheck, gradgradcheck
    x = hy.tensor([[2.0, 0.0, 3.0, 0.0], [0.5, 1.5, 0.0, 2.0]], dtype=hy.float64, requires_grad=True)
    for dim in (0, 1):
        assert gradcheck(lambda t: t.cumprod(dim), (x,))
        assert gradgradcheck(lambda t: t.cumprod(dim), (x,))


# ---- prod's gradient with zeros in the input (the product of the others, as torch; it used to raise) ----

PROD_ZERO_CASES = [  # (values, dim, keepdim)
    ([[2.0, 0.0, 3.0], [1.5, 2.0, 4.0]], None, False),         # one zero in the whole tensor
    ([[2.0, 0.0, 3.0], [0.0, 2.0, 4.0]], None, False),         # two zeros: every gradient is 0
    ([[2.0, 0.0, 3.0], [0.0, 2.0, 4.0]], [1], False),          # one zero per row
    ([[2.0, 0.0, 0.0], [1.5, 2.0, 4.0]], [1], True),           # two zeros in a row, none in the other
    ([[[0.0, 2.0], [3.0, 0.5]], [[1.0, 2.0], [0.0, 0.0]]], [0, 2], False),  # several dims, moved last
]


@pytest.mark.parametrize("values,dim,keepdim", PROD_ZERO_CASES)
def test_prod_backward_with_zeros_matches_torch(values, dim, keepdim):
    torch = pytest.importorskip("torch")
    x = hy.tensor(values, dtype=hy.float64, requires_grad=True)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    y = x.prod() if dim is None else hy.ops.prod(x, dim, keepdim)
    ty = tx.prod() if dim is None else tx
    if dim is not None:
        for d in sorted(dim, reverse=True):
            ty = ty.prod(d, keepdim=keepdim)
    w = np.arange(1.0, 1.0 + y.numel()).reshape(tuple(y.shape))
    (y * hy.tensor(w, dtype=hy.float64)).sum().backward()
    (ty * torch.tensor(w, dtype=torch.float64)).sum().backward()
    assert_close(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_prod_backward_one_zero_only_that_element_and_two_zeros_all_zero():
    x = hy.tensor([2.0, 0.0, 3.0, 4.0], dtype=hy.float64, requires_grad=True)
    x.prod().backward()
    assert x.grad.tolist() == [0.0, 24.0, 0.0, 0.0]
    z = hy.tensor([2.0, 0.0, 3.0, 0.0], dtype=hy.float64, requires_grad=True)
    z.prod().backward()
    assert z.grad.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_prod_with_zeros_passes_gradcheck_and_gradgradcheck():
    from hyflow.testing import gradcheck, gradgradcheck
    x = hy.tensor([[2.0, 0.0, 3.0, 0.0], [0.5, 1.5, 0.0, 2.0], [1.0, 2.0, 3.0, 0.5]], dtype=hy.float64,
                  requires_grad=True)
    for fn in (lambda t: t.prod(), lambda t: hy.ops.prod(t, [0]), lambda t: hy.ops.prod(t, [1], True)):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


# ---- softmax/log_softmax give the same bits whatever the position and the thread count ----

def test_log_softmax_is_deterministic():
    # Along an outer dim the column sums lived in a malloc'd scratch buffer, and Eigen ran exp/log's
    # scalar form (libm, 1 ulp off the packet form) on the elements before its first aligned address, so
    # a column's result depended on where that buffer landed: run to run, per thread, and per position.
    x = (np.random.default_rng(6).standard_normal((6, 37)) * 5).astype(np.float32)
    for op in (hy.log_softmax, hy.softmax):
        whole = op(hy.from_numpy(x), 0).numpy()
        for k in range(1, 17):  # the same columns, shifted against the scratch buffer's alignment
            part = op(hy.from_numpy(np.ascontiguousarray(x[:, k:])), 0).numpy()
            assert part.tobytes() == np.ascontiguousarray(whole[:, k:]).tobytes()
    big = hy.from_numpy((np.random.default_rng(7).standard_normal((300, 2000)) * 5).astype(np.float32))
    before = hy.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            hy.set_num_threads(n)
            results.append([hy.log_softmax(big, d).numpy().tobytes() for d in (0, 1)])
    finally:
        hy.set_num_threads(before)
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.max(x, axis=1), lambda lib, x: lib.min(x, axis=0, keepdims=True),
    lambda lib, x: x.max(1, keepdims=True), lambda lib, x: x.min(axis=-1), lambda lib, x: lib.max(x, dim=1, keepdims=True)])
def test_max_min_take_axis_and_keepdims_aliases_like_torch(call):
    # torch accepts numpy's axis=/keepdims= for dim=/keepdim=; hy.max/min are Python wrappers, so they do too
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((3, 4))
    h, t = call(hy, hy.tensor(x)), call(torch, torch.tensor(x))
    assert type(h).__name__ == "MinMaxResult" and len(h) == len(t) == 2
    for a, b in zip(h, t):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_max_min_refuse_dim_and_axis_together_like_torch():
    torch = pytest.importorskip("torch")
    for lib in (torch, hy):
        x = lib.ones(2, 3)
        with pytest.raises(TypeError):
            lib.max(x, dim=1, axis=1)
        with pytest.raises(TypeError):
            x.min(1, keepdim=True, keepdims=True)
        with pytest.raises(TypeError):
            lib.max(x, x, axis=1)
