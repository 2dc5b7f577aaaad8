"""FFT family: rfft2/irfft2 and fft on square float32/float64 grids, 256^2 ... 2048^2.

hyflow vs numpy.fft vs torch.fft (CPU), same process, same threads. Ratios > 1 mean hyflow is faster.
The figure is ms per transform (median); numpy.fft is single-threaded and computes in float64 for
float32 inputs before NumPy 2.0 (its complex64 output is kept here).
    python benchmarks/bench_fft.py [--threads 2] [--quick]
"""
import numpy as np

from _common import optional_torch, parse_args, report, setup_threads, timeit

import hyflow as hy


def main():
    args = parse_args(__doc__)
    setup_threads(args.threads)
    torch = optional_torch()
    sizes = [256, 512] if args.quick else [256, 512, 1024, 2048]
    rows = []
    for dtype in ("float32", "float64"):
        for n in sizes:
            nx = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
            x = hy.tensor(nx)
            X, nX = hy.fft.rfft2(x), np.fft.rfft2(nx)
            z, nz = hy.fft.fft(x), np.fft.fft(nx)
            tx = torch.from_numpy(nx) if torch else None
            tX = torch.fft.rfft2(tx) if torch else None
            cases = [
                ("rfft2", lambda: hy.fft.rfft2(x), lambda: np.fft.rfft2(nx), lambda: torch.fft.rfft2(tx)),
                ("irfft2", lambda: hy.fft.irfft2(X, s=(n, n)), lambda: np.fft.irfft2(nX, s=(n, n)),
                 lambda: torch.fft.irfft2(tX, s=(n, n))),
                ("fft rows", lambda: hy.fft.fft(z), lambda: np.fft.fft(nz), lambda: torch.fft.fft(torch.from_numpy(nz))),
            ]
            reps = max(3, args.repeats if n <= 512 else 3)
            for case, hf, nf, tf in cases:
                r = {"case": f"{case} {n}x{n} {dtype}", "unit": "ms", "hyflow": 1e3 * timeit(hf, reps, min_time=0.02)}
                r["numpy"] = 1e3 * timeit(nf, reps, min_time=0.02)
                r["numpy/hyflow"] = r["numpy"] / r["hyflow"]
                if torch:
                    r["torch"] = 1e3 * timeit(tf, reps, min_time=0.02)
                    r["torch/hyflow"] = r["torch"] / r["hyflow"]
                rows.append(r)
    report("fft", rows,
           [("case", "case", None), ("unit", "unit", None), ("hyflow", "hyflow", "{:.3f}"),
            ("torch", "torch", "{:.3f}"), ("numpy", "numpy", "{:.3f}"),
            ("torch/hyflow", "hyflow vs torch", "{:.2f}x"), ("numpy/hyflow", "hyflow vs numpy", "{:.2f}x")],
           args, notes=["ms per call (median); 'hyflow vs X' > 1 means hyflow is faster"])


if __name__ == "__main__":
    main()
