"""GEMM: float32 and float64 matmul at N = 128, 512, 1024, 2048 in GFLOP/s.

hyflow vs NumPy vs PyTorch CPU, same process, same thread count. Run it the way machine.md asks for
BLAS-backed comparisons, with the OpenBLAS core-type overrides removed for this command only:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_gemm.py --threads 2
"""
import os

import numpy as np

from _common import optional_torch, parse_args, report, setup_threads, timeit

import hyflow as hy


def main():
    args = parse_args(__doc__)
    setup_threads(args.threads)
    torch = optional_torch()
    sizes = [128, 512] if args.quick else [128, 512, 1024, 2048]
    rows = []
    for dt in ("float32", "float64"):
        for n in sizes:
            a, b = hy.rand(n, n, dtype=getattr(hy, dt)), hy.rand(n, n, dtype=getattr(hy, dt))
            na, nb = a.numpy(), b.numpy()
            flop = 2.0 * n ** 3 / 1e9
            r = {"case": f"{dt} N={n}", "unit": "GFLOP/s", "hyflow": flop / timeit(lambda: a @ b, args.repeats),
                 "numpy": flop / timeit(lambda: na @ nb, args.repeats)}
            r["numpy/hyflow"] = r["hyflow"] / r["numpy"]
            if torch:
                ta, tb = torch.from_numpy(na), torch.from_numpy(nb)
                r["torch"] = flop / timeit(lambda: ta @ tb, args.repeats)
                r["torch/hyflow"] = r["hyflow"] / r["torch"]
            rows.append(r)
    notes = ["'hyflow vs X' > 1 means hyflow is faster",
             f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r} (unset it for this benchmark, see docstring)"]
    report("gemm", rows,
           [("case", "case", None), ("unit", "unit", None), ("hyflow", "hyflow", "{:.1f}"),
            ("torch", "torch", "{:.1f}"), ("numpy", "numpy", "{:.1f}"),
            ("torch/hyflow", "hyflow vs torch", "{:.2f}x"), ("numpy/hyflow", "hyflow vs numpy", "{:.2f}x")],
           args, notes=notes)


if __name__ == "__main__":
    main()
