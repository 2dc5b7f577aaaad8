"""The call signature computed in C++ (csrc/bindings/bind_compiler_guards.cpp) equals the Python reference,
and the captured-tensor guard sees every change it must."""
import pytest

import hyflow as hy
from hyflow import nn
from hyflow.compiler.guards import CapturedGuard, call_key, signature, signature_py


class Thing:
    pass


def cases():
    a, b = hy.rand(3, 4), hy.rand(4, 3, dtype=hy.float64)
    thing = Thing()
    return [
        ((), {}),
        ((a, b, a), {}),                                   # aliasing: the first-seen index repeats
        ((a.t(), b[::2], hy.rand(2).requires_grad_()), {}),  # strides, requires_grad
        ((a, [b, {"k": a, "n": float("nan")}], 3, 2.5, None, "x", True, 1 + 2j, b"z"), {"z": (1, b), "o": thing}),
        ((nn.Parameter(hy.rand(2)), hy.tensor([1, 2]), hy.zeros((), dtype=hy.bool)), {}),
        (([], {}, ()), {"empty": []}),
        ((a.shape, a, hy.Size([])), {"s": b.shape[1:]}),  # shapes are containers of ints, keyed by value
    ]


@pytest.mark.parametrize("case", range(len(cases())))
def test_cpp_signature_equals_the_python_reference(case):
    args, kwargs = cases()[case]
    (key, leaves), (ref, ref_leaves) = signature(args, kwargs), signature_py(args, kwargs)
    assert key == ref and hash(key) == hash(ref)
    assert len(leaves) == len(ref_leaves) and all(x is y for x, y in zip(leaves, ref_leaves))
    _, _, tensors = call_key(args, kwargs)
    seen = []
    for x in leaves:
        if isinstance(x, hy.Tensor) and all(x is not s for s in seen):
            seen.append(x)
    assert len(tensors) == len(seen) and all(x is y for x, y in zip(tensors, seen))


def test_signatures_differ_where_guards_must():
    a = hy.rand(3)
    base = signature((a, 1), {})[0]
    for args in [(a.to(hy.float64), 1), (hy.rand(4), 1), (a, 2), (a, 1.0), (a, True),
                 (hy.rand(3).requires_grad_(), 1), (hy.rand(6)[::2], 1)]:
        assert signature(args, {})[0] != base, args
    assert signature((hy.rand(3), 1), {})[0] == base           # same metadata, other data: same entry
    # a shape argument is keyed by its sizes, not by the identity of a new Size object per call
    assert signature((a.shape,), {})[0] == signature((hy.rand(3).shape,), {})[0] != signature((hy.Size([4]),), {})[0]



def test_modes_key_on_the_dtype_objects():
    """Grad mode, the autocast dtype and the default dtype end the key as a bool and dtype objects (a str
    of each dtype per call was most of the modes' cost), and a change of each is a new key, in words."""
    from hyflow.compiler.guards import describe_mismatch
    a = hy.rand(3)
    base = signature((a,), {})[0]
    assert base[2] == (True, None, hy.float32) and base[2][2] is hy.float32
    with hy.no_grad():
        assert "grad mode changed (on -> off)" == describe_mismatch(base, signature((a,), {})[0])
    with hy.autocast("cpu", dtype=hy.bfloat16):
        key = signature((a,), {})[0]
    assert key[2][1] is hy.bfloat16 and describe_mismatch(base, key) == "autocast changed (off -> hyflow.bfloat16)"
    before = hy.get_default_dtype()
    try:
        hy.set_default_dtype(hy.float64)
        key = signature((a,), {})[0]
    finally:
        hy.set_default_dtype(before)
    assert describe_mismatch(base, key) == "the default dtype changed (hyflow.float32 -> hyflow.float64)"
    assert signature((a,), {})[0] == base and hash(signature((a,), {})[0]) == hash(base)


def test_captured_guard_sees_metadata_changes():
    w = hy.rand(4, 4)
    g = CapturedGuard([w])
    assert g.ok()
    w.add_(1)                      # an optimizer step: values change, guards hold
    assert g.ok()
    w.requires_grad_()
    assert not g.ok()
    w.requires_grad_(False)
    assert g.ok()
    assert CapturedGuard([]).ok()
