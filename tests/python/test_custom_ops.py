"""User-defined ops with Python kernels: hy.ops.define + @hy.ops.impl, called by name through the
same dispatcher as built-in ops. Each test defines ops under a fresh name (the registry is global)."""
import itertools

import numpy as np
import pytest

import hyflow as hy

_counter = itertools.count()


def fresh(name):
    """A name no other test (or earlier run in this process) has defined."""
    return f"{name}_{next(_counter)}"


def test_define_impl_and_call_positional_keyword_defaults():
    name = fresh("scale_add")
    op = hy.ops.define(f"{name}(Tensor x, Tensor y, *, float alpha=1.0) -> Tensor", doc="x + alpha * y")

    @hy.ops.impl(name, "cpu")
    def _kernel(x, y, alpha):
        return x + alpha * y

    x, y = hy.tensor([1.0, 2.0]), hy.tensor([10.0, 20.0])
    np.testing.assert_allclose(getattr(hy.ops, name)(x, y).numpy(), [11.0, 22.0])
    np.testing.assert_allclose(getattr(hy.ops, name)(x, y, alpha=0.5).numpy(), [6.0, 12.0])
    np.testing.assert_allclose(getattr(hy.ops, name)(y=y, x=x, alpha=2).numpy(), [21.0, 42.0])
    np.testing.assert_allclose(op(x, y).numpy(), [11.0, 22.0])  # define() returns the callable


def test_defaults_of_every_kind_reach_the_kernel():
    name = fresh("defaults")
    hy.ops.define(f"{name}(Tensor x, int n=3, float f=0.5, bool b=True, str s='abc', int[] dims=[1, 2], "
                  f"Scalar k=2, Tensor? opt=None) -> Tensor")
    seen = {}

    @hy.ops.impl(name)
    def _kernel(x, n, f, b, s, dims, k, opt):
        seen.update(n=n, f=f, b=b, s=s, dims=list(dims), k=k, opt=opt)
        return x

    getattr(hy.ops, name)(hy.ones(1))
    assert seen == {"n": 3, "f": 0.5, "b": True, "s": "abc", "dims": [1, 2], "k": 2, "opt": None}
    getattr(hy.ops, name)(hy.ones(1), 7, opt=hy.zeros(2), s="z")
    assert seen["n"] == 7 and seen["s"] == "z" and tuple(seen["opt"].shape) == (2,)


def test_multiple_returns():
    name = fresh("split_sign")
    hy.ops.define(f"{name}(Tensor x) -> (Tensor, Tensor)")

    @hy.ops.impl(name, "cpu")
    def _kernel(x):
        return hy.maximum(x, hy.zeros_like(x)), hy.minimum(x, hy.zeros_like(x))

    pos, neg = getattr(hy.ops, name)(hy.tensor([-1.0, 2.0]))
    np.testing.assert_allclose(pos.numpy(), [0.0, 2.0])
    np.testing.assert_allclose(neg.numpy(), [-1.0, 0.0])


def test_non_tensor_returns():
    name = fresh("count_positive")
    hy.ops.define(f"{name}(Tensor x) -> (int, float, bool)")

    @hy.ops.impl(name)
    def _kernel(x):
        vals = x.tolist()
        n = sum(v > 0 for v in vals)
        return n, float(n) / len(vals), n > 0

    assert getattr(hy.ops, name)(hy.tensor([1.0, -1.0, 3.0, 0.0])) == (2, 0.5, True)


def test_op_listed_with_schema_and_meta():
    name = fresh("listed")
    text = f"{name}(Tensor self, *, Scalar alpha=1) -> Tensor"
    hy.ops.define(text, doc="documented", dtype_rule="same")
    assert name in hy.ops.list_ops()
    assert hy.ops.list_ops() == sorted(hy.ops.list_ops())
    assert name in dir(hy.ops)
    info = hy.ops.schema(name)
    assert info["name"] == name
    assert info["schema"] == text
    assert info["builtin"] is False
    assert info["doc"] == "documented"
    assert info["dtype_rule"] == "same"
    assert [a["name"] for a in info["args"]] == ["self", "alpha"]
    assert info["args"][1]["kwarg_only"] is True
    assert info["devices"] == []
    assert getattr(hy.ops, name).__doc__ == text


def test_ops_can_call_each_other():
    inner, outer = fresh("inner"), fresh("outer")
    hy.ops.define(f"{inner}(Tensor x) -> Tensor")
    hy.ops.define(f"{outer}(Tensor x) -> Tensor")
    hy.ops.impl(inner)(lambda x: x * 2)
    hy.ops.impl(outer)(lambda x: getattr(hy.ops, inner)(x) + 1)
    np.testing.assert_allclose(getattr(hy.ops, outer)(hy.tensor([1.0, 2.0])).numpy(), [3.0, 5.0])


def test_duplicate_define_is_value_error():
    name = fresh("dup")
    hy.ops.define(f"{name}(Tensor x) -> Tensor")
    with pytest.raises(ValueError, match=f"'{name}' is already defined"):
        hy.ops.define(f"{name}(Tensor y) -> Tensor")
    with pytest.raises(ValueError, match="already defined"):
        hy.ops.define("add(Tensor x) -> Tensor")  # built-ins are taken too


def test_duplicate_impl_is_value_error():
    name = fresh("dup_impl")
    hy.ops.define(f"{name}(Tensor x) -> Tensor")
    hy.ops.impl(name, "cpu")(lambda x: x)
    with pytest.raises(ValueError, match="already has a kernel"):
        hy.ops.impl(name, "cpu")(lambda x: x)


def test_no_kernel_for_device_names_op_and_device():
    name = fresh("no_kernel")
    hy.ops.define(f"{name}(Tensor x) -> Tensor")
    with pytest.raises(NotImplementedError, match=f"'{name}'.*'cpu'"):
        getattr(hy.ops, name)(hy.ones(2))
    hy.ops.impl(name, "cuda")(lambda x: x)  # a kernel for another device does not serve the CPU
    with pytest.raises(NotImplementedError, match=f"'{name}'.*'cpu'"):
        getattr(hy.ops, name)(hy.ones(2))


def test_wrong_argument_type_names_the_argument():
    name = fresh("typed")
    hy.ops.define(f"{name}(Tensor x, int n, float f=1.0) -> Tensor")
    hy.ops.impl(name)(lambda x, n, f: x)
    op = getattr(hy.ops, name)
    with pytest.raises(TypeError, match="argument 'x' must be Tensor, got str"):
        op("nope", 1)
    with pytest.raises(TypeError, match="argument 'n' must be int"):
        op(hy.ones(1), 1.5)
    with pytest.raises(TypeError, match="argument 'f' must be float"):
        op(hy.ones(1), 1, f="x")
    with pytest.raises(TypeError, match="argument 'x' must not be None"):
        op(None, 1)


def test_bad_call_signatures_are_type_errors():
    name = fresh("sig")
    hy.ops.define(f"{name}(Tensor x, *, int n=1) -> Tensor")
    hy.ops.impl(name)(lambda x, n: x)
    op = getattr(hy.ops, name)
    with pytest.raises(TypeError, match="missing required argument 'x'"):
        op()
    with pytest.raises(TypeError, match="unexpected keyword argument 'm'"):
        op(hy.ones(1), m=2)
    with pytest.raises(TypeError, match="positional"):
        op(hy.ones(1), 2)  # n is keyword-only
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        op(hy.ones(1), x=hy.ones(1))


def test_unknown_op_is_attribute_error():
    with pytest.raises(AttributeError, match="no op named 'definitely_not_an_op'"):
        hy.ops.definitely_not_an_op
    assert not hasattr(hy.ops, "definitely_not_an_op")


def test_impl_errors():
    with pytest.raises(ValueError, match="no op named"):
        hy.ops.impl(fresh("undefined"))(lambda x: x)
    with pytest.raises(ValueError, match="built in"):
        hy.ops.impl("add")(lambda x, y, alpha, out: x)
    name = fresh("callable")
    hy.ops.define(f"{name}(Tensor x) -> Tensor")
    with pytest.raises(TypeError, match="must be callable"):
        hy.ops.impl(name)(42)
    with pytest.raises(ValueError):
        hy.ops.impl(name, "tpu")(lambda x: x)


def test_bad_schema_is_value_error():
    with pytest.raises(ValueError, match="unknown type"):
        hy.ops.define(f"{fresh('bad')}(Tensr x) -> Tensor")
    with pytest.raises(ValueError):
        hy.ops.define("no parens at all")


def test_kernel_results_are_checked():
    name = fresh("bad_results")
    hy.ops.define(f"{name}(Tensor x) -> (Tensor, Tensor)")
    hy.ops.impl(name)(lambda x: x)
    with pytest.raises(TypeError):
        getattr(hy.ops, name)(hy.ones(1))
    name2 = fresh("bad_result_type")
    hy.ops.define(f"{name2}(Tensor x) -> Tensor")
    hy.ops.impl(name2)(lambda x: "not a tensor")
    with pytest.raises(TypeError, match="must be Tensor"):
        getattr(hy.ops, name2)(hy.ones(1))


def test_kernel_exceptions_propagate_unchanged():
    name = fresh("raises")
    hy.ops.define(f"{name}(Tensor x) -> Tensor")

    @hy.ops.impl(name)
    def _kernel(x):
        raise KeyError("from the kernel")

    with pytest.raises(KeyError, match="from the kernel"):
        getattr(hy.ops, name)(hy.ones(1))


def test_builtin_ops_are_listed_too():
    ops = hy.ops.list_ops()
    for name in ("add", "mul", "zeros", "view"):
        assert name in ops
        assert hy.ops.schema(name)["builtin"] is True
