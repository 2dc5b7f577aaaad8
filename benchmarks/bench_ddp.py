"""DistributedDataParallel step time: one process training an MLP on the global batch vs n ranks under
mpirun, each on its 1/n share, with gradients all-reduced by DDP. Also: DDP's own overhead in a world of
one process, and the n ranks without any gradient reduction (so the difference to the DDP row is the
cost of the all-reduce left after overlapping it with backward). Same model, same global batch, same run.

    python benchmarks/bench_ddp.py [-n 2] [--quick]

Each figure is the median over repeats of the slowest rank's time per step (forward, backward with the
bucketed all-reduce, SGD step). Ratio > 1: the n-rank run is faster than one process.
"""
import os
import shutil
import statistics
import subprocess
import sys
import time

WIDTH, DEPTH, GLOBAL_BATCH = 1024, 4, 256


def worker(steps, repeats):
    """Time the plain model and the DDP-wrapped one in the same job, alternating repeats (less noise)."""
    import hyflow as hy
    import hyflow.distributed as dist
    from hyflow import nn

    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()

    def make(wrap):
        hy.manual_seed(0)
        layers = []
        for _ in range(DEPTH):
            layers += [nn.Linear(WIDTH, WIDTH), nn.Tanh()]
        model = nn.Sequential(*layers)
        return dist.DistributedDataParallel(model) if wrap else model

    models = {"plain": make(False), "ddp": make(True)}
    opts = {k: hy.optim.SGD(m.parameters(), lr=1e-3) for k, m in models.items()}
    local = GLOBAL_BATCH // world
    x, y = hy.randn(local, WIDTH), hy.randn(local, WIDTH)

    def step(k):
        opts[k].zero_grad()
        nn.functional.mse_loss(models[k](x), y).backward()
        opts[k].step()

    samples = {k: [] for k in models}
    for k in models:
        step(k)
    for _ in range(repeats):
        for k in models:
            dist.barrier()
            t0 = time.perf_counter()
            for _ in range(steps):
                step(k)
            t = hy.tensor([(time.perf_counter() - t0) / steps], dtype=hy.float64)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            samples[k].append(t.item())
    if rank == 0:
        print(f"RESULT {statistics.median(samples['plain'])} {statistics.median(samples['ddp'])}", flush=True)


def launch(n, steps, repeats):
    cmd = [sys.executable, __file__, "--worker", str(steps), str(repeats)]
    if n > 1:
        mpirun = [shutil.which("mpirun"), "-n", str(n), "--oversubscribe"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            mpirun.append("--allow-run-as-root")
        cmd = mpirun + cmd
    threads = max(1, (os.cpu_count() or 1) // n)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return [float(v) for v in line.split()[1:]]
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def main():
    if "--worker" in sys.argv:
        i = sys.argv.index("--worker")
        worker(int(sys.argv[i + 1]), int(sys.argv[i + 2]))
        return
    n = int(sys.argv[sys.argv.index("-n") + 1]) if "-n" in sys.argv else 2
    steps, repeats = (3, 3) if "--quick" in sys.argv else (5, 7)
    single, single_ddp = launch(1, steps, repeats)
    multi_plain, multi = launch(n, steps, repeats)
    print(f"MLP {DEPTH}x{WIDTH}, global batch {GLOBAL_BATCH}, {os.cpu_count()} cores, threads split over the ranks")
    print(f"{'run':<28}{'ms/step':>10}{'ratio vs 1 process':>22}")
    rows = [("1 process", single), ("1 process, DDP wrapper", single_ddp),
            (f"{n} ranks, no reduction", multi_plain), (f"{n} ranks, DDP", multi)]
    for name, t in rows:
        print(f"{name:<28}{t * 1e3:>10.2f}{single / t:>22.2f}")


if __name__ == "__main__":
    main()
