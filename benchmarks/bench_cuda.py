"""GPU benchmarks of the CUDA backend (scripts/gpu_check.sh runs them): elementwise bandwidth of the
generic launcher, a row reduction, SGEMM/bf16 GEMM 8192 (cuBLAS), 2-D real FFTs 2048² x 8 (cuFFT) and
Linear 8192 + bias with cuBLASLt's epilogue on and off, each against torch CUDA in the same run when torch
has CUDA.
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


def linear_cases(has_torch):
    """nn.Linear 8192x8192 + bias (addmm with a bias vector) in float32 and bfloat16, with cuBLASLt's bias
    epilogue on and off (hy.backends.cuda.matmul.allow_cublaslt), each against torch's F.linear:
    (cases, torch peers), in the shape main() lists them."""
    if not hy.build_info()["cublas"]:
        return [], []
    import hyflow.nn.functional as F
    g, flags = 8192, hy.backends.cuda.matmul

    def linear(allow, x, w, b):
        def run():
            flags.allow_cublaslt = allow
            try:
                return F.linear(x, w, b)
            finally:
                flags.allow_cublaslt = True
        return run

    cases, peers = [], []
    for name, dt in (("float32", hy.float32), ("bfloat16", hy.bfloat16)):
        x, w, b = (hy.randn(*s, device="cuda").to(dt) for s in ((g, g), (g, g), (g,)))
        for allow in (True, False):
            cases.append((f"GEMM Linear 8192 + bias {name}, cuBLASLt {'on' if allow else 'off'}",
                          linear(allow, x, w, b), 2 * g ** 3))
        if has_torch:
            import torch
            tdt = getattr(torch, name)
            tx, tw, tb = (torch.randn(*s, device="cuda", dtype=tdt) for s in ((g, g), (g, g), (g,)))
            peers += [lambda tx=tx, tw=tw, tb=tb: torch.nn.functional.linear(tx, tw, tb)] * 2
    return cases, peers


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
    if hy.build_info()["cublas"]:
        g = 8192
        a32, b32 = hy.ones(g, g, device="cuda"), hy.ones(g, g, device="cuda")
        a16, b16 = a32.to(hy.bfloat16), b32.to(hy.bfloat16)
        cases += [("SGEMM 8192 float32", lambda: a32 @ b32, 2 * g ** 3),
                  ("GEMM 8192 bfloat16", lambda: a16 @ b16, 2 * g ** 3)]
        if has_torch:
            ta32, tb32 = torch.ones(g, g, device="cuda"), torch.ones(g, g, device="cuda")
            ta16, tb16 = ta32.bfloat16(), tb32.bfloat16()
            peers += [lambda: ta32 @ tb32, lambda: ta16 @ tb16]
    if hy.build_info()["cufft"]:
        f = hy.randn(8, 2048, 2048).cuda()
        F = hy.fft.rfft2(f)
        # bytes: the real field read and its half spectrum written (or the reverse)
        moved = 8 * 2048 * 2048 * 4 + 8 * 2048 * 1025 * 8
        cases += [("rfft2 8x2048² float32", lambda: hy.fft.rfft2(f), moved),
                  ("irfft2 8x2048² float32", lambda: hy.fft.irfft2(F, s=(2048, 2048)), moved)]
        if has_torch:
            tf = torch.randn(8, 2048, 2048, device="cuda")
            tF = torch.fft.rfft2(tf)
            peers += [lambda: torch.fft.rfft2(tf), lambda: torch.fft.irfft2(tF, s=(2048, 2048))]
    more, more_peers = linear_cases(has_torch)
    cases += more
    if has_torch:
        peers += more_peers
    print(f"device: {hy.cuda.get_device_name()}")
    print("| case | hyflow ms | torch ms | torch/hyflow | hyflow GB/s or TFLOP/s |")
    print("|---|---|---|---|---|")
    for i, (name, fn, work) in enumerate(cases):
        t = timed(fn, hy.cuda.synchronize)
        rate = f"{work / t / 1e12:.1f} TFLOP/s" if "GEMM" in name else f"{work / t / 1e9:.0f} GB/s"
        if has_torch:
            tt = timed(peers[i], torch.cuda.synchronize)
            print(f"| {name} | {t * 1e3:.3f} | {tt * 1e3:.3f} | {tt / t:.2f} | {rate} |")
        else:
            print(f"| {name} | {t * 1e3:.3f} | - | - | {rate} |")


if __name__ == "__main__":
    main()
