"""Reduction family: sum over all / over rows / over columns, and softmax, on large float32 tensors.

hyflow vs NumPy vs PyTorch CPU, same process, same threads. Ratios > 1 mean hyflow is faster.
    python benchmarks/bench_reduce.py [--threads 2]
"""
import numpy as np

from _common import optional_torch, parse_args, report, setup_threads, timeit

import hyflow as hy


def main():
    args = parse_args(__doc__)
    setup_threads(args.threads)
    torch = optional_torch()
    n = 1024 if args.quick else 4096
    x = hy.rand(n, n)
    nx = x.numpy()
    tx = torch.from_numpy(nx) if torch else None
    gb = n * n * 4 / 1e9
    cases = [
        ("sum all", lambda: x.sum(), lambda: nx.sum(), lambda: tx.sum()),
        ("sum dim=1 (rows)", lambda: x.sum(dim=1), lambda: nx.sum(axis=1), lambda: tx.sum(dim=1)),
        ("sum dim=0 (columns)", lambda: x.sum(dim=0), lambda: nx.sum(axis=0), lambda: tx.sum(dim=0)),
        ("amax dim=1", lambda: x.amax(dim=1), lambda: nx.max(axis=1), lambda: tx.amax(dim=1)),
        ("var dim=1", lambda: x.var(dim=1), lambda: nx.var(axis=1, ddof=1), lambda: tx.var(dim=1)),
        ("softmax dim=1", lambda: hy.softmax(x, 1), None, lambda: torch.softmax(tx, 1)),
    ]
    rows = []
    for case, hf, nf, tf in cases:
        r = {"case": f"{case} {n}x{n} f32", "unit": "GB/s", "hyflow": gb / timeit(hf, args.repeats)}
        if nf:
            r["numpy"] = gb / timeit(nf, args.repeats)
            r["numpy/hyflow"] = r["hyflow"] / r["numpy"]
        if torch:
            r["torch"] = gb / timeit(tf, args.repeats)
            r["torch/hyflow"] = r["hyflow"] / r["torch"]
        rows.append(r)
    report("reduce", rows,
           [("case", "case", None), ("unit", "unit", None), ("hyflow", "hyflow", "{:.2f}"),
            ("torch", "torch", "{:.2f}"), ("numpy", "numpy", "{:.2f}"),
            ("torch/hyflow", "hyflow vs torch", "{:.2f}x"), ("numpy/hyflow", "hyflow vs numpy", "{:.2f}x")],
           args, notes=["GB/s of input read; 'hyflow vs X' > 1 means hyflow is faster"])


if __name__ == "__main__":
    main()
