"""The generated op bindings as a Python user meets them: what a bad call says (bind_op_fallback.cpp) and
what inspect.signature shows (gen_ops.py's text_signature)."""
import inspect

import numpy as np
import pytest

import hyflow as hy


@pytest.fixture
def t():
    return hy.ones(3)


def test_wrong_keyword_names_it_with_a_close_match(t):
    with pytest.raises(TypeError, match=r"^add\(\) got an unexpected keyword argument 'alhpa' "
                                        r"\(did you mean 'alpha'\?\)$"):
        hy.add(t, t, alhpa=2)


def test_wrong_keyword_on_methods_and_in_place_methods(t):
    with pytest.raises(TypeError, match=r"^sum\(\) got an unexpected keyword argument 'dimm' \(did you mean 'dim'\?\)"):
        t.sum(dimm=0)
    with pytest.raises(TypeError, match=r"^add_\(\) got an unexpected keyword argument 'alhpa'"):
        t.add_(t, alhpa=2)
    with pytest.raises(TypeError, match=r"^add_\(\) got an unexpected keyword argument 'out'"):
        t.add_(t, out=t)
    with pytest.raises(TypeError, match=r"^clamp\(\) got an unexpected keyword argument 'mn' \(did you mean 'min'\?\)"):
        t.clamp(mn=0)  # two ops share Tensor.clamp


def test_keyword_with_no_close_match_shows_the_signature(t):
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'zzz' \(add\(Tensor self"):
        hy.add(t, t, zzz=1)


def test_bad_calls_name_the_argument_not_pybind11_overloads(t):
    cases = [(lambda: hy.add(t, "x"), "add(): argument 'other' must be Tensor, got str"),
             (lambda: hy.add(t), "add() missing required argument 'other'"),
             (lambda: hy.add(t, t, t), "add() takes 2 positional arguments but 3 were given"),
             (lambda: hy.add(t, t, other=t), "add() got multiple values for argument 'other'"),
             (lambda: t.sum(0, False, hy.float32, 9), "sum() takes 3 positional arguments but 5 were given")]
    for call, message in cases:
        with pytest.raises(TypeError) as info:
            call()
        assert str(info.value).startswith(message), str(info.value)
        assert "incompatible function arguments" not in str(info.value)


def test_calls_needing_a_conversion_still_reach_the_op(t):
    # pybind11 tries overloads without conversions first: the fallback must not take these
    assert hy.add(t, t, alpha=hy.tensor(2.0)).tolist() == [3.0, 3.0, 3.0]  # 0-d tensor as a Scalar
    assert t.clamp(min=hy.zeros(3)).tolist() == [1.0, 1.0, 1.0]  # Tensor.clamp's second op
    assert hy.full_like(t, 2).tolist() == [2.0, 2.0, 2.0]
    assert hy.add(t, 1).dtype == hy.float32


def test_user_defined_ops_suggest_keywords_too():
    if not hasattr(hy.ops, "fallback_probe"):
        hy.ops.define("fallback_probe(Tensor self, *, float scale=1.0) -> Tensor")

        @hy.ops.impl("fallback_probe", "cpu")
        def _probe(self, scale):
            return self * scale
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'scael' \(did you mean 'scale'\?\)"):
        hy.ops.fallback_probe(hy.ones(2), scael=2.0)


def test_inspect_signature_of_functions_methods_and_factories(t):
    assert list(inspect.signature(hy.add).parameters) == ["self", "other", "alpha", "out"]
    add = inspect.signature(hy.add).parameters
    assert add["alpha"].kind is inspect.Parameter.KEYWORD_ONLY and add["alpha"].default == 1
    assert add["out"].default is None
    assert list(inspect.signature(hy.Tensor.sum).parameters) == ["self", "dim", "keepdim", "dtype"]
    assert list(inspect.signature(t.sum).parameters) == ["dim", "keepdim", "dtype"]  # bound: no self
    assert list(inspect.signature(t.add_).parameters) == ["other", "alpha"]  # in place: no out=
    assert "requires_grad" in inspect.signature(hy.zeros).parameters
    assert hy.add.__doc__.startswith("self + alpha * other")  # the signature line is not in the doc


def test_every_generated_op_has_a_signature():
    bad = []
    for name in dir(hy.ops):
        fn = getattr(hy.ops, name)
        if callable(fn) and getattr(fn, "__text_signature__", None) is not None:
            continue
        if callable(fn) and type(fn).__name__ == "builtin_function_or_method":
            bad.append(name)
    for name, fn in vars(hy.Tensor).items():
        if type(fn).__name__ == "instancemethod" and name in dir(hy.ops) + [n + "_" for n in dir(hy.ops)]:
            try:
                inspect.signature(fn)
            except ValueError:
                bad.append(f"Tensor.{name}")
    assert bad == []


@pytest.mark.parametrize("call,message", [
    (lambda t: t.size(foo=2), r"^size\(\) got an unexpected keyword argument 'foo' \(Tensor\.size\(dim=None\)\)$"),
    (lambda t: t.stride(dimm=0), r"^stride\(\) got an unexpected keyword argument 'dimm' \(Tensor\.stride\(dim"),
    (lambda t: t.size("a"), r"^size\(\) got arguments \(str\) that match no signature: Tensor\.size\(dim=None\)$"),
    (lambda t: t.numel(1), r"^numel\(\) got arguments \(int\) that match no signature: Tensor\.numel\(\)$"),
    (lambda t: t.dim(x=1), r"^dim\(\) got an unexpected keyword argument 'x'"),
])
def test_hand_written_methods_name_the_bad_keyword_or_arguments(t, call, message):
    # Issue 14: the hand-written bindings (bind_tensor.cpp) answered with pybind11's "incompatible function
    # arguments" list; their last overload now explains the call like the generated ones.
    with pytest.raises(TypeError, match=message) as info:
        call(t)
    assert "incompatible function arguments" not in str(info.value)
    assert t.size(0) == 3 and t.size() == (3,) and t.stride(dim=0) == 1 and t.numel() == 3  # good calls still work


AXIS_CASES = [("sum", {"axis": 0}), ("sum", {"axis": 1, "keepdims": True}), ("mean", {"axis": 1, "keepdims": True}),
              ("prod", {"axis": 0}), ("amax", {"axis": 1}), ("argmax", {"axis": 1}), ("std", {"axis": 0}),
              ("var", {"axis": 1, "keepdims": True}), ("logsumexp", {"axis": 1}), ("cumsum", {"axis": 1}),
              ("softmax", {"axis": -1}), ("argsort", {"axis": 1}), ("any", {"axis": 0}), ("squeeze", {"axis": 0})]


@pytest.mark.parametrize("name,kwargs", AXIS_CASES, ids=[f"{n}-{'-'.join(k)}" for n, k in AXIS_CASES])
def test_numpy_keyword_spellings_axis_and_keepdims_like_torch(name, kwargs):
    # torch takes NumPy's axis=/keepdims= for dim=/keepdim=; the generated bindings accept them on the
    # fallback path (a call that used them fails the typed overloads), as function and as method.
    torch = pytest.importorskip("torch")
    x = np.arange(1.0, 7.0).reshape(1, 2, 3)[0] if name != "squeeze" else np.arange(3.0).reshape(1, 3)
    want = getattr(torch.from_numpy(x.copy()), name)(**kwargs)
    for got in (getattr(hy.tensor(x), name)(**kwargs), getattr(hy, name)(hy.tensor(x), **kwargs)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_axis_together_with_dim_is_refused():
    x = hy.ones(2, 3)
    with pytest.raises(TypeError, match="axis"):
        x.sum(dim=0, axis=0)
    with pytest.raises(TypeError, match="axis"):
        hy.flip(x, axis=0)   # torch has no axis= on flip either


def test_hand_written_tensor_methods_name_a_bad_keyword():
    t = hy.ones(2)
    with pytest.raises(TypeError, match=r"requires_grad_\(\) got an unexpected keyword argument 'foo'"):
        t.requires_grad_(foo=1)
    with pytest.raises(TypeError, match=r"numpy\(\) got an unexpected keyword argument 'forse'.*force=False"):
        t.numpy(forse=True)
    with pytest.raises(TypeError, match=r"detach\(\) got arguments \(int\) that match no signature"):
        t.detach(1)
    assert t.detach().requires_grad is False and t.numpy().shape == (2,)
