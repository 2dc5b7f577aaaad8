"""The lr schedulers torch scripts use, each against torch's lr trajectory, including a state_dict round trip
in the middle of the run (save, build fresh scheduler and optimizer, load both, continue)."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
import hyflow.optim as optim

torch = pytest.importorskip("torch")
H, T = optim.lr_scheduler, torch.optim.lr_scheduler


def _makers():
    """name -> (optimizer kind, hyflow scheduler factory, torch scheduler factory, steps)."""
    def same(build):  # the two libraries take the same arguments
        return lambda lib: lambda o: build(lib, o)
    cases = {
        "exponential": ("sgd", lambda L, o: L.ExponentialLR(o, gamma=0.9), 20),
        "multistep": ("sgd", lambda L, o: L.MultiStepLR(o, milestones=[3, 7, 7, 12], gamma=0.5), 20),
        "constant": ("sgd", lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=4), 10),
        "polynomial": ("sgd", lambda L, o: L.PolynomialLR(o, total_iters=8, power=2.0), 12),
        "multiplicative": ("sgd", lambda L, o: L.MultiplicativeLR(o, lambda e: 0.95), 10),
        "warm_restarts": ("sgd", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001), 25),
        "warm_restarts_t1": ("sgd", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=4), 13),
        "onecycle_sgd": ("sgd", lambda L, o: L.OneCycleLR(o, max_lr=0.5, total_steps=30), 30),
        "onecycle_adam_linear": ("adam", lambda L, o: L.OneCycleLR(o, max_lr=0.01, epochs=4, steps_per_epoch=5,
                                                                  anneal_strategy="linear", three_phase=True), 20),
        "lambda": ("sgd", lambda L, o: L.LambdaLR(o, lambda e: 1.0 / (1 + e)), 10),
        "sequential": ("sgd", lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, 0.1, 3), L.ExponentialLR(o, 0.8)],
                                                           milestones=[3]), 15),
        "chained": ("sgd", lambda L, o: L.ChainedScheduler([L.ConstantLR(o, 0.1, 3), L.ExponentialLR(o, 0.8)]), 15),
        "chained_poly_multistep": ("sgd", lambda L, o: L.ChainedScheduler(
            [L.PolynomialLR(o, 6, 1.0), L.MultiStepLR(o, [2, 4], 0.5)]), 10),
    }
    return {k: (kind, same(b)(H), same(b)(T), n) for k, (kind, b, n) in cases.items()}


MAKERS = _makers()


def _optimizer(lib, kind, param):
    return lib.SGD([param], lr=0.1, momentum=0.9) if kind == "sgd" else lib.Adam([param], lr=0.01)


def _trajectory(lib, param, kind, make, n, resume_at=None):
    """lr (and momentum or beta1) after each step; at resume_at the run continues in a fresh optimizer and
    scheduler restored from state dicts, as a checkpointed training script does."""
    opt = _optimizer(lib, kind, param)
    sched = make(opt)
    out = []
    for i in range(n):
        g = opt.param_groups[0]
        out.append((sched.get_last_lr()[0], g["lr"], g.get("momentum", g.get("betas", (0.0,))[0])))
        opt.step()
        sched.step()
        if i == resume_at:
            saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
            opt = _optimizer(lib, kind, param)
            opt.load_state_dict(saved_opt)
            sched = make(opt)
            sched.load_state_dict(saved_sched)
    return np.array(out)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", sorted(MAKERS))
@pytest.mark.parametrize("resume_at", [None, 4])
def test_scheduler_trajectory_matches_torch(name, resume_at):
    kind, make_h, make_t, n = MAKERS[name]
    ours = _trajectory(optim, nn.Parameter(hy.zeros(2)), kind, make_h, n, resume_at)
    theirs = _trajectory(torch.optim, torch.nn.Parameter(torch.zeros(2)), kind, make_t, n, resume_at)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.filterwarnings("ignore")
def test_warm_restarts_fractional_epochs_match_torch():
    lrs = []
    for lib, p in ((optim, nn.Parameter(hy.zeros(1))), (torch.optim, torch.nn.Parameter(torch.zeros(1)))):
        opt = lib.SGD([p], lr=0.1)
        sched = lib.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
        seq = []
        for epoch in range(6):
            for i in range(4):
                sched.step(epoch + i / 4)
                seq.append(opt.param_groups[0]["lr"])
        lrs.append(seq)
    np.testing.assert_allclose(lrs[0], lrs[1], rtol=1e-12)


@pytest.mark.parametrize("mode,threshold_mode,cooldown", [("min", "rel", 0), ("max", "abs", 2), ("min", "abs", 1)])
def test_reduce_lr_on_plateau_matches_torch(mode, threshold_mode, cooldown):
    metrics = [1.0, 0.9, 0.9, 0.95, 0.91, 0.92, 0.5, 0.6, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    runs = []
    for lib, p in ((optim, nn.Parameter(hy.zeros(1))), (torch.optim, torch.nn.Parameter(torch.zeros(1)))):
        opt = lib.SGD([p], lr=0.1)
        make = lambda o: lib.lr_scheduler.ReduceLROnPlateau(o, mode=mode, factor=0.5, patience=1,  # noqa: E731
                                                            threshold=0.01, threshold_mode=threshold_mode,
                                                            cooldown=cooldown, min_lr=0.01)
        sched, seq = make(opt), []
        for i, m in enumerate(metrics):
            sched.step(m)
            seq.append((opt.param_groups[0]["lr"], sched.get_last_lr()[0]))
            if i == 7:  # resume from state dicts mid-run
                so, ss = opt.state_dict(), sched.state_dict()
                opt = lib.SGD([p], lr=0.1)
                opt.load_state_dict(so)
                sched = make(opt)
                sched.load_state_dict(ss)
        runs.append(seq)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12)


def test_scheduler_bad_arguments_raise_value_error():
    opt = optim.SGD([nn.Parameter(hy.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="T_0"):
        H.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="total_steps"):
        H.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="factor"):
        H.ReduceLROnPlateau(opt, factor=2.0)
    with pytest.raises(ValueError, match="mode"):
        H.ReduceLROnPlateau(opt, mode="lowest")
    with pytest.raises(ValueError, match="cycle_momentum"):
        H.OneCycleLR(optim.Adagrad([nn.Parameter(hy.zeros(1))]), max_lr=0.1, total_steps=5)
    sched = H.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="total_steps"):
        sched.step()
