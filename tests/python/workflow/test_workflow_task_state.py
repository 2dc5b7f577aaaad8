"""TaskState: a dict plus pending restores; a model + AdamW + scheduler resumed through setdefault train
exactly like uninterrupted ones."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F
import hyflow.optim as optim
from hyflow.workflow.checkpoint import TaskState, decode_state, encode_state


@pytest.fixture
def restored(tmp_path):
    """state after a trip through a file, as a checkpoint load gives it (the encoded tree aliases
    live tensors, so it must be written before training goes on)."""
    def round_trip(state):
        path = tmp_path / "state.safetensors"
        hy.save(encode_state(state, "task 't' state"), path)
        return decode_state(hy.load(path))
    return round_trip


def test_behaves_like_a_dict():
    s = TaskState({"a": 1}, b=2)
    s["c"] = [3]
    assert s == {"a": 1, "b": 2, "c": [3]} and repr(s) == repr({"a": 1, "b": 2, "c": [3]})
    assert len(s) == 3 and list(s) == ["a", "b", "c"] and "a" in s and "z" not in s
    assert s.setdefault("a", 9) == 1 and s.setdefault("d", 4) == 4 and s.get("z", 0) == 0
    assert s.pop("d") == 4
    del s["c"]
    copy = s.copy()
    copy["a"] = 10
    assert s["a"] == 1 and isinstance(copy, TaskState)
    assert s.to_dict() == {"a": 1, "b": 2} and type(s.to_dict()) is dict
    with pytest.raises(KeyError):
        s["missing"]


def test_stateful_entries_come_back_pending(restored):
    model = nn.Linear(3, 2)
    s = restored(TaskState(model=model, n=5))
    assert s.pending_keys() == ["model"]
    assert "model" not in s and len(s) == 1 and s == {"n": 5} and s.get("model") is None
    with pytest.raises(KeyError, match=r"setdefault\('model', Linear\(\.\.\.\)\)"):
        s["model"]
    fresh = nn.Linear(3, 2)
    assert s.setdefault("model", fresh) is fresh
    assert s.pending_keys() == [] and s["model"] is fresh
    for a, b in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_assignment_claims_a_pending_key(restored):
    model = nn.Linear(2, 2)
    s = restored(TaskState(model=model))
    fresh = nn.Linear(2, 2)
    s["model"] = fresh
    np.testing.assert_array_equal(fresh.weight.detach().numpy(), model.weight.detach().numpy())
    assert s.pending_keys() == []


def test_type_mismatch_raises_and_keeps_the_pending_state(restored):
    s = restored(TaskState(model=nn.Linear(2, 2)))
    with pytest.raises(TypeError, match="checkpointed from a .*Linear.*cannot restore it into a .*Tanh"):
        s.setdefault("model", nn.Tanh())
    with pytest.raises(TypeError, match="has no load_state_dict"):
        s["model"] = 3
    assert s.pending_keys() == ["model"]
    del s["model"]                       # dropping the saved state is explicit
    s["model"] = 3
    assert s == {"model": 3}


def test_unclaimed_pending_entries_are_saved_again_unchanged(restored):
    model = nn.Linear(2, 3)
    once = restored(TaskState(model=model, x=1))
    twice = restored(once)
    assert twice.pending_keys() == ["model"]
    fresh = twice.setdefault("model", nn.Linear(2, 3))
    np.testing.assert_array_equal(fresh.bias.detach().numpy(), model.bias.detach().numpy())


def _train(model, opt, sched, steps, data):
    x, y = data
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        sched.step()


def _build():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    opt = optim.AdamW(model.parameters(), lr=1e-2)
    return model, opt, optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)


def test_resumed_training_matches_uninterrupted_training(restored):
    rng = np.random.default_rng(0)
    data = (hy.tensor(rng.standard_normal((16, 4))), hy.tensor(rng.standard_normal((16, 1))))
    model, opt, sched = _build()
    _train(model, opt, sched, 5, data)
    state = restored(TaskState(model=model, opt=opt, sched=sched))
    _train(model, opt, sched, 7, data)                     # the uninterrupted run

    fresh_model, fresh_opt, fresh_sched = _build()          # a new process re-creates its objects
    m = state.setdefault("model", fresh_model)
    o = state.setdefault("opt", fresh_opt)
    s = state.setdefault("sched", fresh_sched)
    _train(m, o, s, 7, data)
    for a, b in zip(model.parameters(), m.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert o.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
