"""Issue 14, the whole public API at once: every public callable answers inspect.signature (IDEs, help(),
tools that wrap functions), and a wrong keyword raises Python's TypeError naming it — for pybind11
bindings also the signature they take (csrc/bindings/bind_finish.cpp), never pybind11's "incompatible
function arguments" dump."""
import inspect
import re
import types

import pytest

import hyflow as hy

# Public classes without a constructor: tensors come from factories, dtypes are hy.float32, ... Calling one
# raises TypeError, and there is no signature to show (torch.Tensor has none either).
NOT_CONSTRUCTIBLE = {"hy.Tensor", "hy.dtype"}
CLASSES = (hy.Tensor, hy.Generator, hy.Size)


def public_callables():
    """(label, callable, what to call it through) for hy.__all__'s functions and classes and the public
    methods of Tensor, Generator and Size (called on an instance)."""
    out = []
    for name in hy.__all__:
        obj = getattr(hy, name)
        if isinstance(obj, (types.ModuleType, hy.dtype)) or not callable(obj):
            continue
        out.append((f"hy.{name}", obj, obj))
    instances = {hy.Tensor: hy.ones(2, 2), hy.Generator: hy.Generator(seed=0), hy.Size: hy.Size([2, 2])}
    for cls in CLASSES:
        for name in dir(cls):
            if name.startswith("_") or isinstance(inspect.getattr_static(cls, name), property):
                continue
            if callable(getattr(cls, name)):
                out.append((f"{cls.__name__}.{name}", getattr(cls, name), getattr(instances[cls], name)))
    return out


def is_pybind(fn):
    return type(fn).__name__ in ("builtin_function_or_method", "instancemethod") or \
        type(type(fn)).__name__ == "pybind11_type"


def test_the_walk_sees_the_hand_written_bindings():
    labels = {label for label, _, _ in public_callables()}
    for label in ("hy.Generator", "hy.set_num_threads", "hy.from_dlpack", "hy.promote_types", "Tensor.size",
                  "Tensor.numpy", "Tensor.data_ptr", "Generator.manual_seed", "Size.numel", "hy.add", "Tensor.sum"):
        assert label in labels, label


def test_every_public_callable_has_a_signature():
    missing = []
    for label, fn, _ in public_callables():
        if label in NOT_CONSTRUCTIBLE:
            with pytest.raises(TypeError, match="No constructor defined"):
                fn()
            continue
        try:
            inspect.signature(fn)
        except (ValueError, TypeError) as e:
            missing.append(f"{label}: {e}")
    assert missing == []


@pytest.mark.parametrize("fn,text", [
    (hy.set_num_threads, "(n)"), (hy.get_num_threads, "()"), (hy.Generator, "(seed=None)"),
    (hy.from_dlpack, "(obj, *, device=None, copy=None)"), (hy.promote_types, "(arg0, arg1)"),
    (hy.Tensor.size, "(self, dim=None)"), (hy.ones(1).size, "(dim=None)"), (hy.Size, "(sizes=(), /)"),
    (hy.Generator.manual_seed, "(self, seed)"), (hy.Size.numel, "(self, /)"),
])
def test_signatures_of_hand_written_bindings(fn, text):
    assert str(inspect.signature(fn)) == text


def test_text_signatures_leave_the_docstrings_and_calls_alone():
    # __doc__ is still pybind11's typed line (scripts/gen_stubs.py reads it); the calls are unchanged
    assert hy.set_num_threads.__doc__.startswith("set_num_threads(n: ")
    assert hy.Generator.__doc__.startswith("A reproducible random stream")
    n = hy.get_num_threads()
    hy.set_num_threads(n)
    hy.set_num_threads(n=n)
    assert hy.get_num_threads() == n
    assert hy.Generator(seed=3).initial_seed() == 3 == hy.Generator(3).initial_seed()
    assert hy.ones(2, 3).size(dim=1) == 3


def test_a_wrong_keyword_is_named_for_every_public_callable():
    problems = []
    for label, fn, target in public_callables():
        if label in NOT_CONSTRUCTIBLE:
            continue
        try:
            target(bogus_kw=1)
        except TypeError as e:
            msg = str(e)
        else:
            problems.append(f"{label}: accepted bogus_kw")
            continue
        if "incompatible" in msg:
            problems.append(f"{label}: {msg[:100]}")
        elif is_pybind(fn) and not re.search(r"\(\) got an unexpected keyword argument 'bogus_kw' \(.+\)$", msg):
            problems.append(f"{label}: {msg[:100]}")  # a binding also shows the signatures it takes
        elif not is_pybind(fn) and "bogus_kw" not in msg and "takes no" not in msg and "missing" not in msg:
            problems.append(f"{label}: {msg[:100]}")  # Python's own messages (no_grad() takes no arguments)
    assert problems == []


@pytest.mark.parametrize("call,message", [
    (lambda: hy.set_num_threads(num=2), r"^set_num_threads\(\) got an unexpected keyword argument 'num' "
                                        r"\(set_num_threads\(n\)\)$"),
    (lambda: hy.Generator(sed=1), r"^Generator\(\) got an unexpected keyword argument 'sed' "
                                  r"\(Generator\(seed=None\)\)$"),
    (lambda: hy.Generator().manual_seed(sed=1), r"^manual_seed\(\) got an unexpected keyword argument 'sed' "
                                                r"\(Generator\.manual_seed\(seed\)\)$"),
    (lambda: hy.from_dlpack(hy.ones(2), devic="cpu"), r"^from_dlpack\(\) got an unexpected keyword argument 'devic' "
                                                      r"\(from_dlpack\(obj, \*, device=None, copy=None\)\)$"),
    (lambda: hy.set_num_threads("2"), r"^set_num_threads\(\) got arguments \(str\) that match no signature: "
                                      r"set_num_threads\(n\)$"),
    (lambda: hy.Generator().set_state(1, 2), r"^set_state\(\) got arguments \(int, int\) that match no signature: "
                                             r"Generator\.set_state\(state\)$"),
    (lambda: hy.ones(2).size(foo=2), r"^size\(\) got an unexpected keyword argument 'foo' "
                                     r"\(Tensor\.size\(dim=None\)\)$"),
])
def test_bad_calls_of_hand_written_bindings(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_manual_seed_names_the_bad_keyword():
    # hy.manual_seed is Python: Python's own message, which names the keyword
    with pytest.raises(TypeError, match="unexpected keyword argument 'sed'"):
        hy.manual_seed(sed=1)
