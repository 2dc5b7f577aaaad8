"""DistributedDataParallel and DistributedSampler: in the world of one process (no MPI needed; the sampler
against torch's), and under mpirun on 2 and 4 ranks against one process training on the whole batch."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.distributed as dist
from hyflow import nn

from _mpirun import assert_all_ok, requires_mpi, run



def _mlp(seed):
    hy.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()


@pytest.mark.parametrize("cap", [25, 0.0001])
def test_ddp_one_process_matches_plain_training(world, cap):
    ddp, ref = dist.DistributedDataParallel(_mlp(0), bucket_cap_mb=cap), _mlp(0)
    opts = [hy.optim.SGD(m.parameters(), lr=0.1) for m in (ddp, ref)]
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = hy.tensor(rng.standard_normal((6, 4))), hy.tensor(rng.standard_normal((6, 2)))
        for m, opt in zip((ddp, ref), opts):
            opt.zero_grad()
            nn.functional.mse_loss(m(x), y).backward()
            opt.step()
    for a, b in zip(ddp.parameters(), ref.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)
    assert list(ddp.state_dict()) == list(ref.state_dict())
    ddp.load_state_dict(ref.state_dict())
    assert ddp.module is ddp._modules["module"]
    assert "DistributedDataParallel" in repr(ddp)


def test_ddp_no_sync_accumulates(world):
    ddp, ref = dist.DistributedDataParallel(_mlp(1)), _mlp(1)
    x = hy.ones(3, 4, dtype=hy.float64)
    with ddp.no_sync():
        ddp(x).sum().backward()
    ddp(x).sum().backward()
    ref(x).sum().backward()
    ref(x).sum().backward()
    for a, b in zip(ddp.parameters(), ref.parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_ddp_buckets_launch_during_backward(world, monkeypatch):
    """Reverse registration order, and each bucket's all-reduce is posted as soon as it is complete, while
    backward still has gradients to compute (not all at the end)."""
    import hyflow.distributed.ddp as ddp_mod

    ddp = dist.DistributedDataParallel(_mlp(0), bucket_cap_mb=0.0001)  # 100 bytes: one tensor per bucket
    params = list(ddp.parameters())
    assert [[id(p) for p in b.params] for b in ddp._buckets] == [[id(p)] for p in reversed(params)]
    pending_at_launch = []
    real = ddp_mod.all_reduce

    def spy(t, **kw):
        pending_at_launch.append(sum(b.pending for b in ddp._buckets))
        return real(t, **kw)

    monkeypatch.setattr(ddp_mod, "all_reduce", spy)
    x = hy.ones(2, 4, dtype=hy.float64)
    ddp(x).sum().backward()
    # The first backward records the arrival order; the buckets are then rebuilt in it.
    assert sorted(ddp._arrival) == list(range(len(params))) and ddp._rebuilt
    assert [id(p) for b in ddp._buckets for p in b.params] == [id(params[k]) for k in ddp._arrival]
    pending_at_launch.clear()
    ddp(x).sum().backward()
    later = [sum(len(b.params) for b in ddp._buckets[j + 1:]) for j in range(len(ddp._buckets))]
    assert pending_at_launch == later and later[0] > 0  # each bucket is posted the moment it is full


def test_ddp_wrapper_can_be_freed(world):
    import gc
    import weakref

    model = _mlp(0)
    ref = weakref.ref(dist.DistributedDataParallel(model))
    gc.collect()
    assert ref() is None
    model(hy.ones(1, 4, dtype=hy.float64)).sum().backward()  # the dead wrapper's hooks do nothing
    assert model[0].weight.grad is not None


def test_ddp_bad_arguments(world):
    with pytest.raises(TypeError, match="must be a hyflow.nn.Module"):
        dist.DistributedDataParallel(lambda x: x)
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        dist.DistributedDataParallel(_mlp(0), bucket_cap_mb=0)


def test_ddp_unused_parameter_is_reported(world):
    class Half(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x):
            return self.a(x)

    ddp = dist.DistributedDataParallel(Half(), bucket_cap_mb=0.00001)
    ddp(hy.ones(1, 2)).sum().backward()
    with pytest.raises(RuntimeError, match="did not produce a gradient for every parameter"):
        ddp(hy.ones(1, 2))
    ddp(hy.ones(1, 2))  # the next step starts clean


@pytest.mark.parametrize("n", [10, 11, 13])
@pytest.mark.parametrize("replicas", [1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_torch_unshuffled(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for r in range(replicas):
        ours = dist.DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    del torch


@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shuffle_epochs(drop_last):
    n, k = 23, 4
    shares = lambda epoch, seed=0: [  # noqa: E731
        list(_set_epoch(dist.DistributedSampler(range(n), k, r, seed=seed, drop_last=drop_last), epoch))
        for r in range(k)]
    e0, e1 = shares(0), shares(1)
    assert e0 == shares(0)                                  # deterministic for (seed, epoch)
    assert e0 != e1 and e0 != shares(0, seed=1)             # a new order per epoch and per seed
    for e in (e0, e1):
        flat = [i for s in e for i in s]
        assert len({len(s) for s in e}) == 1
        if drop_last:
            assert len(flat) == len(set(flat)) == (n // k) * k
        else:
            assert set(flat) == set(range(n)) and len(flat) == 24


def _set_epoch(sampler, epoch):
    sampler.set_epoch(epoch)
    return sampler


def test_sampler_with_dataloader_and_errors(world):
    ds = hy.data.TensorDataset(hy.arange(10))
    s = dist.DistributedSampler(ds, shuffle=False)           # world of one: everything, in order
    assert [b[0].tolist() for b in hy.data.DataLoader(ds, batch_size=4, sampler=s)] == [[0, 1, 2, 3], [4, 5, 6, 7],
                                                                                         [8, 9]]
    with pytest.raises(ValueError, match="rank"):
        dist.DistributedSampler(ds, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        dist.DistributedSampler(ds, num_replicas=0, rank=0)


def test_sampler_needs_init_without_explicit_rank():
    dist.destroy_process_group()
    with pytest.raises(RuntimeError, match="init"):
        dist.DistributedSampler(range(4))


@requires_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_ddp_matches_single_process_training(n):
    rc, out = run(n, "ddp.py", timeout=120)
    assert_all_ok(n, rc, out)


@requires_mpi
def test_ddp_ring_all_reduce_path():
    """HYFLOW_DIST_RING_BYTES=16: every bucket goes through the point-to-point ring, posted asynchronously."""
    rc, out = run(3, "ddp.py", timeout=120, env={"HYFLOW_DIST_RING_BYTES": "16"})
    assert_all_ok(3, rc, out)


def test_ddp_find_unused_parameters_one_process(world):
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 2).double(), nn.Linear(4, 2).double()

        def forward(self, x, use_b):
            return self.b(x) if use_b else self.a(x)

    ddp = dist.DistributedDataParallel(TwoHeads(), find_unused_parameters=True)
    x = hy.ones(3, 4, dtype=hy.float64)
    for use_b in (False, True, False):  # a different head each step: without the option this raises
        for p in ddp.parameters():
            p.grad = None
        ddp(x, use_b).sum().backward()
        used, unused = (ddp.module.b, ddp.module.a) if use_b else (ddp.module.a, ddp.module.b)
        assert used.weight.grad is not None and unused.weight.grad is None
        np.testing.assert_allclose(used.weight.grad.numpy(), np.full((2, 4), 3.0))
