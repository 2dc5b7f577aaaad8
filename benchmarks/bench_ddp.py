"""DistributedDataParallel step time: one process training an MLP on the global batch vs n ranks under
mpirun, each on its 1/n share, with gradients all-reduced by DDP (plus DDP's own overhead in a world of
one process). Same model, same global batch, same run.

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


def worker(steps, repeats, wrap):
    import hyflow as hy
    import hyflow.distributed as dist
    from hyflow import nn

    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()
    hy.manual_seed(0)
    layers = []
    for _ in range(DEPTH):
        layers += [nn.Linear(WIDTH, WIDTH), nn.Tanh()]
    model = nn.Sequential(*layers)
    if wrap:
        model = dist.DistributedDataParallel(model)
    opt = hy.optim.SGD(model.parameters(), lr=1e-3)
    local = GLOBAL_BATCH // world
    x, y = hy.randn(local, WIDTH), hy.randn(local, WIDTH)

    def step():
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    step()
    samples = []
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        t = hy.tensor([(time.perf_counter() - t0) / steps], dtype=hy.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        samples.append(t.item())
    if rank == 0:
        print(f"RESULT {statistics.median(samples)}", flush=True)


def launch(n, steps, repeats, wrap):
    cmd = [sys.executable, __file__, "--worker", str(steps), str(repeats), str(int(wrap))]
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
            return float(line.split()[1])
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def main():
    if "--worker" in sys.argv:
        i = sys.argv.index("--worker")
        worker(int(sys.argv[i + 1]), int(sys.argv[i + 2]), bool(int(sys.argv[i + 3])))
        return
    n = int(sys.argv[sys.argv.index("-n") + 1]) if "-n" in sys.argv else 2
    steps, repeats = (3, 3) if "--quick" in sys.argv else (10, 5)
    single = launch(1, steps, repeats, wrap=False)
    single_ddp = launch(1, steps, repeats, wrap=True)
    multi = launch(n, steps, repeats, wrap=True)
    print(f"MLP {DEPTH}x{WIDTH}, global batch {GLOBAL_BATCH}, {os.cpu_count()} cores, threads split over the ranks")
    print(f"{'run':<28}{'ms/step':>10}{'ratio vs 1 process':>22}")
    for name, t in [("1 process", single), ("1 process, DDP wrapper", single_ddp), (f"{n} ranks, DDP", multi)]:
        print(f"{name:<28}{t * 1e3:>10.2f}{single / t:>22.2f}")


if __name__ == "__main__":
    main()
