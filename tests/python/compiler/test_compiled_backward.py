"""The compiled backward: a region that requires grad records one autograd node whose backward is a traced,
optimized, code-generated graph (docs/compiler.md, "Compiled backward")."""
import os
import sys

import numpy as np
import pytest

import hyflow as hy
from hyflow import nn
from hyflow.testing import gradcheck


def t(*shape, seed=0, dtype=hy.float64, grad=False):
    x = hy.from_numpy(np.random.default_rng(seed).standard_normal(shape)).to(dtype)
    return x.requires_grad_() if grad else x


def grads_of(fn, inputs, upstream=None):
    """Gradients of sum(outputs * upstream) w.r.t. ``inputs``, via backward into fresh leaves."""
    leaves = [x.detach().clone().requires_grad_() for x in inputs]
    out = fn(*leaves)
    outs = out if isinstance(out, tuple) else (out,)
    total = sum(((o * (upstream if upstream is not None else 1.0)).sum() for o in outs if o.requires_grad), hy.zeros(()).to(outs[0].dtype))
    total.backward()
    return out, [x.grad for x in leaves]


def mlp(x, w1, b1, w2, b2):
    return ((x @ w1 + b1).tanh() @ w2 + b2).sigmoid()


MLP_INPUTS = [(6, 5), (5, 7), (7,), (7, 3), (3,)]


def test_region_records_one_node_and_grads_equal_eager():
    f = hy.compile(mlp)
    inputs = [t(*s, seed=i) for i, s in enumerate(MLP_INPUTS)]
    for _ in range(3):                        # the trace call, then replays
        got, g_got = grads_of(f, inputs)
    want, g_want = grads_of(mlp, inputs)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    for a, b in zip(g_got, g_want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    entry = f.entries()[0]
    assert entry.autograd is not None, entry.backward_note
    leaves = [x.detach().requires_grad_() for x in inputs]
    y = f(*leaves)
    assert y.grad_fn.name() == "mlpBackward"
    assert {n[0].name() for n in y.grad_fn.next_functions} == {"AccumulateGrad"}


def test_elementwise_values_are_recomputed_not_saved():
    f = hy.compile(lambda x, w: ((x @ w).tanh() * 2 + 1).sum())
    x, w = t(4, 5, grad=True), t(5, 3, seed=1, grad=True)
    f(x, w)
    prog = f.entries()[0].autograd
    # Saved: the two inputs and the matmul result; tanh is recomputed inside the backward kernel.
    assert sorted(k for k, _, _ in prog.saved_plan) == ["in", "in", "out"]
    assert "tanh" in prog.backward_graph.op_counts()
    assert any(p.spec is not None for p in prog.backward_kernels.plans) or prog.backward_kernels.error


def test_gradcheck_through_compiled_function():
    f = hy.compile(mlp)
    inputs = [t(*s, seed=i, grad=True) for i, s in enumerate(MLP_INPUTS)]
    f(*inputs)
    assert gradcheck(f, tuple(inputs))
    assert f.entries()[0].autograd is not None


UNARY = [lambda a: a.sin(), lambda a: a.cos(), lambda a: a.tanh(), lambda a: a.sigmoid(), lambda a: (a * 0.3).exp(),
         lambda a: a.square(), lambda a: a.abs(), lambda a: a.relu(), lambda a: -a, lambda a: a * 1.5 + 0.25]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, lambda a, b: a / (b.square() + 1.0),
          lambda a, b: hy.maximum(a, b), lambda a, b: hy.where(a > b, a, b * 2)]


@pytest.mark.parametrize("seed", range(8))
def test_random_elementwise_chains_match_eager(seed):
    rng = np.random.default_rng(seed)
    plan = [(int(rng.integers(2)), int(rng.integers(len(UNARY))), int(rng.integers(len(BINARY))), int(rng.integers(3)))
            for _ in range(int(rng.integers(3, 8)))]

    def chain(x, y, bias):
        vals = [x, y, bias]
        a = x
        for kind, u, b, other in plan:
            a = UNARY[u](a) if kind == 0 else BINARY[b](a, vals[other])
        return a

    inputs = [t(4, 6, seed=seed), t(4, 6, seed=seed + 100), t(6, seed=seed + 200)]  # bias broadcasts
    f = hy.compile(chain)
    upstream = t(4, 6, seed=seed + 300)
    grads_of(f, inputs, upstream)
    got, g_got = grads_of(f, inputs, upstream)
    want, g_want = grads_of(chain, inputs, upstream)
    assert f.entries()[0].autograd is not None, f.entries()[0].backward_note
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(g_got, g_want):
        if b is None:
            assert a is None or not a.numpy().any()
            continue
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_retain_graph_semantics():
    f = hy.compile(lambda x: (x.sin() * x).sum())
    x = t(5, grad=True)
    f(x)
    y = f(x)
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    x.grad = None
    y = f(x)
    y.backward(retain_graph=True)
    y.backward()
    want = 2 * (x.cos() * x + x.sin()).detach()
    np.testing.assert_allclose(x.grad.numpy(), want.numpy(), rtol=1e-12)


def test_create_graph_falls_back_to_eager_and_is_exact():
    def fn(x):
        return (x.sin() * x.square()).sum()
    f = hy.compile(fn)
    x = t(5, grad=True)
    f(x)
    (gx,) = hy.autograd.grad(f(x), x, create_graph=True)
    (ggx,) = hy.autograd.grad(gx.sum(), x)
    x2 = x.detach().requires_grad_()
    (gx2,) = hy.autograd.grad(fn(x2), x2, create_graph=True)
    (ggx2,) = hy.autograd.grad(gx2.sum(), x2)
    np.testing.assert_allclose(gx.detach().numpy(), gx2.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ggx.numpy(), ggx2.numpy(), rtol=1e-12)
    assert f.entries()[0].autograd is not None


def test_requires_grad_change_reguards():
    f = hy.compile(lambda x, w: (x * w).exp())
    x, w = t(4), t(4, seed=1)
    assert not f(x, w).requires_grad
    assert f.entries()[0].autograd is None
    wg = w.detach().requires_grad_()
    f(x, wg)
    y = f(x, wg)
    assert y.requires_grad and len(f.entries()) == 2 and f.entries()[1].autograd is not None
    y.sum().backward()
    np.testing.assert_allclose(wg.grad.numpy(), (x * (x * w).exp()).numpy(), rtol=1e-12)
    with hy.no_grad():
        assert not f(x, wg).requires_grad    # grad mode is part of the guard too
    assert len(f.entries()) == 3


def test_saved_input_modified_in_place_raises():
    f = hy.compile(lambda x, w: (x * w).sum())
    x, w = t(4), t(4, seed=1, grad=True)
    f(x, w)
    y = f(x, w)
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_outputs_that_repeat_alias_or_do_not_require_grad():
    def fn(x, n):
        y = x.exp()
        return y, y, x, n * 2, (y > 1)
    f = hy.compile(fn)
    x, n = t(3, grad=True), t(3, seed=1)
    f(x, n)
    y, y2, xr, n2, mask = f(x, n)
    assert y is y2 and xr is x and not n2.requires_grad and not mask.requires_grad
    assert f.entries()[0].autograd is not None
    (y.sum() + y2.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().exp().numpy(), rtol=1e-12)


def test_region_that_writes_memory_replays_with_eager_autograd():
    def fn(x):
        y = x * 2
        y.add_(1)
        return y.sin()
    f = hy.compile(fn)
    x = t(4, grad=True)
    f(x)
    f(x).sum().backward()
    entry = f.entries()[0]
    assert entry.autograd is None and "writes memory" in entry.backward_note
    np.testing.assert_allclose(x.grad.numpy(), (2 * (2 * x + 1).cos()).detach().numpy(), rtol=1e-12)


class Net(nn.Module):
    def __init__(self, p=0.0):
        super().__init__()
        self.l1, self.l2 = nn.Linear(8, 16, dtype=hy.float64), nn.Linear(16, 4, dtype=hy.float64)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.l2(self.drop(self.l1(x).relu()))


@pytest.mark.usefixtures("compiled_backward_always")
@pytest.mark.parametrize("p", [0.0, 0.5])
def test_compiled_module_trains_like_eager_without_recompiles(p):
    hy.manual_seed(0)
    eager = Net(p)
    model = Net(p)
    model.load_state_dict(eager.state_dict())
    compiled = hy.compile(model)
    opt_e = hy.optim.Adam(eager.parameters(), lr=0.01)
    opt_c = hy.optim.Adam(compiled.parameters(), lr=0.01)
    x, target = t(5, 8), t(5, 4, seed=1)
    for step in range(4):
        for m, opt in ((eager, opt_e), (compiled, opt_c)):
            hy.manual_seed(step)          # dropout draws the same mask for both
            opt.zero_grad()
            loss = (m(x) - target).square().mean()
            loss.backward()
            opt.step()
    for pe, pc in zip(eager.parameters(), model.parameters()):
        np.testing.assert_allclose(pc.detach().numpy(), pe.detach().numpy(), rtol=1e-10, atol=1e-12)
    entries = compiled._compiled.entries()
    assert len(entries) == 1 and entries[0].autograd is not None  # in-place optimizer steps: no retrace
    assert compiled(x).grad_fn.name() == "NetBackward"
    # parameters are graph inputs of the region, not captured constants
    assert all(not v.meta.requires_grad for v in entries[0].graph.captured)
    compiled.eval()
    with hy.no_grad():
        compiled(x)
    assert len(compiled._compiled.entries()) == 2


EXAMPLE_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "climate")


def test_climate_surrogate_trains_compiled_like_eager():
    sys.path.insert(0, os.path.abspath(EXAMPLE_DIR))
    try:
        import surrogate
    finally:
        sys.path.pop(0)
    eager = surrogate.make_model(seed=0, hidden=8, dtype=hy.float64)
    model = surrogate.make_model(seed=0, hidden=8, dtype=hy.float64)
    compiled = hy.compile(model)
    opt_e, opt_c = surrogate.make_optimizer(eager), surrogate.make_optimizer(compiled)
    patches, target = t(40, surrogate.PATCH_FEATURES), t(40, surrogate.OUTPUTS, seed=1)
    for m in (eager, model):
        m.set_normalisation(patches, target)
    for _ in range(3):
        for m, opt in ((eager, opt_e), (compiled, opt_c)):
            opt.zero_grad()
            loss = (m(patches) - target).square().mean()
            loss.backward()
            opt.step()
    for pe, pc in zip(eager.parameters(), model.parameters()):
        np.testing.assert_allclose(pc.detach().numpy(), pe.detach().numpy(), rtol=1e-9, atol=1e-12)
    entries = compiled._compiled.entries()
    assert len(entries) == 1 and entries[0].autograd is not None, entries[0].backward_note


def test_explain_shows_the_compiled_backward():
    x, w = t(4, 5, grad=True), t(5, 3, seed=1, grad=True)
    ex = hy.compiler.explain(lambda x, w: ((x @ w).tanh() * 2).sum(), x, w)
    text = ex.format()
    assert "backward: compiled backward (one autograd node)" in text
    assert "backward graph:" in text and "saved for backward: 3 value(s) (1 intermediates" in text
    assert ex.backward is not None and ex.timings["backward"] > 0
    no_grad = hy.compiler.explain(lambda x: x.sin(), t(3))
    assert no_grad.backward is None and "backward:" not in no_grad.format()


def test_freezing_a_parameter_retraces_and_stops_its_gradient():
    model = Net()
    compiled = hy.compile(model)
    x = t(3, 8)
    compiled(x).sum().backward()
    model.l1.weight.requires_grad_(False)
    model.l1.weight.grad = None
    compiled(x).sum().backward()
    assert compiled._compiled.recompiles and "captured tensor" in compiled._compiled.recompiles[-1]
    assert model.l1.weight.grad is None and model.l1.bias.grad is not None


def test_shallow_water_step_gradient_matches_eager():
    # A differentiable-physics step: rolls, stencils and long elementwise chains, backward compiled.
    sys.path.insert(0, os.path.abspath(EXAMPLE_DIR))
    try:
        import shallow_water as sw
    finally:
        sys.path.pop(0)
    params = sw.Params(nx=16, ny=12)
    state = sw.initial_state(params, seed=0)
    params = sw.with_stable_dt(params, state)

    def energy_after_step(h, u, v):
        out = sw.step(sw.State(h, u, v, 0.0), params)
        return out.h.square().sum() + out.u.square().sum() + out.v.square().sum()

    f = hy.compile(energy_after_step)
    grads_of(f, state.fields())
    got, g_got = grads_of(f, state.fields())
    want, g_want = grads_of(energy_after_step, state.fields())
    assert f.entries()[0].autograd is not None, f.entries()[0].backward_note
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-13)
    for a, b in zip(g_got, g_want):    # |u|'s derivative at u == 0 is NaN in eager too: same places
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-13, equal_nan=True)


def test_strided_and_view_outputs_take_their_gradients():
    # Gradients of a transposed or sliced output arrive contiguous; the backward was traced that way.
    def fn(x):
        return x.t(), x[0], (x.sin() * 2).t()   # sin * 2: a fused group, so the region compiles as one node
    f = hy.compile(fn)
    x = t(3, 4, grad=True)
    upstream = [t(4, 3, seed=1), t(4, seed=2), t(4, 3, seed=3)]
    f(x)
    outs = f(x)
    assert f.entries()[0].autograd is not None
    sum((o * u).sum() for o, u in zip(outs, upstream)).backward()
    got = x.grad
    x2 = x.detach().requires_grad_()
    sum((o * u).sum() for o, u in zip(fn(x2), upstream)).backward()
    np.testing.assert_allclose(got.numpy(), x2.grad.numpy(), rtol=1e-12)


def test_gradgradcheck_through_compiled_function():
    f = hy.compile(lambda x, w: (x * w).tanh().sum(dim=0))
    inputs = (t(3, 4, grad=True), t(4, seed=1, grad=True))
    f(*inputs)
    assert hy.testing.gradgradcheck(f, inputs)


def test_without_native_code_the_backward_replays_op_by_op(monkeypatch):
    # Nothing fuses without a code generator, so one compiled node would only add its cost to eager
    # autograd's: the region replays op by op, autograd recording each op (forward_fuses).
    monkeypatch.setenv("HYFLOW_CODEGEN", "off")
    f = hy.compile(mlp)
    inputs = [t(*s, seed=i) for i, s in enumerate(MLP_INPUTS)]
    grads_of(f, inputs)
    got, g_got = grads_of(f, inputs)
    _, g_want = grads_of(mlp, inputs)
    entry = f.entries()[0]
    assert entry.autograd is None and "no group to fuse" in entry.backward_note
    for a, b in zip(g_got, g_want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


def test_a_region_with_nothing_to_fuse_replays_op_by_op_under_autograd():
    # GEMMs separated by single activations (an MLP): a compiled node measured slower than eager autograd
    # at every size tried, so the region records its ops one by one, and the gradients are eager's.
    def net(x, w1, w2):
        return (x @ w1).tanh() @ w2
    f = hy.compile(net)
    inputs = [t(16, 8, seed=0), t(8, 8, seed=1, grad=True), t(8, 1, seed=2, grad=True)]
    f(*inputs).sum().backward()
    got = [w.grad.numpy().copy() for w in inputs[1:]]
    entry = f.entries()[0]
    assert entry.autograd is None and entry.program is not None
    assert "no group to fuse" in entry.backward_note
    assert "no group to fuse" in str(hy.compiler.explain(f, *inputs))
    for w in inputs[1:]:
        w.grad = None
    net(*inputs).sum().backward()
    for g, w in zip(got, inputs[1:]):
        np.testing.assert_allclose(g, w.grad.numpy(), rtol=1e-12)
    # a fused group in the same region (tanh * 2 + 1) makes it one compiled node again
    g = hy.compile(lambda x, w1, w2: ((x @ w1).tanh() * 2 + 1) @ w2)
    g(*inputs).sum().backward()
    assert g.entries()[0].autograd is not None


def test_one_activation_in_a_gemm_epilogue_is_not_enough_to_compile_the_backward():
    # nn.Linear + ReLU: the ReLU rides in the GEMM's epilogue (one op), which saves too little for a
    # compiled node to beat eager autograd; "always" compiles it anyway; bad policies are refused.
    model = hy.nn.Sequential(hy.nn.Linear(8, 8), hy.nn.ReLU(), hy.nn.Linear(8, 2)).to(hy.float64)
    x = t(16, 8)
    f = hy.compile(model)
    f(x).sum().backward()
    assert f._compiled.entries()[0].autograd is None
    before = hy.compiler.backward_policy
    try:
        hy.compiler.set_backward_policy("always")
        g = hy.compile(model)
        g(x).sum().backward()
        assert g._compiled.entries()[0].autograd is not None
        with pytest.raises(ValueError, match="backward_policy.*'auto' or 'always'"):
            hy.compiler.set_backward_policy("sometimes")
    finally:
        hy.compiler.set_backward_policy(before)
    assert hy.compiler.backward_policy == before
