"""Elementwise family: per-op overhead on 1-element tensors and bandwidth on 16M float32.

hyflow vs NumPy vs PyTorch CPU, same process, same thread count. Ratios > 1 mean hyflow is faster.
    python benchmarks/bench_elementwise.py [--threads 2]
"""
import numpy as np

from _common import optional_torch, parse_args, report, setup_threads, timeit

import hyflow as hy


def main():
    args = parse_args(__doc__)
    setup_threads(args.threads)
    torch = optional_torch()
    rows = []

    # Tiny-op overhead: Python -> kernel -> result for `a + b` on 1-element tensors.
    a, b = hy.ones(1), hy.ones(1)
    na, nb = np.ones(1, np.float32), np.ones(1, np.float32)
    r = {"case": "a + b, 1 element", "unit": "us/op",
         "hyflow": timeit(lambda: a + b, args.repeats) * 1e6, "numpy": timeit(lambda: na + nb, args.repeats) * 1e6}
    if torch:
        ta, tb = torch.ones(1), torch.ones(1)
        r["torch"] = timeit(lambda: ta + tb, args.repeats) * 1e6
    r["torch/hyflow"] = r["torch"] / r["hyflow"] if torch else None
    r["numpy/hyflow"] = r["numpy"] / r["hyflow"]
    rows.append(r)

    n = (1 << 20) if args.quick else (16 << 20)
    x, y = hy.rand(n), hy.rand(n)
    out = hy.empty(n)
    nx, ny = x.numpy(), y.numpy()
    nout = np.empty(n, np.float32)
    cases = [
        ("add 16M f32 (new output)", lambda: x + y, lambda: nx + ny, (lambda tx, ty: (lambda: tx + ty)), 3),
        ("add 16M f32 (out=)", lambda: hy.add(x, y, out=out), lambda: np.add(nx, ny, out=nout),
         (lambda tx, ty, to=None: (lambda: torch.add(tx, ty, out=to))), 3),
        ("mul 16M f32", lambda: x * y, lambda: nx * ny, (lambda tx, ty: (lambda: tx * ty)), 3),
    ]
    # silu and softplus are compositions in their op-table `scalar:` expressions (one generated functor).
    unary = [(name, fn) for name, fn in [("exp", "exp"), ("tanh", "tanh"), ("sigmoid", "sigmoid"),
                                         ("silu", "silu"), ("softplus", "softplus")]
             if hasattr(hy.ops, fn)]
    for case, hf, nf, tf, streams in cases:
        gb = streams * n * 4 / 1e9
        r = {"case": case, "unit": "GB/s", "hyflow": gb / timeit(hf, args.repeats), "numpy": gb / timeit(nf, args.repeats)}
        if torch:
            tx, ty = torch.from_numpy(nx), torch.from_numpy(ny)
            f = tf(tx, ty, torch.empty(n)) if "out=" in case else tf(tx, ty)
            r["torch"] = gb / timeit(f, args.repeats)
        r["torch/hyflow"] = r["hyflow"] / r["torch"] if torch else None  # throughput ratio: hyflow / torch
        r["numpy/hyflow"] = r["hyflow"] / r["numpy"]
        rows.append(r)
    for name, fn in unary:
        gb = 2 * n * 4 / 1e9
        hfn = getattr(hy.ops, fn)
        r = {"case": f"{name} 16M f32", "unit": "GB/s", "hyflow": gb / timeit(lambda: hfn(x), args.repeats)}
        npfn = {"exp": np.exp, "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
                "silu": lambda v: v / (1 + np.exp(-v)), "softplus": lambda v: np.log1p(np.exp(v))}[name]
        r["numpy"] = gb / timeit(lambda: npfn(nx), args.repeats)
        if torch:
            tx = torch.from_numpy(nx)
            tfn = getattr(torch, fn, None) or getattr(torch.nn.functional, fn)
            r["torch"] = gb / timeit(lambda: tfn(tx), args.repeats)
            r["torch/hyflow"] = r["hyflow"] / r["torch"]
        r["numpy/hyflow"] = r["hyflow"] / r["numpy"]
        rows.append(r)
    report("elementwise", rows,
           [("case", "case", None), ("unit", "unit", None), ("hyflow", "hyflow", "{:.3f}"),
            ("torch", "torch", "{:.3f}"), ("numpy", "numpy", "{:.3f}"),
            ("torch/hyflow", "hyflow vs torch", "{:.2f}x"), ("numpy/hyflow", "hyflow vs numpy", "{:.2f}x")],
           args, notes=["'hyflow vs X' > 1 means hyflow is faster (time ratio for us/op, throughput ratio for GB/s)",
                        f"threads={args.threads}; NumPy elementwise is single-threaded"])


if __name__ == "__main__":
    main()
