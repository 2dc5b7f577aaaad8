"""NCCL all-reduce bandwidth: hyflow's dist.all_reduce on the NCCL backend vs raw NCCL, same run, same buffer.

    mpirun -n <number of GPUs> python benchmarks/bench_nccl.py [--quick] [--json out.json]
    python benchmarks/bench_nccl.py            # one GPU, one process (no launcher needed)

Raw NCCL is the nccl-tests measurement: ncclAllReduce (float32 sum, in place) called `iters` times back to
back on the communicator's own NCCL handle and stream and the same buffer, then one stream synchronize
(hyflow._C._dist.nccl_raw_all_reduce, a small C++ loop in libhyflow_nccl.so that bypasses the collective
path). hyflow is timed two ways: `dist.all_reduce(t)` (each call waits, the ordinary use) and
`dist.all_reduce(t, async_op=True)` posted `iters` times then waited (back to back, as nccl-tests runs).
Each figure is the median over repeats of the slowest rank's seconds per call. algbw = bytes / time;
busbw = algbw x 2 (n-1)/n (nccl-tests' convention; 0 on one rank). Ratios > 1: hyflow is faster.
Target (docs/cuda.md): hyflow's bandwidth >= 0.95x raw NCCL. Without CUDA or NCCL it prints that it
skips and exits 0.
"""
import statistics
import time

from _common import parse_args, report

import hyflow as hy
import hyflow.distributed as dist
from hyflow import _C

MB = 1 << 20


def iterations(nbytes):
    return 50 if nbytes <= 16 * MB else 20 if nbytes <= 256 * MB else 8


def main():
    args = parse_args(__doc__)
    if not hy.cuda.is_available():
        print(f"bench_nccl: skipped, CUDA is not available ({hy.cuda.unavailable_reason()})")
        return
    if not hy.build_info()["nccl"]:
        print("bench_nccl: skipped, hyflow was built without its NCCL communicator")
        return
    world = dist.init(backend="nccl", timeout=120)
    comm, n, rank = world._comm, world.size(), world.rank()
    device = comm.device
    sizes = [MB, 16 * MB, 256 * MB] if args.quick else [MB, 4 * MB, 16 * MB, 64 * MB, 256 * MB, 1024 * MB]
    repeats = 3 if args.quick else min(args.repeats, 5)

    def hy_sync(t, iters):
        for _ in range(iters):
            dist.all_reduce(t)

    def hy_async(t, iters):
        works = [dist.all_reduce(t, async_op=True) for _ in range(iters)]
        for w in works:
            w.wait()

    def timed(loop, t, iters):
        loop(t, 2)  # warm-up
        hy.cuda.synchronize(device)
        t0 = time.perf_counter()
        loop(t, iters)
        hy.cuda.synchronize(device)
        return (time.perf_counter() - t0) / iters

    rows = []
    for nbytes in sizes:
        t = hy.ones(nbytes // 4, device=device)
        iters = iterations(nbytes)
        samples = []
        for _ in range(repeats):
            # Interleaved, so that the three see the same machine state.
            raw = _C._dist.nccl_raw_all_reduce(comm, t, iters, 2)
            mine = [raw, timed(hy_sync, t, iters), timed(hy_async, t, iters)]
            slowest = hy.tensor(mine, dtype=hy.float64, device=device)
            dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
            samples.append(slowest.tolist())
        raw_s, sync_s, async_s = (statistics.median(s[i] for s in samples) for i in range(3))
        algbw = lambda s: nbytes / s / 1e9  # noqa: E731
        bus = 2 * (n - 1) / n
        rows.append({"bytes": nbytes, "iters": iters, "raw_us": raw_s * 1e6, "hyflow_us": sync_s * 1e6,
                     "hyflow_async_us": async_s * 1e6, "raw_algbw": algbw(raw_s), "raw_busbw": algbw(raw_s) * bus,
                     "hyflow_algbw": algbw(sync_s), "hyflow_busbw": algbw(sync_s) * bus,
                     "hyflow_async_algbw": algbw(async_s), "ratio": raw_s / sync_s, "ratio_async": raw_s / async_s,
                     "met": "yes" if raw_s / sync_s >= 0.95 else "NO"})
        del t
    if rank == 0:
        report(f"nccl_allreduce_n{n}", rows, [
            ("bytes", "bytes", "{:d}"), ("raw_us", "raw us", "{:.1f}"), ("hyflow_us", "hyflow us", "{:.1f}"),
            ("hyflow_async_us", "hy async us", "{:.1f}"), ("raw_algbw", "raw algbw", "{:.1f}"),
            ("raw_busbw", "raw busbw", "{:.1f}"), ("hyflow_algbw", "hy algbw", "{:.1f}"),
            ("hyflow_busbw", "hy busbw", "{:.1f}"), ("ratio", "hy/raw", "{:.3f}"),
            ("ratio_async", "async/raw", "{:.3f}"), ("met", ">=0.95", None),
        ], args, notes=[f"{n} rank(s), one GPU each ({hy.cuda.get_device_name(device)}); float32 SUM in place; "
                        "bandwidths in GB/s",
                        "hy/raw: raw NCCL time / hyflow time (blocking dist.all_reduce); async/raw: hyflow "
                        "posted with async_op=True back to back"],
            meta={"ranks": n, "device": hy.cuda.get_device_name(device)})
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
