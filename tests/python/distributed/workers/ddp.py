"""DistributedDataParallel and DistributedSampler under mpirun: DDP training on this rank's shard must end
at the parameters of one process training on the whole batch (float64, every rank recomputes that
reference itself), for several bucket sizes; no_sync accumulation; buffer broadcast; the unused-parameter
error; the sampler's partition of a dataset."""
import numpy as np

from _harness import Checks, setup_env

setup_env()

import hyflow as hy  # noqa: E402
import hyflow.distributed as dist  # noqa: E402
from hyflow import nn  # noqa: E402

IN, OUT, B = 5, 3, 4  # B samples per rank per step


def mlp(seed):
    hy.manual_seed(seed)
    return nn.Sequential(nn.Linear(IN, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, OUT)).double()


def batch(step, world):
    rng = np.random.default_rng(1000 + step)
    return hy.tensor(rng.standard_normal((world * B, IN))), hy.tensor(rng.standard_normal((world * B, OUT)))


def shard(t, rank):
    return t[rank * B:(rank + 1) * B]


def params_np(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def close(c, what, got, want):
    for i, (g, w) in enumerate(zip(got, want)):
        c.close(f"{what} param {i}", g, w, "float64")
        c.true(f"{what} param {i} rel 1e-6", np.allclose(g, w, rtol=1e-6, atol=1e-12))


def train_reference(world, steps, lr):
    model = mlp(0)
    opt = hy.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for s in range(steps):
        x, y = batch(s, world)
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return params_np(model)


def check_training(c, rank, world, cap):
    steps, lr = 5, 0.1
    ddp = dist.DistributedDataParallel(mlp(rank), bucket_cap_mb=cap)  # rank 0's initial weights win
    c.true(f"cap {cap}: buckets", len(ddp._buckets) >= (3 if cap < 1e-3 else 1))
    opt = hy.optim.SGD(ddp.parameters(), lr=lr, momentum=0.9)
    for s in range(steps):
        x, y = batch(s, world)
        opt.zero_grad()
        nn.functional.mse_loss(ddp(shard(x, rank)), shard(y, rank)).backward()
        opt.step()
    close(c, f"cap {cap}", params_np(ddp.module), train_reference(world, steps, lr))
    c.true("state_dict delegates", list(ddp.state_dict().keys()) == list(ddp.module.state_dict().keys()))


def check_no_sync(c, rank, world):
    ddp = dist.DistributedDataParallel(mlp(rank), bucket_cap_mb=0.0005)
    micro = 3
    local = mlp(0)
    for k in range(micro):
        x, y = batch(50 + k, world)
        if k < micro - 1:
            with ddp.no_sync():
                nn.functional.mse_loss(ddp(shard(x, rank)), shard(y, rank)).backward()
            nn.functional.mse_loss(local(shard(x, rank)), shard(y, rank)).backward()
            c.close(f"no_sync step {k}: local grad", ddp.module[0].weight.grad.numpy(),
                    local[0].weight.grad.numpy(), "float64")
        else:
            nn.functional.mse_loss(ddp(shard(x, rank)), shard(y, rank)).backward()
    ref = mlp(0)
    for k in range(micro):
        x, y = batch(50 + k, world)
        nn.functional.mse_loss(ref(x), y).backward()
    close(c, "no_sync grads", [p.grad.numpy() for p in ddp.parameters()], [p.grad.numpy() for p in ref.parameters()])


class Scaled(nn.Module):
    def __init__(self, rank):
        super().__init__()
        self.lin = mlp(rank)
        self.register_buffer("scale", hy.tensor([float(rank + 1)], dtype=hy.float64))
        self.frozen = nn.Parameter(hy.tensor([float(rank), 1.0], dtype=hy.float64), requires_grad=False)

    def forward(self, x):
        return self.lin(x) * self.scale


def check_buffers(c, rank, world):
    x = hy.ones(2, IN, dtype=hy.float64)
    for bb in (True, False):
        ddp = dist.DistributedDataParallel(Scaled(rank), broadcast_buffers=bb)
        c.true(f"buffers bb={bb}: broadcast at wrap", ddp.module.scale.tolist() == [1.0])
        c.true(f"buffers bb={bb}: frozen parameter broadcast", ddp.module.frozen.tolist() == [0.0, 1.0])
        with hy.no_grad():
            ddp.module.scale.fill_(float(rank + 7))
        ddp(x).sum().backward()
        want = 7.0 if bb else float(rank + 7)
        c.true(f"buffers bb={bb}: after forward {ddp.module.scale.tolist()}", ddp.module.scale.tolist() == [want])


def check_unused(c, rank, world):
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = mlp(0), nn.Linear(2, 2).double()

        def forward(self, x):
            return self.used(x)

    ddp = dist.DistributedDataParallel(Unused(), bucket_cap_mb=0.0005)
    x = hy.ones(2, IN, dtype=hy.float64)
    ddp(x).sum().backward()
    try:
        ddp(x)
        c.true("unused parameter raises", False)
    except RuntimeError as e:
        c.true(f"unused parameter message: {e}", "did not produce a gradient for every parameter" in str(e))
    t = hy.ones(3, dtype=hy.float64)
    dist.all_reduce(t)  # the communicator is still in step on every rank
    c.true("usable after the unused-parameter error", t.tolist() == [float(world)] * 3)


class Branches(nn.Module):
    """`trunk` is used by every rank, `rank0_only` only on rank 0, `never` by no rank."""

    def __init__(self):
        super().__init__()
        hy.manual_seed(5)
        self.trunk, self.rank0_only, self.never = (nn.Linear(IN, 2).double(), nn.Linear(IN, 2).double(),
                                                   nn.Linear(IN, 2).double())

    def forward(self, x, use_rank0_branch):
        y = self.trunk(x)
        return y + self.rank0_only(x) if use_rank0_branch else y


def check_find_unused(c, rank, world):
    ddp = dist.DistributedDataParallel(Branches(), bucket_cap_mb=0.0001, find_unused_parameters=True)
    ref = Branches()  # the same weights: every rank computes what rank 0 and the others contribute
    x = hy.ones(3, IN, dtype=hy.float64)
    ref(x, True).sum().backward()
    for step in range(2):  # the second step shows the reduction finished and the next forward is fine
        for p in ddp.parameters():
            p.grad = None
        ddp(x, rank == 0).sum().backward()
        m = ddp.module
        close(c, f"step {step}: trunk grad is the average", m.trunk.weight.grad.numpy(), ref.trunk.weight.grad.numpy())
        close(c, f"step {step}: rank-0-only grad is rank 0's / world", m.rank0_only.weight.grad.numpy(),
              ref.rank0_only.weight.grad.numpy() / world)
        c.true(f"step {step}: a parameter no rank used keeps grad None", m.never.weight.grad is None)
    t = hy.ones(3, dtype=hy.float64)
    dist.all_reduce(t)  # the communicator is still in step on every rank
    c.true("usable after find_unused steps", t.tolist() == [float(world)] * 3)


def check_sampler(c, rank, world):
    ds = hy.data.TensorDataset(hy.arange(11))
    for shuffle in (False, True):
        for drop_last in (False, True):
            shares = [list(dist.DistributedSampler(ds, world, r, shuffle=shuffle, seed=3, drop_last=drop_last))
                      for r in range(world)]
            mine = dist.DistributedSampler(ds, shuffle=shuffle, seed=3, drop_last=drop_last)
            what = f"sampler shuffle={shuffle} drop_last={drop_last}"
            c.true(f"{what}: default rank/size", list(mine) == shares[rank])
            c.true(f"{what}: equal shares", len({len(s) for s in shares}) == 1 and len(shares[0]) == len(mine))
            flat = sorted(i for s in shares for i in s)
            if drop_last:
                c.true(f"{what}: disjoint", len(set(flat)) == len(flat))
            else:
                c.true(f"{what}: covers", set(flat) == set(range(11)))
            got = [b[0].tolist() for b in hy.data.DataLoader(ds, batch_size=2, sampler=mine)]
            c.true(f"{what}: DataLoader", [i for b in got for i in b] == shares[rank])


def main():
    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()
    c = Checks(rank)
    for cap in (25, 0.0005):  # one bucket; a bucket per tensor or two
        c.run(f"training cap {cap}", lambda cap=cap: check_training(c, rank, world, cap))
    c.run("no_sync", lambda: check_no_sync(c, rank, world))
    c.run("buffers", lambda: check_buffers(c, rank, world))
    c.run("sampler", lambda: check_sampler(c, rank, world))
    c.run("unused", lambda: check_unused(c, rank, world))
    c.run("find_unused_parameters", lambda: check_find_unused(c, rank, world))
    return c.report()


if __name__ == "__main__":
    raise SystemExit(main())
