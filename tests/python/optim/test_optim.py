"""Optimizers, schedulers and clip_grad_norm_ vs torch; 50-step training parity; a PDE-solution fit."""
import math

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F
import hyflow.optim as optim

torch = pytest.importorskip("torch")


def npy(x):
    return np.asarray(x.detach()) if isinstance(x, hy.Tensor) else x.detach().numpy()


def copy_from_torch(hm, tm):
    hm.load_state_dict({k: hy.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def mlp_pair():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.GELU(),
                             torch.nn.Linear(16, 3)).double()
    hm = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 3)).double()
    copy_from_torch(hm, tm)
    rng = np.random.default_rng(0)
    return hm, tm, rng.standard_normal((32, 6)), rng.standard_normal((32, 3)), "mse"


def cnn_pair():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                             torch.nn.Conv2d(4, 6, 3), torch.nn.BatchNorm2d(6), torch.nn.SiLU(),
                             torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(6, 5)).double()
    hm = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3),
                       nn.BatchNorm2d(6), nn.SiLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6, 5)).double()
    copy_from_torch(hm, tm)
    rng = np.random.default_rng(1)
    return hm, tm, rng.standard_normal((8, 1, 10, 10)), rng.integers(0, 5, 8), "ce"


OPTS = {
    "sgd_momentum": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3)),
    "sgd_nesterov": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_dampening": (lambda p: optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.3),
                      lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.3)),
    "adam": (lambda p: optim.Adam(p, lr=1e-2, weight_decay=1e-3),
             lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-3)),
    "adam_amsgrad": (lambda p: optim.Adam(p, lr=1e-2, amsgrad=True),
                     lambda p: torch.optim.Adam(p, lr=1e-2, amsgrad=True)),
    "adamw": (lambda p: optim.AdamW(p, lr=1e-2, weight_decay=0.05),
              lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.05)),
}


def train(model, opt, x, y, kind, steps, lib):
    for _ in range(steps):
        out = model(x)
        if lib is torch:
            loss = torch.nn.functional.mse_loss(out, y) if kind == "mse" else torch.nn.functional.cross_entropy(out, y)
        else:
            loss = F.mse_loss(out, y) if kind == "mse" else F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.item())


@pytest.mark.parametrize("model", ["mlp", "cnn"])
@pytest.mark.parametrize("opt", list(OPTS))
def test_training_parity_50_steps(model, opt):
    hm, tm, x, y, kind = (mlp_pair if model == "mlp" else cnn_pair)()
    ho, to = OPTS[opt][0](hm.parameters()), OPTS[opt][1](tm.parameters())
    hx = hy.tensor(x, dtype=hy.float64)
    hy_ = hy.tensor(y, dtype=hy.float64) if kind == "mse" else hy.tensor(y)
    tx, ty = torch.tensor(x), torch.tensor(y)
    hl = train(hm, ho, hx, hy_, kind, 50, hy)
    tl = train(tm, to, tx, ty, kind, 50, torch)
    assert abs(hl - tl) <= 1e-5 * abs(tl) + 1e-12
    for (k, hv), (k2, tv) in zip(hm.state_dict().items(), tm.state_dict().items()):
        assert k == k2
        np.testing.assert_allclose(npy(hv), npy(tv), rtol=1e-5, atol=1e-9, err_msg=k)


def test_param_groups_state_dict_and_resume():
    hm, tm, x, y, _ = mlp_pair()
    groups = lambda m: [{"params": list(m[0].parameters()), "lr": 1e-3},  # noqa: E731
                        {"params": list(m[2].parameters()) + list(m[4].parameters())}]
    ho = optim.AdamW(groups(hm), lr=1e-2)
    to = torch.optim.AdamW(groups(tm), lr=1e-2)
    assert ho.param_groups[0]["lr"] == 1e-3 and ho.param_groups[1]["lr"] == 1e-2
    hx, hyy = hy.tensor(x), hy.tensor(y)
    train(hm, ho, hx, hyy, "mse", 5, hy)
    train(tm, to, torch.tensor(x), torch.tensor(y), "mse", 5, torch)
    sd = ho.state_dict()
    assert sorted(sd["state"]) == list(range(6)) and sd["param_groups"][1]["params"] == [2, 3, 4, 5]
    assert sd["state"][0]["step"] == 5
    # resume in a fresh optimizer over a copy of the model: continues exactly
    hm2 = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 3)).double()
    hm2.load_state_dict(hm.state_dict())
    ho2 = optim.AdamW(groups(hm2), lr=0.5)
    ho2.load_state_dict(sd)
    assert ho2.param_groups[1]["lr"] == 1e-2
    train(hm, ho, hx, hyy, "mse", 5, hy)
    train(hm2, ho2, hx, hyy, "mse", 5, hy)
    train(tm, to, torch.tensor(x), torch.tensor(y), "mse", 5, torch)
    for a, b, c in zip(hm.parameters(), hm2.parameters(), tm.parameters()):
        np.testing.assert_array_equal(npy(a), npy(b))
        np.testing.assert_allclose(npy(a), npy(c), rtol=1e-7, atol=1e-10)
    ho.zero_grad()
    assert all(p.grad is None for p in hm.parameters())
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([hm[0].weight, hm[0].weight], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adam(hm.parameters(), lr=-1)


def test_state_is_keyed_by_parameter_like_torch():
    # torch programs read opt.state[p]; hyflow keyed it by id(p), so that raised KeyError.
    hm, tm, x, y, _ = mlp_pair()
    ho, to = optim.Adam(hm.parameters(), lr=1e-2), torch.optim.Adam(tm.parameters(), lr=1e-2)
    w, tw = hm[0].weight, tm[0].weight
    assert ho.state[w] == {} and to.state[tw] == {}  # no state yet: {} (torch's defaultdict)
    train(hm, ho, hy.tensor(x), hy.tensor(y), "mse", 3, hy)
    train(tm, to, torch.tensor(x), torch.tensor(y), "mse", 3, torch)
    assert all(isinstance(k, hy.Tensor) for k in ho.state) and len(ho.state) == len(to.state) == 6
    assert sorted(ho.state[w]) == sorted(to.state[tw])
    np.testing.assert_allclose(npy(ho.state[w]["exp_avg"]), npy(to.state[tw]["exp_avg"]), rtol=1e-7, atol=1e-12)
    # state_dict keeps integer indices (torch's format); loading re-keys by the new optimizer's parameters
    sd = ho.state_dict()
    assert sorted(sd["state"]) == list(range(6))
    ho2 = optim.Adam(hm.parameters(), lr=1e-2)
    ho2.load_state_dict(sd)
    assert all(isinstance(k, hy.Tensor) for k in ho2.state)
    np.testing.assert_array_equal(npy(ho2.state[w]["exp_avg_sq"]), npy(ho.state[w]["exp_avg_sq"]))
    sgd = optim.SGD(hm.parameters(), lr=0.1, momentum=0.9)
    train(hm, sgd, hy.tensor(x), hy.tensor(y), "mse", 1, hy)
    assert sgd.state[w]["momentum_buffer"].shape == w.shape


def test_step_runs_without_recording():
    p = nn.Parameter(hy.ones(3, dtype=hy.float64))
    (p * 2).sum().backward()
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    np.testing.assert_allclose(npy(p), 0.8)


def _sched_values(make_h, make_t, n=25):
    hp, tp = nn.Parameter(hy.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    ho, to = optim.SGD([hp], lr=0.1), torch.optim.SGD([tp], lr=0.1)
    hs, ts = make_h(ho), make_t(to)
    hv, tv = [], []
    for _ in range(n):
        hv.append(hs.get_last_lr()[0])
        tv.append(ts.get_last_lr()[0])
        ho.step()
        to.step()
        hs.step()
        ts.step()
    np.testing.assert_allclose(hv, tv, rtol=1e-12, atol=1e-15)
    assert ho.param_groups[0]["lr"] == pytest.approx(to.param_groups[0]["lr"], rel=1e-12)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", ["step", "cosine", "lambda", "linear", "sequential"])
def test_schedulers_match_torch(name):
    H, T = optim.lr_scheduler, torch.optim.lr_scheduler
    makers = {
        "step": (lambda o: H.StepLR(o, 7, gamma=0.5), lambda o: T.StepLR(o, 7, gamma=0.5)),
        "cosine": (lambda o: H.CosineAnnealingLR(o, 10, eta_min=0.01), lambda o: T.CosineAnnealingLR(o, 10, 0.01)),
        "lambda": (lambda o: H.LambdaLR(o, lambda e: 0.9 ** e), lambda o: T.LambdaLR(o, lambda e: 0.9 ** e)),
        "linear": (lambda o: H.LinearLR(o, 0.1, 1.0, 5), lambda o: T.LinearLR(o, 0.1, 1.0, 5)),
        "sequential": (lambda o: H.SequentialLR(o, [H.LinearLR(o, 0.1, 1.0, 5), H.CosineAnnealingLR(o, 15)], [5]),
                       lambda o: T.SequentialLR(o, [T.LinearLR(o, 0.1, 1.0, 5), T.CosineAnnealingLR(o, 15)], [5])),
    }
    _sched_values(*makers[name], n=14 if name == "cosine" else 25)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", ["step", "cosine", "lambda", "linear"])
def test_scheduler_built_over_a_restored_optimizer_keeps_its_lr_as_torch(name):
    # Issue 14 (the faithful port): resuming = optimizer.load_state_dict, then a new scheduler, then its
    # load_state_dict. hyflow's new scheduler reset the lr to initial_lr (closed form at epoch 0), so
    # training after a resume ran at the undecayed lr while get_last_lr() showed the decayed one.
    H, T = optim.lr_scheduler, torch.optim.lr_scheduler
    makers = {"step": (lambda o: H.StepLR(o, 1, gamma=0.7), lambda o: T.StepLR(o, 1, gamma=0.7)),
              "cosine": (lambda o: H.CosineAnnealingLR(o, 10), lambda o: T.CosineAnnealingLR(o, 10)),
              "lambda": (lambda o: H.LambdaLR(o, lambda e: 0.5 ** e), lambda o: T.LambdaLR(o, lambda e: 0.5 ** e)),
              "linear": (lambda o: H.LinearLR(o, 0.5, 1.0, 4), lambda o: T.LinearLR(o, 0.5, 1.0, 4))}
    results = []
    for lib, make, param in ((optim, makers[name][0], nn.Parameter(hy.zeros(2))),
                             (torch.optim, makers[name][1], torch.nn.Parameter(torch.zeros(2)))):
        opt = lib.SGD([param], lr=0.1)
        sched = make(opt)
        for _ in range(2):
            opt.step()
            sched.step()
        saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
        opt2 = lib.SGD([param], lr=0.1)
        opt2.load_state_dict(saved_opt)
        sched2 = make(opt2)
        after_new = opt2.param_groups[0]["lr"]
        sched2.load_state_dict(saved_sched)
        lrs = [after_new, opt2.param_groups[0]["lr"]]
        for _ in range(3):
            opt2.step()
            sched2.step()
            lrs.append(opt2.param_groups[0]["lr"])
        results.append(lrs)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_matches_torch(norm_type):
    rng = np.random.default_rng(0)
    vals = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    hps = [nn.Parameter(hy.tensor(v)) for v in vals]
    tps = [torch.nn.Parameter(torch.tensor(v)) for v in vals]
    for p in hps:
        p.grad = hy.tensor(np.asarray(p.detach()) * 3)
    for p in tps:
        p.grad = p.detach() * 3
    hn = nn.utils.clip_grad_norm_(hps, 1.5, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(tps, 1.5, norm_type)
    assert float(hn.item()) == pytest.approx(float(tn.item()), rel=1e-12)
    for a, b in zip(hps, tps):
        np.testing.assert_allclose(npy(a.grad), b.grad.numpy(), rtol=1e-12)
    hps[0].grad = hy.full([3, 4], float("nan"), dtype=hy.float64)
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(hps, 1.0, error_if_nonfinite=True)


def test_fits_1d_pde_solution():
    """u(x) = sin(pi x) solves u'' = -pi^2 sin(pi x), u(0)=u(1)=0: an MLP regresses it to MSE < 1e-4."""
    hy.manual_seed(0) if hasattr(hy, "manual_seed") else None
    g = hy.Generator(seed=0)
    model = nn.Sequential(nn.Linear(1, 32, generator=g), nn.Tanh(), nn.Linear(32, 32, generator=g), nn.Tanh(),
                          nn.Linear(32, 1, generator=g))
    x = hy.linspace(0, 1, 128).reshape(-1, 1)
    u = (x * math.pi).sin()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, 1500, eta_min=1e-4)
    for _ in range(1500):
        loss = F.mse_loss(model(x), u)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    assert float(loss.item()) < 1e-4


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw_amsgrad"])
def test_fused_path_equals_reference_path(name):
    """Contiguous params take the fused C++ kernel; a non-contiguous view of the same values takes the
    reference path of tensor ops: both give the same parameters."""
    make = {"sgd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
            "adam": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.01),
            "adamw_amsgrad": lambda ps: optim.AdamW(ps, lr=0.01, amsgrad=True, maximize=True)}[name]
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3))
    fused = nn.Parameter(hy.tensor(w))
    ref = nn.Parameter(hy.tensor(np.ascontiguousarray(w.T)).T)     # same values, not contiguous
    assert not ref.is_contiguous()
    of, orf = make([fused]), make([ref])
    for i in range(5):
        gr = rng.standard_normal((4, 3))
        fused.grad = hy.tensor(gr)
        ref.grad = hy.tensor(gr)
        of.step()
        orf.step()
    np.testing.assert_allclose(npy(fused), npy(ref), rtol=1e-12, atol=1e-14)


def test_fused_ops_check_arguments_and_low_precision_fallback():
    p = [hy.ones(3, dtype=hy.float64)]
    with pytest.raises(ValueError, match="_fused_sgd_: grads"):
        hy._C.ops._fused_sgd_(p, [hy.ones(2, dtype=hy.float64)], [], 0.1, 0.0, 0.0, 0.0, False, False, False)
    with pytest.raises(ValueError, match="_fused_adam_: exp_avgs has 0 tensors"):
        hy._C.ops._fused_adam_(p, p, [], [], [], 0.1, 0.9, 0.99, 0.0, 1e-8, 1, False, False, False)
    with pytest.raises(TypeError, match="float32 or float64"):
        hy._C.ops._fused_sgd_([hy.ones(2, dtype=hy.int64)], [hy.ones(2, dtype=hy.int64)], [], 0.1, 0.0, 0.0, 0.0,
                              False, False, False)
    h = nn.Parameter(hy.ones(4, dtype=hy.bfloat16))
    h.grad = hy.ones(4, dtype=hy.bfloat16)
    opt = optim.AdamW([h], lr=0.1)
    opt.step()
    assert h.dtype == hy.bfloat16 and abs(float(h[0].item()) - (1 - 0.1 * 0.01 - 0.1)) < 1e-2


@pytest.mark.parametrize("make", [lambda ps: optim.AdamW(ps, lr=1e-2, amsgrad=True),
                                  lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)], ids=["adamw", "sgd"])
def test_checkpoint_model_and_optimizer_with_hy_save(tmp_path, make):
    """The issue's loop: hy.save(model.state_dict()) and the optimizer's state, reload, continue identically."""
    g = hy.Generator(seed=0)
    build = lambda: nn.Sequential(nn.Linear(3, 8, generator=g), nn.Tanh(), nn.Linear(8, 1, generator=g))  # noqa
    x, y = hy.randn(16, 3, generator=g), hy.randn(16, 1, generator=g)
    m = build()
    o = make(m.parameters())

    def step(mm, oo):
        loss = F.mse_loss(mm(x), y)
        oo.zero_grad()
        loss.backward()
        oo.step()
    for _ in range(3):
        step(m, o)
    hy.save(m.state_dict(), str(tmp_path / "m.safetensors"))
    hy.save(o.state_dict(), str(tmp_path / "o.safetensors"))
    m2 = build()
    m2.load_state_dict(hy.load(str(tmp_path / "m.safetensors")))
    o2 = make(m2.parameters())
    o2.load_state_dict(hy.load(str(tmp_path / "o.safetensors")))
    for _ in range(3):
        step(m, o)
        step(m2, o2)
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(npy(a), npy(b))


def test_fused_step_op_runs_once_when_called_with_grad_mode_on():
    # Ops without results (`-> ()`) ran their kernel twice when grad mode was on and an input required
    # grad: the front function's recording branch fell through to the plain call. One SGD step of lr 1
    # from 1.0 with gradient 1.0 must give 0.0, not -1.0.
    from hyflow import _C
    p = hy.ones(3, requires_grad=True)
    assert hy.is_grad_enabled()
    _C.ops._fused_sgd_([p], [hy.ones(3)], [], 1.0, 0.0, 0.0, 0.0, False, False, False)
    assert p.detach().tolist() == [0.0, 0.0, 0.0]
