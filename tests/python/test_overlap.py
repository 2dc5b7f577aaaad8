"""In-place ops, out= and memory overlap (docs/tensors.md, "In-place operations, out= and memory overlap").

Rule 1: an input that partially overlaps the written tensor is read as a copy, so the result is NumPy's.
Rule 2: a written tensor whose elements alias each other (expand, broadcast_to, as_strided) raises.
"""
import numpy as np
import pytest

import hyflow as hy

DTYPES = [hy.float16, hy.bfloat16, hy.float32, hy.float64, hy.int32, hy.int64]
FLOATS = {hy.float16, hy.bfloat16, hy.float32, hy.float64}

# (name, out view, input view): views of one 5x5 base. The NumPy reference reads a copy of the input.
VIEWS = [
    ("transpose", lambda x: x, lambda x: x.T),
    ("shift_forward", lambda x: x[1:], lambda x: x[:-1]),
    ("shift_backward", lambda x: x[:-1], lambda x: x[1:]),
    ("broadcast_row", lambda x: x, lambda x: x[1:2]),
    ("shift_columns", lambda x: x[:, 1:], lambda x: x[:, :-1]),
    ("exact_alias", lambda x: x, lambda x: x),
]

BINARY = {
    "add": (lambda o, a: o.add_(a), lambda o, a: o + a),
    "sub": (lambda o, a: o.sub_(a), lambda o, a: o - a),
    "mul": (lambda o, a: o.mul_(a), lambda o, a: o * a),
    "div": (lambda o, a: o.div_(a), lambda o, a: o / a),
}


def _base(dtype):
    # Small positive integers: exact in every dtype (bfloat16 included), never 0 (div), products stay small.
    values = (np.arange(25, dtype=np.float64).reshape(5, 5) % 7) + 1
    return hy.tensor(values, dtype=dtype), values


def _as_f64(t):
    return t.to(hy.float64).numpy()


def _check(result, expected, dtype):
    if dtype in (hy.float16, hy.bfloat16):
        np.testing.assert_allclose(_as_f64(result), expected, rtol=1e-2)
    elif dtype in FLOATS:
        np.testing.assert_allclose(_as_f64(result), expected, rtol=1e-6)
    else:
        np.testing.assert_array_equal(_as_f64(result), expected)


# In-place true division of an integer tensor is refused (its result is float), so div runs on floats only.
INPLACE_CASES = [(op, dtype) for op in sorted(BINARY) for dtype in DTYPES if op != "div" or dtype in FLOATS]


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v[0])
@pytest.mark.parametrize("op, dtype", INPLACE_CASES, ids=lambda c: str(c))
def test_inplace_binary_with_overlapping_operand_matches_numpy(op, view, dtype):
    name, out_view, in_view = view
    x, ref = _base(dtype)
    inplace, numpy_op = BINARY[op]
    expected = ref.copy()
    out_ref = out_view(expected)
    out_ref[...] = numpy_op(out_ref, in_view(ref).copy())
    result = inplace(out_view(x), in_view(x))
    _check(x, expected, dtype)
    _check(result, out_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v[0])
def test_out_binary_with_overlapping_operands_matches_numpy(view, dtype):
    _, out_view, in_view = view
    x, ref = _base(dtype)
    expected = ref.copy()
    out_ref = out_view(expected)
    out_ref[...] = in_view(ref) * out_view(ref)  # both inputs read before the write, as NumPy does
    hy.mul(in_view(x), out_view(x), out=out_view(x))
    _check(x, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v[0])
def test_unary_and_copy_with_overlapping_input_match_numpy(view, dtype):
    _, out_view, in_view = view
    x, ref = _base(dtype)
    expected = ref.copy()
    np.copyto(out_view(expected), np.broadcast_to(-in_view(ref), out_view(ref).shape))
    hy.neg(hy.broadcast_to(in_view(x), out_view(x).shape), out=out_view(x))
    _check(x, expected, dtype)

    x, ref = _base(dtype)
    expected = ref.copy()
    np.copyto(out_view(expected), in_view(ref).copy())
    out_view(x).copy_(in_view(x))
    _check(x, expected, dtype)


@pytest.mark.parametrize("dtype", [hy.float16, hy.bfloat16, hy.float32, hy.float64], ids=str)
def test_inplace_unary_on_transposed_input_matches_numpy(dtype):
    x, ref = _base(dtype)
    x = x / 8  # keep exp small enough for float16
    ref = ref / 8
    hy.exp(x.T, out=x)
    _check(x, np.exp(ref.T), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_ternary_out_with_overlapping_operands_matches_numpy(dtype):
    x, ref = _base(dtype)
    cond = hy.tensor(ref > 3)
    hy.where(cond, x.T, x, out=x)
    _check(x, np.where(ref > 3, ref.T, ref), dtype)

    x, ref = _base(dtype)
    hy.ops.clamp_tensor(x, min=x.T, out=x)
    _check(x, np.maximum(ref, ref.T), dtype)

    x, ref = _base(dtype)
    hy.ops.masked_fill(x.T, hy.tensor(ref > 3), 0, out=x)
    _check(x, np.where(ref > 3, 0, ref.T), dtype)


def test_non_elementwise_op_reads_a_copy_even_of_the_exact_output():
    # A stencil reads neighbours: writing u while reading u would mix old and new values.
    u = hy.tensor(np.random.default_rng(0).standard_normal((8, 8)))
    expected = hy.laplacian(u).numpy()
    hy.laplacian(u, out=u)
    np.testing.assert_allclose(u.numpy(), expected, rtol=1e-12)


def test_index_put_and_setitem_with_overlapping_values():
    x, ref = _base(hy.int64)
    idx = hy.tensor([0, 2, 4])
    x.index_put_([idx], x[1:4])
    ref[[0, 2, 4]] = ref[1:4].copy()
    np.testing.assert_array_equal(x.numpy(), ref)

    x, ref = _base(hy.float32)
    x[1:] = x[:-1]
    ref[1:] = ref[:-1].copy()
    np.testing.assert_array_equal(x.numpy(), ref)


def test_index_out_overlapping_self_matches_numpy():
    x, ref = _base(hy.float32)
    hy.ops.index(x, [hy.tensor([4, 3, 2])], out=x[1:4])  # rows 2..4 read before rows 1..3 are written
    ref[1:4] = ref[[4, 3, 2]].copy()
    np.testing.assert_array_equal(x.numpy(), ref)


def test_scatter_add_reads_src_and_index_as_they_were():
    x, ref = _base(hy.int64)
    index = hy.tensor([[0, 1, 2, 3, 4]] * 2)
    # src is rows 0-1 of the output itself: NumPy semantics read it before any row is written.
    hy.scatter_add(x, 0, index, x[:2], out=x)
    expected = ref.copy()
    np.add.at(expected, (np.array([[0, 1, 2, 3, 4]] * 2), np.arange(5)[None, :].repeat(2, 0)), ref[:2].copy())
    np.testing.assert_array_equal(x.numpy(), expected)

    x, ref = _base(hy.int64)
    # self overlaps out= transposed and shifted: it must be read as it was before out= is written.
    hy.scatter_add(x[:-1, :-1].T, 1, hy.tensor([[0]] * 4), hy.ones(4, 1, dtype=hy.int64), out=x[1:, 1:])
    expected = ref.copy()
    expected[1:, 1:] = ref[:-1, :-1].T.copy()
    expected[1:, 1] += 1
    np.testing.assert_array_equal(x.numpy(), expected)

    x, ref = _base(hy.int64)
    x.scatter_add_(1, hy.tensor([[4], [3], [2], [1], [0]]), x[:, :1])  # in place: self is the output itself
    expected = ref.copy()
    expected[np.arange(5), [4, 3, 2, 1, 0]] += ref[:, 0]
    np.testing.assert_array_equal(x.numpy(), expected)


def test_augmented_assignment_with_overlapping_operand():
    x, ref = _base(hy.int32)
    x += x.T
    np.testing.assert_array_equal(x.numpy(), ref + ref.T)
    x, ref = _base(hy.float64)
    y = x[1:]
    y *= x[:-1]
    ref[1:] *= ref[:-1].copy()
    np.testing.assert_array_equal(x.numpy(), ref)


def test_gradient_flows_through_the_copy_of_an_overlapping_input():
    x = hy.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    y = x * 1.0
    y.add_(y.T)  # y.T is read through a recorded clone
    np.testing.assert_array_equal(y.detach().numpy(), np.arange(9.0).reshape(3, 3) + np.arange(9.0).reshape(3, 3).T)
    (y * hy.tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
    w = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(x.grad.numpy(), w + w.T)


def test_fused_optimizer_reads_overlapping_grads_as_they_were():
    flat = hy.tensor(np.arange(1.0, 9.0))
    expected = flat.numpy().copy()
    expected[:4] -= 0.5 * expected[2:6].copy()  # param flat[:4], grad flat[2:6]: read before the write
    hy.ops._fused_sgd_([flat[:4]], [flat[2:6]], [], 0.5, 0.0, 0.0, 0.0, False, False, False)
    np.testing.assert_array_equal(flat.numpy(), expected)

    a, b = hy.tensor([1.0, 2.0]), hy.tensor([10.0, 20.0])
    hy.ops._fused_sgd_([a, b], [b, a], [], 1.0, 0.0, 0.0, 0.0, False, False, False)  # grads swapped
    assert a.tolist() == [-9.0, -18.0] and b.tolist() == [9.0, 18.0]

    p = hy.tensor([1.0, 2.0])
    hy.ops._fused_sgd_([p], [p], [], 0.5, 0.0, 0.0, 0.0, False, False, False)  # grad is the param itself
    assert p.tolist() == [0.5, 1.0]


def test_fused_optimizer_refuses_an_expanded_state_tensor():
    p, g = hy.zeros(2, 3), hy.ones(2, 3)
    buf = hy.zeros(3).expand(2, 3)
    with pytest.raises(RuntimeError, match=r"^_fused_sgd_: momentum_buffers .*same memory location"):
        hy.ops._fused_sgd_([p], [g], [buf], 0.1, 0.9, 0.0, 0.0, False, False, True)
    assert p.tolist() == [[0.0] * 3] * 2


def test_separately_imported_numpy_views_of_one_buffer_count_as_overlapping():
    a = np.arange(16.0).reshape(4, 4)
    expected = a + a.T
    x, xt = hy.from_numpy(a), hy.from_numpy(a.T)
    x.add_(xt)
    np.testing.assert_array_equal(a, expected)


def test_exact_alias_is_not_copied_and_stays_correct():
    x = hy.arange(6.0).reshape(2, 3)
    x.add_(x)
    hy.mul(x, x, out=x)
    assert x.tolist() == [[0.0, 4.0, 16.0], [36.0, 64.0, 100.0]]


def _expanded():
    return hy.zeros(4).expand(3, 4)


EXPANDED_WRITES = {
    "add_": lambda y: y.add_(1),
    "mul_out": lambda y: hy.mul(hy.ones(3, 4), 2, out=y),
    "neg_out": lambda y: hy.neg(hy.ones(3, 4), out=y),
    "copy_": lambda y: y.copy_(hy.ones(3, 4)),
    "fill_": lambda y: y.fill_(1.0),
    "zero_": lambda y: y.zero_(),
    "uniform_": lambda y: y.uniform_(),
    "where_out": lambda y: hy.where(hy.ones(3, 4, dtype=hy.bool), hy.ones(3, 4), hy.zeros(3, 4), out=y),
    "clamp_": lambda y: y.clamp_(0.5, 1.0),
    "index_put_": lambda y: y.index_put_([hy.tensor([0])], hy.tensor(1.0)),
    "setitem_column": lambda y: y.__setitem__((slice(None), 0), 5.0),
    "laplacian_out": lambda y: hy.laplacian(hy.ones(3, 4), out=y),
}


@pytest.mark.parametrize("write", sorted(EXPANDED_WRITES))
def test_writing_an_expanded_tensor_raises(write):
    y = _expanded()
    with pytest.raises(RuntimeError, match=r"same memory location.*clone\(\)"):
        EXPANDED_WRITES[write](y)
    assert y.tolist() == [[0.0] * 4] * 3  # nothing was written


def test_overlap_error_names_the_op_and_argument():
    with pytest.raises(RuntimeError, match=r"^add_: self"):
        _expanded().add_(1)
    with pytest.raises(RuntimeError, match=r"^mul: out"):
        hy.mul(hy.ones(3, 4), 2, out=_expanded())
    with pytest.raises(RuntimeError, match=r"^copy_: self"):
        _expanded().copy_(hy.ones(3, 4))


def test_self_overlapping_as_strided_raises_but_interleaved_does_not():
    base = hy.zeros(16)
    with pytest.raises(RuntimeError, match="same memory location"):
        base.as_strided((3, 3), (1, 1)).fill_(1.0)  # (0, 1) and (1, 0) are one element
    with pytest.raises(RuntimeError, match="same memory location"):
        base.as_strided((4, 3), (2, 3)).add_(1.0)  # offset 6 is (0, 2) and (3, 0)
    ok = base.as_strided((3, 2), (2, 3))  # offsets 0, 3, 2, 5, 4, 7: distinct though strides interleave
    ok.add_(1.0)
    assert base.tolist()[:8] == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0]


def test_three_dims_that_collide_only_together_raise():
    # Offsets 2i + 3j + 5k: (1, 1, 0) and (0, 0, 1) are both 5; no two dims alone collide.
    base = hy.zeros(16)
    with pytest.raises(RuntimeError, match="same memory location"):
        base.as_strided((2, 2, 2), (2, 3, 5)).fill_(1.0)
    assert base.tolist() == [0.0] * 16


def test_reading_an_expanded_input_into_a_fresh_output_is_fine():
    y = hy.arange(4.0).expand(3, 4)
    x = hy.zeros(3, 4)
    x.add_(y)
    assert x.tolist() == [[0.0, 1.0, 2.0, 3.0]] * 3
