"""Module hooks against torch: forward pre-hooks, forward hooks, full backward (pre-)hooks and their handles."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn

torch = pytest.importorskip("torch")


def h(a, requires_grad=False):
    return hy.tensor(np.array(a), dtype=hy.float64, requires_grad=requires_grad)


def npy(x):
    return None if x is None else x.detach().numpy().copy()


def pair(in_f=3, out_f=2):
    tm = torch.nn.Linear(in_f, out_f).double()
    hm = nn.Linear(in_f, out_f).double()
    hm.load_state_dict(tm.state_dict())
    return hm, tm


def run_both(register, x_np, loss=lambda y: (y * y).sum()):
    """register(lib, module, log) on each library's Linear; forward, backward; returns outputs, grads and logs."""
    results = []
    hm, tm = pair()
    for lib, m in ((hy, hm), (torch, tm)):
        log = []
        register(lib, m, log)
        x = h(x_np, True) if lib is hy else torch.tensor(x_np, dtype=torch.float64, requires_grad=True)
        y = m(x)
        loss(y).backward()
        results.append((npy(y), npy(x.grad), npy(m.weight.grad), log))
    return results


X = np.arange(6.).reshape(2, 3) / 7


def assert_same(a, b):
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert_same(u, v)
    elif a is None or isinstance(a, str):
        assert a == b
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_forward_pre_hook_replaces_inputs_and_forward_hook_the_output():
    def register(lib, m, log):
        m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        m.register_forward_pre_hook(lambda mod, args: args[0] + 1)   # a non-tuple is wrapped in one
        m.register_forward_hook(lambda mod, args, out: log.append(npy(args[0])))
        m.register_forward_hook(lambda mod, args, out: out * 3)
    (hy_res, torch_res) = run_both(register, X)
    assert_same(hy_res, torch_res)


def test_hooks_with_kwargs_and_prepend():
    order = []

    def register(lib, m, log):
        m.register_forward_hook(lambda mod, args, out: order.append((lib.__name__, "second")))
        m.register_forward_hook(lambda mod, args, out: order.append((lib.__name__, "first")), prepend=True)
        m.register_forward_pre_hook(lambda mod, args, kwargs: ((args[0] - 1,), kwargs), with_kwargs=True)
        m.register_forward_hook(lambda mod, args, kwargs, out: out + len(kwargs), with_kwargs=True)
    hy_res, torch_res = run_both(register, X)
    assert_same(hy_res, torch_res)
    assert order == [("hyflow", "first"), ("hyflow", "second"), ("torch", "first"), ("torch", "second")]


def test_full_backward_hook_sees_and_replaces_grad_input():
    def register(lib, m, log):
        def hook(mod, grad_input, grad_output):
            log.append((len(grad_input), npy(grad_input[0]), len(grad_output), npy(grad_output[0])))
            return (grad_input[0] * 3,)
        m.register_full_backward_hook(hook)
    hy_res, torch_res = run_both(register, X)
    assert_same(hy_res, torch_res)
    assert len(hy_res[3]) == 1


def test_full_backward_pre_hook_replaces_grad_output():
    def register(lib, m, log):
        m.register_full_backward_pre_hook(lambda mod, grad_output: (grad_output[0] * -1,))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(npy(go[0])))
    hy_res, torch_res = run_both(register, X)
    assert_same(hy_res, torch_res)


def test_backward_hook_when_the_input_needs_no_grad():
    hm, tm = pair()
    logs = []
    for lib, m in ((hy, hm), (torch, tm)):
        log = []
        m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, npy(go[0]))))
        x = h(X) if lib is hy else torch.tensor(X)
        m(x).sum().backward()
        logs.append(log)
    assert len(logs[0]) == len(logs[1]) == 1
    assert logs[0][0][0] == logs[1][0][0] == (None,)
    assert_same(logs[0][0][1], logs[1][0][1])


def test_backward_hook_on_a_container_with_two_inputs():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3).double()

        def forward(self, a, b, scale=1.0):
            return self.lin(a) * b * scale

    m = Two()
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
    a, b, c = h(X, True), h(X + 1, True), h(X + 2)
    m(a, b, scale=2.0).sum().backward()
    (grad_a, grad_b), (grad_out,) = seen[0]
    np.testing.assert_allclose(grad_a.numpy(), a.grad.numpy())
    np.testing.assert_allclose(grad_b.numpy(), b.grad.numpy())
    assert tuple(grad_out.shape) == (2, 3)
    seen.clear()
    m(a, c).sum().backward()     # c needs no grad: None in its slot
    assert seen[0][0][1] is None and seen[0][0][0] is not None


def test_handle_remove_and_context_manager():
    m = nn.Linear(3, 2)
    calls = []
    handle = m.register_forward_hook(lambda mod, args, out: calls.append("f"))
    with m.register_forward_pre_hook(lambda mod, args: calls.append("pre")):
        m(hy.ones(1, 3))
    m(hy.ones(1, 3))
    handle.remove()
    handle.remove()          # a second remove is harmless
    m(hy.ones(1, 3))
    assert calls == ["pre", "f", "f"]
    b = m.register_full_backward_hook(lambda mod, gi, go: calls.append("b"))
    b.remove()
    m(hy.ones(1, 3, requires_grad=True)).sum().backward()
    assert calls == ["pre", "f", "f"]


def test_hooks_under_no_grad_and_on_submodules():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    shapes = []
    for name, sub in model.named_children():
        sub.register_forward_hook(lambda mod, args, out, name=name: shapes.append((name, tuple(out.shape))))
    model[0].register_full_backward_hook(lambda mod, gi, go: shapes.append(("bw", len(gi))))
    with hy.no_grad():
        model(hy.ones(2, 3))
    assert shapes == [("0", (2, 4)), ("1", (2, 4)), ("2", (2, 1))]


def test_bad_hooks_raise():
    m = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="hook must be callable"):
        m.register_forward_hook(3)
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="returned 2 gradients for grad_input, but 1 were expected"):
        m(hy.ones(1, 3, requires_grad=True)).sum().backward()
    m2 = nn.Linear(3, 2)
    m2.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"must return None or an \(args, kwargs\) tuple"):
        m2(hy.ones(1, 3))
