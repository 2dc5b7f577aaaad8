"""The short paths small ops take: +, -, *, / as CPython number slots, the one-row elementwise plan for
contiguous operands, and storage kept inline for tensors of a few elements. Each must give exactly what
the general path gives (broadcasting, 0-d, integer and bool dtypes, autograd, out=, capture)."""
import operator

import numpy as np
import pytest

import hyflow as hy
from hyflow.compiler import capture

OPS = [(operator.add, hy.add, np.add), (operator.sub, hy.sub, np.subtract),
       (operator.mul, hy.mul, np.multiply), (operator.truediv, hy.div, np.true_divide)]


def general_layout(t):
    """The same values through a non-contiguous view (the general, per-dim plan)."""
    if t.ndim == 0:
        return t
    doubled = hy.stack([t, t], dim=-1)  # shape (..., 2): every element twice
    return doubled.select(-1, 0)


# --- operator slots ----------------------------------------------------------------------------------

@pytest.mark.parametrize("py_op,hy_op,np_op", OPS)
def test_operator_slots_equal_the_named_ops_with_tensors_numbers_and_arrays(py_op, hy_op, np_op):
    a = hy.tensor([1.0, 2.0, 4.0])
    b = hy.tensor([2.0, 8.0, 0.5])
    na, nb = a.numpy(), b.numpy()
    assert py_op(a, b).tolist() == hy_op(a, b).tolist() == np_op(na, nb).tolist()
    assert py_op(a, 2).tolist() == np_op(na, np.float32(2)).tolist()
    assert py_op(3, a).tolist() == np_op(np.float32(3), na).tolist()  # reflected: operand order kept
    assert py_op(a, 1.5).dtype == hy.float32  # a Python number stays weak
    assert py_op(a, nb).tolist() == np_op(na, nb).tolist()
    r = py_op(na, b)  # NumPy defers to the Tensor (its reflected slot)
    assert isinstance(r, hy.Tensor) and r.tolist() == np_op(na, nb).tolist()


def test_operator_slots_are_in_the_class_dict_and_callable_explicitly():
    t = hy.tensor([1.0, 2.0])
    for name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
                 "__rtruediv__"):
        assert name in hy.Tensor.__dict__
    assert t.__add__(1).tolist() == [2.0, 3.0]
    assert t.__rsub__(1).tolist() == [0.0, -1.0]
    assert t.__rtruediv__(2).tolist() == [2.0, 1.0]
    assert t.__add__("a") is NotImplemented and t.__mul__(object()) is NotImplemented


def test_operator_slots_give_notimplemented_so_python_tries_the_other_operand():
    class Other:
        def __radd__(self, other):
            return "radd"

        def __rtruediv__(self, other):
            return "rtruediv"

    t = hy.ones(2)
    assert t + Other() == "radd" and t / Other() == "rtruediv"
    with pytest.raises(TypeError, match="unsupported operand"):
        t - "a"
    with pytest.raises(TypeError, match="unsupported operand"):
        None * t


def test_operator_slots_raise_the_op_errors():
    with pytest.raises(ValueError, match=r"cannot broadcast|broadcast"):
        hy.ones(2) + hy.ones(3)
    with pytest.raises(TypeError, match="bool"):
        hy.tensor([True]) - hy.tensor([False])


def test_operator_slots_work_on_subclasses_and_respect_their_overrides():
    p = hy.nn.Parameter(hy.tensor([1.0, 2.0]))
    assert (p + 1).tolist() == [2.0, 3.0] and (1 - p).tolist() == [0.0, -1.0]

    class Loud(hy.Tensor):  # a subclass that overrides the reflected operator is asked first, as in Python
        __slots__ = ()
        def __radd__(self, other):
            return "loud"

    x = hy.tensor([1.0]).detach()
    x.__class__ = Loud  # same C++ layout: only the Python type changes (how Parameter is made)
    assert hy.tensor([1.0]) + x == "loud"
    assert (x + 1).tolist() == [2.0]  # its inherited __add__ is still the Tensor slot


def test_operator_slots_record_autograd():
    a = hy.tensor([1.0, 2.0], requires_grad=True)
    b = hy.tensor([3.0, 4.0], requires_grad=True)
    ((a + b) * a - b / 2).sum().backward()
    # d/da = (a + b) + a = 2a + b; d/db = a - 1/2
    assert a.grad.tolist() == [5.0, 8.0]
    assert b.grad.tolist() == [0.5, 1.5]
    x = hy.tensor(2.0, requires_grad=True)
    (3 / x).backward()
    assert x.grad.item() == pytest.approx(-0.75)


def test_operator_slots_are_recorded_by_capture():
    x, y = hy.randn(3), hy.randn(3)
    g = capture.trace(lambda a, b: (a + b) * 2 - a / b, (x, y), {}, input_leaves=[x, y]).graph
    assert [n.op for n in g.nodes] == ["add", "mul", "div", "sub"]


# --- one-row plan vs the general plan -----------------------------------------------------------------

SHAPES = [((), ()), ((1,), (1,)), ((5,), (5,)), ((5,), ()), ((), (5,)), ((2, 3), (2, 3)), ((2, 3), (1,)),
          ((1, 1, 1), ()), ((2, 3), (3,)), ((4, 1), (1, 3)), ((0,), (0,)), ((0, 3), ()), ((1,), (0,))]


@pytest.mark.parametrize("sa,sb", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "bool", "float16"])
def test_contiguous_and_strided_operands_give_the_same_results(sa, sb, dtype):
    rng = np.random.default_rng(0)
    na = np.asarray(rng.integers(1, 5, size=sa) if dtype != "bool" else rng.integers(0, 2, size=sa)).astype(dtype)
    nb = np.asarray(rng.integers(1, 5, size=sb) if dtype != "bool" else rng.integers(0, 2, size=sb)).astype(dtype)
    a, b = hy.tensor(na), hy.tensor(nb)
    ops = [(hy.add, np.add), (hy.mul, np.multiply)] + ([] if dtype == "bool" else [(hy.sub, np.subtract)])
    for hy_op, np_op in ops:
        fast = hy_op(a, b)
        slow = hy_op(general_layout(a), general_layout(b))
        expect = np_op(na, nb)
        assert fast.shape == slow.shape == expect.shape
        assert fast.dtype == slow.dtype
        np.testing.assert_array_equal(fast.numpy(), slow.numpy())
        np.testing.assert_array_equal(fast.numpy(), expect)


def test_small_ops_with_out_write_the_given_tensor_and_bump_its_version():
    a, b = hy.tensor([1.0, 2.0]), hy.tensor([3.0, 4.0])
    out = hy.empty(2)
    v = out._version
    r = hy.add(a, b, out=out)
    assert r is out and out.tolist() == [4.0, 6.0] and out._version > v
    col = hy.zeros(2, 2)[:, 0]  # a strided out= takes the general plan
    hy.mul(a, b, out=col)
    assert col.tolist() == [3.0, 8.0]
    a += 1
    assert a.tolist() == [2.0, 3.0]


def test_mixed_dtypes_promote_on_the_short_path():
    i = hy.tensor([1, 2], dtype=hy.int32)
    assert (i + 1).dtype == hy.int32 and (i + 1.5).dtype == hy.float32
    assert (i + hy.tensor([1.0, 1.0], dtype=hy.float64)).dtype == hy.float64
    assert (i / 2).tolist() == [0.5, 1.0]
    assert (hy.tensor([True]) + hy.tensor([True])).dtype == hy.bool


# --- inline storage of small tensors ------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2, 7, 16, 17])
def test_small_tensors_are_64_byte_aligned_and_independent(n):
    ts = [hy.full((n,), float(k)) for k in range(8)]
    for k, t in enumerate(ts):
        assert t.data_ptr() % 64 == 0
        assert t.tolist() == [float(k)] * n
    assert hy.tensor(3.0).data_ptr() % 64 == 0


def test_small_storage_outlives_its_first_tensor_through_views_and_numpy():
    base = hy.tensor([1.0, 2.0, 3.0])
    view = base[1:]
    arr = np.asarray(hy.tensor([5.0, 6.0]))
    del base
    assert view.tolist() == [2.0, 3.0]
    assert arr.tolist() == [5.0, 6.0]
    small = hy.tensor([1.0, 2.0])
    v0 = small._version
    small[0] = 7.0
    assert small._version > v0 and small.tolist() == [7.0, 2.0]
