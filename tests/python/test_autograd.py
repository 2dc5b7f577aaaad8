"""Autograd semantics: accumulation, retain_graph, version counters, hooks, higher order, grad mode,
detach, leaf/non-leaf .grad, in-place rules, hy.autograd.Function, and a few gradients against torch."""
import gc
import threading
import weakref
import warnings

import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close


def leaf(*shape, seed=0):
    return hy.tensor(np.random.default_rng(seed).uniform(-2, 2, size=shape)).requires_grad_(True)


def test_requires_grad_flags():
    x = hy.zeros(3, requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad_fn is None
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn.name() == "MulBackward0"
    assert not hy.ones(2).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        hy.zeros(2, dtype=hy.int64).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)


def test_backward_accumulates_into_leaves():
    x = leaf(3)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert_close(x.grad, 2 * x.detach() + 3)
    x.grad = None
    assert x.grad is None
    x.sum().backward()
    assert_close(x.grad, hy.ones(3, dtype=hy.float64))


def test_shared_input_and_diamond_graph():
    x = leaf(4)
    a = x.sin()
    y = (a * a + a.exp()).sum()
    y.backward()
    xd = x.detach()
    assert_close(x.grad, 2 * xd.sin() * xd.cos() + xd.sin().exp() * xd.cos())


def test_grads_do_not_alias():
    x, y = leaf(3), leaf(3, seed=1)
    (x + y).sum().backward()
    x.grad.add_(1)
    assert_close(y.grad, hy.ones(3, dtype=hy.float64))


def test_non_scalar_backward_needs_gradient():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(hy.ones(3, dtype=hy.float64))
    assert_close(x.grad, hy.full((3,), 2.0, dtype=hy.float64))


def test_retain_graph():
    x = leaf(3)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    xd = x.detach()
    assert_close(x.grad, 2 * (xd.exp() * (xd + 1)))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_saved_tensor_modified_in_place_raises():
    x = leaf(3)
    a = x * 1
    y = (a * a).sum()
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_inplace_on_leaf_and_on_view_raise():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.mul_(2)
    y = x * 1
    with pytest.raises(RuntimeError, match="view"):
        y[1:].add_(1)
    with hy.no_grad():
        x.add_(1)  # allowed without recording


def test_inplace_on_non_leaf_is_recorded():
    x = leaf(3)
    y = x * 2
    y.mul_(x)          # y = 2x * x
    y.exp_()
    assert y.grad_fn.name() == "Exp_Backward0" or "Exp" in y.grad_fn.name()
    y.sum().backward()
    xd = x.detach()
    assert_close(x.grad, (2 * xd * xd).exp() * 4 * xd)


def test_out_argument_refuses_recording():
    x = leaf(3)
    out = hy.empty(3, dtype=hy.float64)
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
        hy.mul(x, x, out=out)


def test_no_grad_enable_grad_set_grad_enabled_inference_mode():
    x = leaf(3)
    with hy.no_grad():
        assert not (x * 2).requires_grad
        with hy.enable_grad():
            assert (x * 2).requires_grad
    assert hy.is_grad_enabled()

    @hy.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    with hy.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert hy.is_grad_enabled()
    with hy.inference_mode():
        assert hy.is_inference_mode_enabled() and not (x * 2).requires_grad
    assert not hy.is_inference_mode_enabled() and hy.is_grad_enabled()


def test_detach():
    x = leaf(3)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    d2 = y.detach()
    d2[0] = 5.0           # shares memory
    assert y[0].item() == 5.0
    z = x * 3
    z.detach_()
    assert not z.requires_grad and z.grad_fn is None


def test_non_leaf_grad_and_retain_grad():
    x = leaf(3)
    y = x * 2
    y.retain_grad()
    z = y * 3
    z.sum().backward()
    assert_close(y.grad, hy.full((3,), 3.0, dtype=hy.float64))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert z.grad is None
        assert any("not a leaf" in str(m.message) for m in w)


def test_tensor_hooks():
    x = leaf(3)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.clone()) or g * 10)
    y = x * 2
    y.register_hook(lambda g: g + 1)
    y.sum().backward()
    assert_close(seen[0], hy.full((3,), 4.0, dtype=hy.float64))
    assert_close(x.grad, hy.full((3,), 40.0, dtype=hy.float64))
    h.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert_close(x.grad, hy.ones(3, dtype=hy.float64))


def test_post_accumulate_grad_hook():
    x = leaf(3)
    calls = []
    x.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.clone()))
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    assert len(calls) == 2
    assert_close(calls[1], hy.full((3,), 4.0, dtype=hy.float64))
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_autograd_grad_and_higher_order():
    x = leaf(4)
    y = (x ** 3).sum()
    (g,) = hy.autograd.grad(y, x, create_graph=True)
    assert_close(g, 3 * x.detach() ** 2)
    (gg,) = hy.autograd.grad(g.sum(), x, create_graph=True)
    assert_close(gg, 6 * x.detach())
    (ggg,) = hy.autograd.grad(gg.sum(), x)
    assert_close(ggg, hy.full((4,), 6.0, dtype=hy.float64))
    assert x.grad is None   # grad() does not accumulate


def test_autograd_grad_unused_and_grad_outputs():
    x, w = leaf(3), leaf(3, seed=2)
    y = x * 2
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        hy.autograd.grad(y.sum(), (x, w))
    gx, gw = hy.autograd.grad(y, (x, w), grad_outputs=hy.ones(3, dtype=hy.float64), allow_unused=True)
    assert gw is None
    assert_close(gx, hy.full((3,), 2.0, dtype=hy.float64))


def test_backward_create_graph_double_backward():
    x = leaf(3)
    y = (x.sin()).sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    assert_close(x.grad, -x.detach().sin())


def test_unsupported_op_raises_clearly():
    x = leaf(3, 4)
    with pytest.raises(RuntimeError, match="not differentiable yet"):
        hy.ops.as_strided(x, (2, 2), (1, 1)).sum().backward()


def test_non_differentiable_outputs():
    x = leaf(5)
    assert not (x > 0).requires_grad
    assert not x.argmax().requires_grad
    values, idx = hy.ops.max_dim(x.reshape(1, 5), 1)
    assert values.requires_grad and not idx.requires_grad


class Cube(hy.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return x * x * x * k

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return grad * 3 * x * x * ctx.k, None


def test_function():
    x = leaf(3)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    assert_close(x.grad, 6 * x.detach() ** 2)


def test_function_version_check_and_gradcheck():
    x = leaf(3)
    a = x * 1
    y = Cube.apply(a, 1.0)
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    assert hy.testing.gradcheck(lambda t: Cube.apply(t, 1.5), (leaf(3),))


class ExpFn(hy.autograd.Function):
    ctxs = []

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        ExpFn.ctxs.append(weakref.ref(ctx))
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


def test_function_saving_its_output_is_freed():
    x = leaf(3)
    y = ExpFn.apply(x)
    y.sum().backward()
    assert_close(x.grad, x.detach().exp())
    del y
    gc.collect()
    assert ExpFn.ctxs[-1]() is None


class KeepOnCtx(hy.autograd.Function):
    """Stores a tensor on ctx as a plain attribute (not save_for_backward): its own output, its input, an
    intermediate, or the output inside a list."""
    ctxs = []

    @staticmethod
    def forward(ctx, x, what):
        y = x * 2
        ctx.keep = {"output": y, "input": x, "intermediate": x + 1, "nested": [y]}[what]
        KeepOnCtx.ctxs.append(weakref.ref(ctx))
        return y

    @staticmethod
    def backward(ctx, grad):
        assert ctx.keep is not None
        return grad * 2, None


KEEP_KINDS = ["output", "input", "intermediate", "nested"]
BIG = 64 * 1024  # float32 elements: 256 KiB per graph, as in the report


@pytest.mark.parametrize("what", KEEP_KINDS)
def test_function_storing_tensor_on_ctx_is_freed_after_backward_without_gc(what):
    """Regression (issue 15): ctx.keep = y leaked the whole graph (y -> grad_fn -> backward -> ctx -> y, a
    cycle through C++ that no collector saw). After backward the node drops ctx: freed by refcounting."""
    x = hy.ones(BIG, requires_grad=True)
    KeepOnCtx.ctxs.clear()
    outputs = []
    gc.disable()
    try:
        for _ in range(200):
            y = KeepOnCtx.apply(x, what)
            y.sum().backward()
            outputs.append(weakref.ref(y))
            del y
        alive_outputs = sum(r() is not None for r in outputs)
        alive_ctxs = sum(r() is not None for r in KeepOnCtx.ctxs)
    finally:
        gc.enable()
    assert alive_outputs == 0 and alive_ctxs == 0, (alive_outputs, alive_ctxs)
    assert_close(x.grad, hy.full((BIG,), 400.0))


@pytest.mark.parametrize("what", KEEP_KINDS)
def test_function_storing_tensor_on_ctx_is_collected_without_backward(what):
    """The same graphs never differentiated: nothing breaks the cycle, but the tensor reports it to
    Python's cycle collector, so a collection frees them all (before the fix none was ever freed)."""
    x = hy.ones(BIG, requires_grad=True)
    KeepOnCtx.ctxs.clear()
    outputs = []
    for _ in range(200):
        y = KeepOnCtx.apply(x, what)
        outputs.append(weakref.ref(y))
        del y
    gc.collect()
    assert sum(r() is not None for r in outputs) == 0
    assert sum(r() is not None for r in KeepOnCtx.ctxs) == 0


def test_function_ctx_output_kept_alive_by_a_downstream_tensor_is_not_collected():
    """The collector must not free a ctx whose graph is still reachable: y dropped, z = y * 3 kept;
    backward through z still runs the Function's backward (which reads ctx.keep)."""
    x = hy.ones(4, requires_grad=True)
    z = KeepOnCtx.apply(x, "output") * 3
    gc.collect()
    z.sum().backward()
    assert_close(x.grad, hy.full((4,), 6.0))


def test_function_second_backward_after_release_raises():
    x = hy.ones(3, requires_grad=True)
    y = KeepOnCtx.apply(x, "output")
    y.backward(hy.ones(3), retain_graph=True)  # keeps ctx
    y.backward(hy.ones(3))                     # releases it
    assert_close(x.grad, hy.full((3,), 4.0))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward(hy.ones(3))


def test_long_chain_no_recursion_limit():
    x = leaf(2)
    y = x
    for _ in range(20000):
        y = y * 1.0
    y.sum().backward()
    assert_close(x.grad, hy.ones(2, dtype=hy.float64))


def test_grad_mode_is_thread_local():
    x = leaf(2)
    seen = {}

    def worker():
        seen["req"] = (x * 2).requires_grad
    with hy.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen["req"] is True


def test_indexing_and_setitem_gradients():
    x = leaf(4, 3)
    y = x[1:3, 0] * x[0, 1:]
    y.sum().backward()
    g = np.zeros((4, 3))
    xd = x.detach().numpy()
    g[1:3, 0] += xd[0, 1:]
    g[0, 1:] += xd[1:3, 0]
    assert_close(x.grad, hy.tensor(g))


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name,fn", [
    ("mlp", lambda m, x, w1, w2: m.tanh(x @ w1) @ w2),
    ("softmax", lambda m, x, w1, w2: (x @ w1).softmax(-1) @ w2),
    ("logsumexp", lambda m, x, w1, w2: (x @ w1).logsumexp(1, keepdim=True) * (x @ w1) @ w2),
    ("norm", lambda m, x, w1, w2: (x @ w1).norm(dim=1, keepdim=True) * (x @ w1) @ w2),
])
def test_matches_torch(name, fn):
    rng = np.random.default_rng(3)
    arrs = [rng.standard_normal(s) for s in [(5, 4), (4, 6), (6, 2)]]
    hs = [hy.tensor(a).requires_grad_(True) for a in arrs]
    ts = [torch.tensor(a, requires_grad=True) for a in arrs]
    fn(hy, *hs).pow(2).sum().backward()
    fn(torch, *ts).pow(2).sum().backward()
    for h, t in zip(hs, ts):
        np.testing.assert_allclose(h.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_leaf_grad_never_aliases_another_tensor():
    # AccumulateGrad keeps a gradient that no other handle or view holds (no copy, as torch) and copies
    # every other one: .grad is accumulated into in place later, so an alias would change the other.
    a = hy.ones(3, requires_grad=True)
    b = hy.ones(3, requires_grad=True)
    (a + b).sum().backward()           # one gradient tensor flows to both leaves
    a.grad.add_(1.0)
    assert b.grad.tolist() == [1.0, 1.0, 1.0] and a.grad.tolist() == [2.0, 2.0, 2.0]
    x = hy.ones(2, 2, requires_grad=True)
    user = hy.full([2, 2], 3.0)
    (x + 0).backward(user)             # the user's gradient itself reaches the leaf
    x.grad.add_(1.0)
    assert user.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    v = hy.ones(4, requires_grad=True)
    g = hy.arange(4.0)
    v.view(2, 2).backward(g.view(2, 2))  # a view of the user's gradient
    v.grad.mul_(0)
    assert g.tolist() == [0.0, 1.0, 2.0, 3.0]
    w = hy.ones(3, requires_grad=True)
    (w * 2).sum().backward()           # a fresh gradient: kept, and accumulation still adds
    (w * 2).sum().backward()
    assert w.grad.tolist() == [4.0, 4.0, 4.0]
