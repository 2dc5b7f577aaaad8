"""all_reduce latency (8 B) and bandwidth (1, 16, 64 MB float32): hyflow vs a C program calling
MPI_Allreduce directly vs mpi4py on NumPy arrays, on the same number of ranks, in the same run.

    python benchmarks/bench_collectives.py [-n 2] [--quick]

The driver compiles benchmarks/collectives/allreduce_mpi.c with mpicc, then launches two jobs with
mpirun: the C program, and this script in worker mode (hyflow with the cross-rank argument check on and
off, and mpi4py). Each figure is the median over repeats of the slowest rank's time per call.
Bus bandwidth = 2 (n-1)/n x bytes / time (the NCCL-tests convention). Ratios > 1: hyflow is faster.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = lambda nbytes: 1000 if nbytes <= 4096 else 20 if nbytes <= (1 << 20) else 3  # noqa: E731


def worker(repeats, sizes):
    import numpy as np

    import hyflow as hy
    import hyflow.distributed as dist

    dist.init()
    from mpi4py import MPI  # noqa: E402 (MPI is already up)

    comm = dist.get_mpi4py_comm()

    def measure(call):
        call()
        call()
        samples = []
        for _ in range(repeats):
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(batch):
                call()
            samples.append(comm.allreduce((time.perf_counter() - t0) / batch, op=MPI.MAX))
        return statistics.median(samples)

    for nbytes in sizes:
        batch = BATCH(nbytes)
        t = hy.ones(nbytes // 4)
        a = np.ones(nbytes // 4, dtype=np.float32)
        dist.set_check_args(True)
        checked = measure(lambda: dist.all_reduce(t))
        dist.set_check_args(False)
        unchecked = measure(lambda: dist.all_reduce(t))
        mpi4py = measure(lambda: comm.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM))
        if dist.get_rank() == 0:
            print(f"RESULT {nbytes} {checked:.9g} {unchecked:.9g} {mpi4py:.9g}", flush=True)
    comm.Free()


def mpirun_cmd(n):
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", "--bind-to", "none"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd


def main():
    sys.path.insert(0, HERE)
    from _common import parse_args, report

    args = parse_args(__doc__, extra=lambda ap: ap.add_argument("-n", type=int, default=2, help="ranks"))
    sizes = [8, 1 << 20] if args.quick else [8, 1 << 20, 16 << 20, 64 << 20]
    repeats = 5 if args.quick else args.repeats
    if not shutil.which("mpicc") or not shutil.which("mpirun"):
        sys.exit("bench_collectives: needs mpicc and mpirun on PATH")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "allreduce_mpi")
        subprocess.run(["mpicc", "-O2", "-o", exe, os.path.join(HERE, "collectives", "allreduce_mpi.c")], check=True)
        raw_out = subprocess.run(mpirun_cmd(args.n) + [exe, str(repeats)] + [str(s) for s in sizes], env=env,
                                 capture_output=True, text=True, check=True).stdout
    raw = {int(b): float(t) for b, t in (line.split() for line in raw_out.splitlines() if line.strip())}
    hy_out = subprocess.run(mpirun_cmd(args.n) + [sys.executable, os.path.abspath(__file__), "--worker", str(repeats)]
                            + [str(s) for s in sizes], env=env, capture_output=True, text=True)
    if hy_out.returncode != 0:
        sys.exit(f"bench_collectives: worker job failed:\n{hy_out.stdout}\n{hy_out.stderr}")
    rows = []
    busbw = lambda nbytes, t: 2 * (args.n - 1) / args.n * nbytes / t / 1e9 if args.n > 1 else None  # noqa: E731
    for line in hy_out.stdout.splitlines():
        if not line.startswith("RESULT"):
            continue
        _, b, checked, unchecked, m4 = line.split()
        b, checked, unchecked, m4 = int(b), float(checked), float(unchecked), float(m4)
        r = raw[b]
        rows.append({"bytes": b, "mpi_c_us": r * 1e6, "hyflow_us": checked * 1e6, "hyflow_nocheck_us": unchecked * 1e6,
                     "mpi4py_us": m4 * 1e6, "mpi_c_GBs": busbw(b, r), "hyflow_nocheck_GBs": busbw(b, unchecked),
                     "ratio_vs_c": r / checked, "ratio_nocheck_vs_c": r / unchecked, "ratio_vs_mpi4py": m4 / checked})
    report(f"collectives_allreduce_n{args.n}", rows, [
        ("bytes", "bytes", "{:d}"), ("mpi_c_us", "C MPI us", "{:.2f}"), ("hyflow_us", "hyflow us", "{:.2f}"),
        ("hyflow_nocheck_us", "hy nocheck us", "{:.2f}"), ("mpi4py_us", "mpi4py us", "{:.2f}"),
        ("mpi_c_GBs", "C busbw GB/s", "{:.2f}"), ("hyflow_nocheck_GBs", "hy busbw GB/s", "{:.2f}"),
        ("ratio_vs_c", "hy/C speed", "{:.3f}"), ("ratio_nocheck_vs_c", "nocheck/C", "{:.3f}"),
        ("ratio_vs_mpi4py", "hy/mpi4py", "{:.3f}"),
    ], args, notes=[f"{args.n} ranks on one node, float32 SUM, OMP_NUM_THREADS=1; 'nocheck' = "
                    "set_check_args(False) (no cross-rank shape/dtype check message)"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), [int(s) for s in sys.argv[3:]])
    else:
        main()
