"""hy.amp.GradScaler: torch.amp.GradScaler's semantics (scale, unscale_, step skipping, update)."""
import math

import numpy as np
import pytest

import hyflow as hy

torch = pytest.importorskip("torch")


def make(seed=0):
    model = hy.nn.Linear(4, 1)
    opt = hy.optim.SGD(model.parameters(), lr=0.1)
    return model, opt


def test_scale_multiplies_and_unscale_divides_the_gradients():
    model, opt = make()
    scaler = hy.amp.GradScaler(init_scale=1024.0)
    x = hy.ones(2, 4)
    loss = model(x).sum()
    scaled = scaler.scale(loss)
    assert math.isclose(scaled.item(), loss.item() * 1024.0, rel_tol=1e-6)
    scaled.backward()
    scaler.unscale_(opt)
    np.testing.assert_allclose(model.weight.grad.numpy(), np.full((1, 4), 2.0), rtol=1e-6)


def test_step_is_skipped_and_scale_backs_off_on_inf():
    model, opt = make()
    scaler = hy.amp.GradScaler(init_scale=8.0, growth_interval=2)
    before = model.weight.detach().numpy().copy()
    loss = model(hy.ones(1, 4)).sum()
    scaler.scale(loss).backward()
    model.weight.grad.fill_(float("inf"))
    assert scaler.step(opt) is None
    scaler.update()
    np.testing.assert_array_equal(model.weight.detach().numpy(), before)
    assert scaler.get_scale() == 4.0


def test_scale_trajectory_matches_torch():
    scaler = hy.amp.GradScaler(init_scale=16.0, growth_factor=2.0, backoff_factor=0.25, growth_interval=3)
    tscaler = torch.amp.GradScaler("cpu", init_scale=16.0, growth_factor=2.0, backoff_factor=0.25,
                                   growth_interval=3)
    model, opt = make()
    tmodel = torch.nn.Linear(4, 1)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    pattern = [False, False, False, True, False, False, False, False, True, False]
    for bad in pattern:
        opt.zero_grad()
        topt.zero_grad()
        scaler.scale(model(hy.ones(1, 4)).sum()).backward()
        tscaler.scale(tmodel(torch.ones(1, 4)).sum()).backward()
        if bad:
            model.weight.grad.fill_(float("nan"))
            tmodel.weight.grad.fill_(float("nan"))
        scaler.step(opt)
        tscaler.step(topt)
        scaler.update()
        tscaler.update()
        assert scaler.get_scale() == tscaler.get_scale()


def test_float16_gradients_underflow_without_the_scaler():
    w = hy.full([1], 1.0, dtype=hy.float16).requires_grad_()
    loss = (w * 1e-8).sum()      # d loss / d w = 1e-8: below float16's smallest subnormal (6e-8)
    loss.backward()
    assert w.grad.item() == 0.0
    w.grad = None
    scaler = hy.amp.GradScaler(init_scale=2.0 ** 16)
    scaler.scale((w * 1e-8).sum()).backward()
    assert w.grad.item() != 0.0


def test_misuse_raises_like_torch():
    model, opt = make()
    scaler = hy.amp.GradScaler()
    scaler.scale(model(hy.ones(1, 4)).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.step(opt)
    scaler.update()
    with pytest.raises(RuntimeError, match="No inf checks"):
        scaler.update()
    with pytest.raises(ValueError, match="growth_factor"):
        hy.amp.GradScaler(growth_factor=0.5)
    with pytest.raises(TypeError, match="outputs"):
        scaler.scale("loss")


def test_state_dict_round_trip_and_disabled_scaler():
    scaler = hy.amp.GradScaler(init_scale=32.0, growth_interval=7)
    other = hy.amp.GradScaler()
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == 32.0 and other.get_growth_interval() == 7
    off = hy.amp.GradScaler(enabled=False)
    model, opt = make()
    loss = model(hy.ones(1, 4)).sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
