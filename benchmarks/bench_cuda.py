"""GPU benchmarks of the CUDA backend (scripts/gpu_check.sh runs them): elementwise bandwidth of the
generic launcher and a row reduction, each against torch CUDA in the same run when torch has CUDA.
Prints one line per case: hyflow time, torch time, ratio, and the achieved bandwidth."""
import time

import hyflow as hy


def timed(fn, sync, repeat=20):
    fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    if not hy.cuda.is_available():
        print(f"bench_cuda: skipped, CUDA is not available ({hy.cuda.unavailable_reason()})")
        return
    try:
        import torch
        has_torch = torch.cuda.is_available()
    except ImportError:
        has_torch = False
    n = 64 * 1024 * 1024
    x, y = hy.ones(n, device="cuda"), hy.ones(n, device="cuda")
    cases = [("add 64M float32", lambda: x + y, 3 * 4 * n),
             ("mul 64M float32 (broadcast scalar)", lambda: x * 2.0, 2 * 4 * n),
             ("sum 64M float32", lambda: x.sum(), 4 * n)]
    if has_torch:
        tx, ty = torch.ones(n, device="cuda"), torch.ones(n, device="cuda")
        peers = [lambda: tx + ty, lambda: tx * 2.0, lambda: tx.sum()]
    print(f"device: {hy.cuda.get_device_name()}")
    print("| case | hyflow ms | torch ms | torch/hyflow | hyflow GB/s |")
    print("|---|---|---|---|---|")
    for i, (name, fn, nbytes) in enumerate(cases):
        t = timed(fn, hy.cuda.synchronize)
        if has_torch:
            tt = timed(peers[i], torch.cuda.synchronize)
            print(f"| {name} | {t * 1e3:.3f} | {tt * 1e3:.3f} | {tt / t:.2f} | {nbytes / t / 1e9:.0f} |")
        else:
            print(f"| {name} | {t * 1e3:.3f} | - | - | {nbytes / t / 1e9:.0f} |")


if __name__ == "__main__":
    main()
