"""Adadelta, Adagrad, RMSprop and LBFGS against torch: trajectories, defaults, param groups, state_dict, pickling."""
import copy
import pickle

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F
import hyflow.optim as optim

torch = pytest.importorskip("torch")


def npy(x):
    return np.asarray(x.detach()) if isinstance(x, hy.Tensor) else x.detach().numpy()


def model_pair(dtype="float64"):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3))
    hm = nn.Sequential(nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 3))
    if dtype == "float64":
        tm, hm = tm.double(), hm.double()
    hm.load_state_dict({k: hy.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((24, 5)), rng.standard_normal((24, 3))
    if dtype == "float32":
        x, y = x.astype(np.float32), y.astype(np.float32)
    return hm, tm, (hy.tensor(x), hy.tensor(y)), (torch.tensor(x), torch.tensor(y))


def run(model, opt, data, steps, lib):
    x, y = data
    mse = torch.nn.functional.mse_loss if lib is torch else F.mse_loss
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = mse(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return losses


def assert_same_params(hm, tm, rtol, atol):
    for (k, hv), (k2, tv) in zip(hm.state_dict().items(), tm.state_dict().items()):
        assert k == k2
        np.testing.assert_allclose(npy(hv), npy(tv), rtol=rtol, atol=atol, err_msg=k)


CASES = {
    "adadelta": ("Adadelta", {}),
    "adadelta_wd_max": ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=1e-2, maximize=False)),
    "adagrad": ("Adagrad", {}),
    "adagrad_decay_init": ("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=1e-3, initial_accumulator_value=0.1)),
    "rmsprop": ("RMSprop", {}),
    "rmsprop_momentum": ("RMSprop", dict(lr=1e-3, momentum=0.9)),
    "rmsprop_centered": ("RMSprop", dict(lr=1e-3, centered=True, weight_decay=1e-3)),
    "rmsprop_centered_momentum": ("RMSprop", dict(lr=1e-3, alpha=0.9, centered=True, momentum=0.5)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_trajectory_matches_torch_for_40_steps(case):
    name, kw = CASES[case]
    hm, tm, hd, td = model_pair()
    ho, to = getattr(optim, name)(hm.parameters(), **kw), getattr(torch.optim, name)(tm.parameters(), **kw)
    hl, tl = run(hm, ho, hd, 40, hy), run(tm, to, td, 40, torch)
    np.testing.assert_allclose(hl, tl, rtol=1e-9)
    assert_same_params(hm, tm, 1e-9, 1e-12)
    # the state has torch's names and values
    for hp, tp in zip(hm.parameters(), tm.parameters()):
        hs, ts = ho.state[hp], to.state[tp]
        assert sorted(hs) == sorted(ts)
        assert hs["step"] == int(ts["step"]) == 40
        for k in ts:
            if k != "step":
                np.testing.assert_allclose(npy(hs[k]), npy(ts[k]), rtol=1e-8, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("name", ["Adadelta", "Adagrad", "RMSprop"])
def test_float32_and_maximize_match_torch(name):
    hm, tm, hd, td = model_pair("float32")
    kw = dict(maximize=True, lr=1e-3 if name != "Adadelta" else 0.1)
    ho, to = getattr(optim, name)(hm.parameters(), **kw), getattr(torch.optim, name)(tm.parameters(), **kw)
    run(hm, ho, hd, 10, hy)
    run(tm, to, td, 10, torch)
    assert_same_params(hm, tm, 1e-4, 1e-6)


@pytest.mark.parametrize("name", ["Adadelta", "Adagrad", "RMSprop"])
def test_defaults_equal_torchs(name):
    p, tp = nn.Parameter(hy.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    ho, to = getattr(optim, name)([p]), getattr(torch.optim, name)([tp])
    assert ho.defaults == to.defaults
    assert sorted(ho.param_groups[0]) == sorted(to.param_groups[0])


def test_param_groups_and_grads_none():
    hm, tm, hd, td = model_pair()
    groups = lambda m: [{"params": m[0].parameters(), "lr": 0.05, "momentum": 0.5},  # noqa: E731
                        {"params": m[2].parameters()}]
    ho, to = optim.RMSprop(groups(hm), lr=1e-3), torch.optim.RMSprop(groups(tm), lr=1e-3)
    assert ho.param_groups[0]["lr"] == 0.05 and ho.param_groups[1]["momentum"] == 0
    run(hm, ho, hd, 5, hy)
    run(tm, to, td, 5, torch)
    # a parameter without a gradient is skipped; the others of its batch still step
    hm[2].bias.requires_grad_(False)
    tm[2].bias.requires_grad_(False)
    hm[2].bias.grad = None
    tm[2].bias.grad = None
    run(hm, ho, hd, 5, hy)
    run(tm, to, td, 5, torch)
    assert_same_params(hm, tm, 1e-9, 1e-12)
    assert ho.state[hm[2].bias]["step"] == 5


@pytest.mark.parametrize("name,kw", [("Adadelta", {}), ("Adagrad", dict(lr_decay=0.1)),
                                     ("RMSprop", dict(centered=True, momentum=0.9, lr=1e-3))])
def test_state_dict_round_trip_resumes_identically(name, kw):
    hm, _, hd, _ = model_pair()
    ho = getattr(optim, name)(hm.parameters(), **kw)
    run(hm, ho, hd, 4, hy)
    hm2 = copy.deepcopy(hm)
    ho2 = getattr(optim, name)(hm2.parameters(), **kw)
    ho2.load_state_dict(ho.state_dict())
    sd = ho2.state_dict()
    assert sorted(sd["state"]) == list(range(4)) and sd["state"][0]["step"] == 4
    run(hm, ho, hd, 4, hy)
    run(hm2, ho2, hd, 4, hy)
    for a, b in zip(hm.parameters(), hm2.parameters()):
        np.testing.assert_array_equal(npy(a), npy(b))
    # the loaded state is its own copy, not the source optimizer's buffers
    for p, p2 in zip(hm.parameters(), hm2.parameters()):
        for k, v in ho.state[p].items():
            if isinstance(v, hy.Tensor):
                assert v.data_ptr() != ho2.state[p2][k].data_ptr()


def test_torch_state_dict_loads_into_hyflow():
    """A torch optimizer's state (tensors converted) resumes in hyflow on the same trajectory."""
    hm, tm, hd, td = model_pair()
    ho, to = optim.RMSprop(hm.parameters(), lr=1e-3, momentum=0.9), torch.optim.RMSprop(tm.parameters(), lr=1e-3,
                                                                                         momentum=0.9)
    run(tm, to, td, 3, torch)
    hm.load_state_dict({k: hy.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    sd = to.state_dict()
    sd = {"param_groups": sd["param_groups"],
          "state": {i: {k: (int(v) if k == "step" else hy.tensor(v.numpy())) for k, v in s.items()}
                    for i, s in sd["state"].items()}}
    ho.load_state_dict(sd)
    run(hm, ho, hd, 3, hy)
    run(tm, to, td, 3, torch)
    assert_same_params(hm, tm, 1e-9, 1e-12)


def test_reference_path_equals_foreach_path():
    """Non-contiguous parameters take the per-parameter path; the same values contiguous take the flat one."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3))
    for make in (lambda ps: optim.Adadelta(ps, weight_decay=0.1), lambda ps: optim.Adagrad(ps, lr_decay=0.1),
                 lambda ps: optim.RMSprop(ps, centered=True, momentum=0.9, maximize=True)):
        flat = nn.Parameter(hy.tensor(w))
        ref = nn.Parameter(hy.tensor(np.ascontiguousarray(w.T)).T)
        assert not ref.is_contiguous()
        of, orf = make([flat]), make([ref])
        for _ in range(5):
            gr = rng.standard_normal((4, 3))
            flat.grad, ref.grad = hy.tensor(gr), hy.tensor(gr)
            of.step()
            orf.step()
        np.testing.assert_allclose(npy(flat), npy(ref), rtol=1e-12, atol=1e-14)


def test_state_tensors_replaced_by_the_user_are_used():
    """opt.state[p][name] is a view into the group's flat buffer; assigning a new tensor must not be ignored."""
    p = nn.Parameter(hy.ones(3, dtype=hy.float64))
    q = nn.Parameter(hy.ones(2, dtype=hy.float64))
    opt = optim.Adagrad([p, q], lr=1.0)
    for t in (p, q):
        t.grad = hy.ones(t.shape, dtype=hy.float64)
    opt.step()  # sum = 1, step = 1
    opt.state[p]["sum"] = hy.full([3], 3.0, dtype=hy.float64)
    opt.step()  # sum(p) = 4: p -= 1/2; sum(q) = 2: q -= 1/sqrt(2)
    np.testing.assert_allclose(npy(p), 1 - 1 - 0.5)
    np.testing.assert_allclose(npy(q), 1 - 1 - 2 ** -0.5)
    np.testing.assert_allclose(npy(opt.state[p]["sum"]), 4.0)


def test_bfloat16_parameters_take_the_reference_path():
    h = nn.Parameter(hy.ones(4, dtype=hy.bfloat16))
    h.grad = hy.ones(4, dtype=hy.bfloat16)
    opt = optim.RMSprop([h], lr=0.01)
    opt.step()
    assert h.dtype == hy.bfloat16 and opt.state[h]["square_avg"].dtype == hy.bfloat16
    assert abs(float(h[0].item()) - (1 - 0.01 / (0.01 ** 0.5 + 1e-8))) < 2e-2


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.Adadelta(p, rho=1.5), "rho"),
    (lambda p: optim.Adadelta(p, lr=-1), "lr"),
    (lambda p: optim.Adagrad(p, lr_decay=-0.1), "lr_decay"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "alpha"),
    (lambda p: optim.RMSprop(p, momentum=-0.5), "momentum"),
    (lambda p: optim.RMSprop(p, eps=float("nan")), "eps"),
    (lambda p: optim.RMSprop(p, capturable=True), "capturable"),
    (lambda p: optim.LBFGS(p, line_search_fn="armijo"), "line_search_fn"),
    (lambda p: optim.LBFGS(p, history_size=0), "history_size"),
    (lambda p: optim.LBFGS([{"params": p[:1]}, {"params": p[1:]}]), "parameter groups"),
])
def test_bad_arguments_raise_naming_them(make, match):
    params = [nn.Parameter(hy.zeros(2)), nn.Parameter(hy.zeros(1))]
    with pytest.raises(ValueError, match=match):
        make(params)


# --- LBFGS

def quadratic_closure_pair(hm, tm, hd, td):
    def closure_h():
        ho_zero(hm)
        loss = F.mse_loss(hm(hd[0]), hd[1])
        loss.backward()
        return loss

    def closure_t():
        ho_zero(tm)
        loss = torch.nn.functional.mse_loss(tm(td[0]), td[1])
        loss.backward()
        return loss
    return closure_h, closure_t


def ho_zero(m):
    for p in m.parameters():
        p.grad = None


@pytest.mark.parametrize("kw", [{}, dict(line_search_fn="strong_wolfe"), dict(history_size=3, max_iter=7),
                                dict(lr=0.5, history_size=5, line_search_fn="strong_wolfe", max_eval=9)],
                         ids=["fixed", "strong_wolfe", "history3", "wolfe_lr_maxeval"])
def test_lbfgs_matches_torch(kw):
    hm, tm, hd, td = model_pair()
    ho, to = optim.LBFGS(hm.parameters(), **kw), torch.optim.LBFGS(tm.parameters(), **kw)
    ch, ct = quadratic_closure_pair(hm, tm, hd, td)
    for _ in range(4):
        lh, lt = float(ho.step(ch).item()), float(to.step(ct).item())
        assert lh == pytest.approx(lt, rel=1e-7, abs=1e-12)
    assert_same_params(hm, tm, 1e-6, 1e-9)
    hs, ts = ho.state[hm[0].weight], to.state[tm[0].weight]
    assert hs["func_evals"] == ts["func_evals"] and hs["n_iter"] == ts["n_iter"]
    assert len(hs["old_dirs"]) == len(ts["old_dirs"]) <= kw.get("history_size", 100)
    assert sorted(hs) == sorted(ts)


def test_lbfgs_closure_semantics_and_state_dict():
    hm, _, hd, _ = model_pair()
    opt = optim.LBFGS(hm.parameters(), line_search_fn="strong_wolfe", history_size=4)
    calls = []

    def closure():
        calls.append(hy.is_grad_enabled())
        opt.zero_grad()
        loss = F.mse_loss(hm(hd[0]), hd[1])
        loss.backward()
        return loss
    first = opt.step(closure)
    assert isinstance(first, hy.Tensor) and all(calls) and len(calls) > 1  # re-evaluated, always with grad on
    assert opt.state[hm[0].weight]["func_evals"] == len(calls)
    with pytest.raises(TypeError, match="closure"):
        opt.step()
    # resume from state_dict in a copy: identical next steps
    hm2 = copy.deepcopy(hm)
    opt2 = optim.LBFGS(hm2.parameters(), line_search_fn="strong_wolfe", history_size=4)
    opt2.load_state_dict(opt.state_dict())

    def closure2():
        opt2.zero_grad()
        loss = F.mse_loss(hm2(hd[0]), hd[1])
        loss.backward()
        return loss
    for _ in range(2):
        assert float(opt.step(closure).item()) == float(opt2.step(closure2).item())
    for a, b in zip(hm.parameters(), hm2.parameters()):
        np.testing.assert_array_equal(npy(a), npy(b))


def test_lbfgs_converges_on_rosenbrock_like_torch():
    ends = []
    for lib in (hy, torch):
        xy = (nn.Parameter if lib is hy else torch.nn.Parameter)(lib.tensor([-1.5, 2.0], dtype=lib.float64))
        opt = (optim.LBFGS if lib is hy else torch.optim.LBFGS)([xy], line_search_fn="strong_wolfe", max_iter=100)

        def closure():
            opt.zero_grad()
            x, y = xy[0], xy[1]
            loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
            loss.backward()
            return loss
        for _ in range(5):
            opt.step(closure)
        ends.append(npy(xy))
    np.testing.assert_allclose(ends[0], [1.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(ends[0], ends[1], rtol=1e-6)


# --- pickling and deepcopy of optimizers

def functional_mlp(ps, x):
    return F.linear(F.linear(x, ps[0], ps[1]).tanh(), ps[2], ps[3])


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.AdamW(ps, lr=1e-2),
    lambda ps: optim.Adadelta(ps), lambda ps: optim.Adagrad(ps), lambda ps: optim.RMSprop(ps, momentum=0.5),
    lambda ps: optim.LBFGS(ps, history_size=3)], ids=["sgd", "adamw", "adadelta", "adagrad", "rmsprop", "lbfgs"])
def test_optimizer_pickles_and_deepcopies_with_its_state(make):
    hm, _, (x, y), _ = model_pair()
    opt = make(list(hm.parameters()))

    def closure_for(o):
        ps = o.param_groups[0]["params"]

        def closure():
            o.zero_grad()
            loss = F.mse_loss(functional_mlp(ps, x), y)
            loss.backward()
            return loss
        return closure
    for _ in range(3):
        opt.step(closure_for(opt))
    for clone in (pickle.loads(pickle.dumps(opt)), copy.deepcopy(opt)):
        assert type(clone) is type(opt) and clone.param_groups[0].keys() == opt.param_groups[0].keys()
        params, clone_params = opt.param_groups[0]["params"], clone.param_groups[0]["params"]
        # the state is keyed by the clone's own parameters (copies, equal in value)
        assert len(clone.state) == len(opt.state)
        for p, q in zip(params, clone_params):
            assert p is not q and isinstance(q, nn.Parameter)
            np.testing.assert_array_equal(npy(p), npy(q))
            assert (p in opt.state) == (q in clone.state)
            for k, v in opt.state.get(p, {}).items():
                if isinstance(v, hy.Tensor):
                    assert clone.state[q][k] is not v
                    np.testing.assert_array_equal(npy(v), npy(clone.state[q][k]))
        # the flat state buffers are not copied (their views would come back unshared): rebuilt at the next step
        assert getattr(clone, "_flat_buffers", None) is None or clone._flat_buffers._cache == {}
        # the clone goes on exactly as the original does, without touching it
        twin = copy.deepcopy(opt)
        for o in (clone, twin):
            for _ in range(2):
                o.step(closure_for(o))
        for p, q in zip(twin.param_groups[0]["params"], clone_params):
            np.testing.assert_array_equal(npy(p), npy(q))
        assert not np.array_equal(npy(params[0]), npy(clone_params[0]))


def _warmup(epoch):
    return min(1.0, (epoch + 1) / 3)


@pytest.mark.parametrize("make", [
    lambda o: optim.lr_scheduler.StepLR(o, 2, gamma=0.5), lambda o: optim.lr_scheduler.CosineAnnealingLR(o, 6),
    lambda o: optim.lr_scheduler.LambdaLR(o, _warmup),
    lambda o: optim.lr_scheduler.SequentialLR(o, [optim.lr_scheduler.LinearLR(o, 0.2, 1.0, 2),
                                                  optim.lr_scheduler.StepLR(o, 2)], [2])],
    ids=["step", "cosine", "lambda", "sequential"])
def test_lr_scheduler_pickles_with_its_optimizer(make):
    p = nn.Parameter(hy.zeros(2))
    opt = optim.SGD([p], lr=0.1)
    sched = make(opt)
    for _ in range(3):
        opt.step()
        sched.step()
    for clone in (pickle.loads(pickle.dumps(sched)), copy.deepcopy(sched)):
        assert clone.optimizer is not opt and clone.get_last_lr() == sched.get_last_lr()
        twin = copy.deepcopy(sched)
        for s in (clone, twin):
            for _ in range(3):
                s.optimizer.step()
                s.step()
        assert clone.get_last_lr() == twin.get_last_lr()
        assert clone.optimizer.param_groups[0]["lr"] == twin.optimizer.param_groups[0]["lr"]
    assert opt.param_groups[0]["lr"] == sched.get_last_lr()[0]  # the original did not move
