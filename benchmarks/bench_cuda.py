"""GPU benchmarks of the CUDA backend against torch CUDA in the same run (scripts/gpu_check.sh runs them).

Rows: elementwise add/mul, a sum and a device-to-device copy (clone) of 64M float32; SGEMM and bf16 GEMM
8192 (cuBLAS); Linear 8192 + bias in float32/bfloat16 with cuBLASLt's bias epilogue on and off
(hy.backends.cuda.matmul.allow_cublaslt); rfft2/irfft2 8x2048² (cuFFT); training steps (forward + cross-entropy + backward +
optimizer step) of an MLP 784-2048-2048-10 on batch 512 and of a small CNN (2 conv + pool + linear) on
64x3x32x32, each against the same architecture in torch with identical shapes.
Each bandwidth row also gives its fraction of the device's theoretical peak (memory clock x bus width,
hy.cuda.get_device_properties) and of the bandwidth the clone reached (the practical peak).
Targets (docs/cuda.md): elementwise >= 85% of the peak, GEMMs >= 0.95x torch, training >= 1.0x torch.
    python benchmarks/bench_cuda.py [--quick] [--json out.json]
Without CUDA it prints that it skips and exits 0.
"""
import statistics
import time

from _common import optional_torch, parse_args, report

import hyflow as hy

ELEMENTS = 64 * 1024 * 1024  # 256 MB of float32
GEMM = 8192


def gpu_time(fn, sync, repeats, min_time=0.02):
    """Median seconds per call of fn() queued back to back (one synchronize per batch, so launch latency
    overlaps the previous call's work, as in a real program)."""
    fn()
    sync()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        dt = time.perf_counter() - t0
        if dt >= min_time or n >= 4096:
            break
        n *= 2
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def mlp(nn):
    return nn.Sequential(nn.Linear(784, 2048), nn.ReLU(), nn.Linear(2048, 2048), nn.ReLU(), nn.Linear(2048, 10))


def cnn(nn):
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 8 * 8, 10))


def training_step(lib, build, optimizer, shape, device="cuda"):
    """One training step of build(lib.nn) (lib is hyflow or torch: the same code drives both)."""
    model = build(lib.nn).to(device)
    params = model.parameters()
    opt = lib.optim.SGD(params, lr=1e-2, momentum=0.9) if optimizer == "SGD" else lib.optim.Adam(params, lr=1e-3)
    x = lib.randn(*shape).to(device)
    y = lib.randint(0, 10, (shape[0],)).to(device)
    ce = lib.nn.functional.cross_entropy

    def step():
        loss = ce(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def linear_cases(torch, peer):
    """nn.Linear 8192x8192 + bias (addmm with a bias vector) in float32 and bfloat16, with cuBLASLt's bias
    epilogue on and off (hy.backends.cuda.matmul.allow_cublaslt), each against torch's F.linear: the first GPU
    run decides whether the switch's default (on) is right."""
    import hyflow.nn.functional as F
    g, flags = GEMM, hy.backends.cuda.matmul

    def linear(allow, x, w, b):
        def run():
            flags.allow_cublaslt = allow
            try:
                return F.linear(x, w, b)
            finally:
                flags.allow_cublaslt = True
        return run

    out = []
    for name, dt in (("float32", hy.float32), ("bfloat16", hy.bfloat16)):
        x, w, b = (hy.randn(*s, device="cuda").to(dt) for s in ((g, g), (g, g), (g,)))
        tx = tw = tb = None
        if torch:
            tx, tw, tb = (torch.randn(*s, device="cuda", dtype=getattr(torch, name)) for s in ((g, g), (g, g), (g,)))
        for allow in (True, False):
            out.append((f"Linear {g} + bias {name}, cuBLASLt {'on' if allow else 'off'}", "flops", 2 * g ** 3,
                        linear(allow, x, w, b),
                        peer(lambda tx=tx, tw=tw, tb=tb: torch.nn.functional.linear(tx, tw, tb)), "torch>=0.95"))
    return out


def cases(torch):
    """(name, kind, work, hyflow fn, torch fn or None, target) with kind 'bytes', 'flops' or 'step'."""
    n = ELEMENTS
    x, y = hy.ones(n, device="cuda"), hy.ones(n, device="cuda")
    tx = ty = None
    if torch:
        tx, ty = torch.ones(n, device="cuda"), torch.ones(n, device="cuda")
    peer = (lambda f: f) if torch else (lambda f: None)
    m = f"{n >> 20}M float32"
    out = [(f"copy (clone) {m}", "bytes", 2 * 4 * n, lambda: x.clone(), peer(lambda: tx.clone()), None),
           (f"add {m}", "bytes", 3 * 4 * n, lambda: x + y, peer(lambda: tx + ty), "peak>=0.85"),
           (f"mul {m} (scalar)", "bytes", 2 * 4 * n, lambda: x * 2.0, peer(lambda: tx * 2.0), "peak>=0.85"),
           (f"sum {m}", "bytes", 4 * n, lambda: x.sum(), peer(lambda: tx.sum()), None)]
    if hy.build_info()["cublas"]:
        g = GEMM
        a32, b32 = hy.randn(g, g).cuda(), hy.randn(g, g).cuda()
        a16, b16 = a32.to(hy.bfloat16), b32.to(hy.bfloat16)
        ta32 = tb32 = ta16 = tb16 = None
        if torch:
            ta32, tb32 = torch.randn(g, g, device="cuda"), torch.randn(g, g, device="cuda")
            ta16, tb16 = ta32.bfloat16(), tb32.bfloat16()
        out += [(f"SGEMM {g} float32", "flops", 2 * g ** 3, lambda: a32 @ b32, peer(lambda: ta32 @ tb32), "torch>=0.95"),
                (f"GEMM {g} bfloat16", "flops", 2 * g ** 3, lambda: a16 @ b16, peer(lambda: ta16 @ tb16), "torch>=0.95")]
        out += linear_cases(torch, peer)
    if hy.build_info()["cufft"]:
        f = hy.randn(8, 2048, 2048).cuda()
        F = hy.fft.rfft2(f)
        tf = tF = None
        if torch:
            tf = torch.randn(8, 2048, 2048, device="cuda")
            tF = torch.fft.rfft2(tf)
        moved = 8 * 2048 * 2048 * 4 + 8 * 2048 * 1025 * 8  # the real field and its half spectrum, once each
        out += [("rfft2 8x2048² float32", "bytes", moved, lambda: hy.fft.rfft2(f), peer(lambda: torch.fft.rfft2(tf)),
                 None),
                ("irfft2 8x2048² float32", "bytes", moved, lambda: hy.fft.irfft2(F, s=(2048, 2048)),
                 peer(lambda: torch.fft.irfft2(tF, s=(2048, 2048))), None)]
    for name, build, opt, shape in (("MLP 784-2048-2048-10 b512", mlp, "SGD", (512, 784)),
                                    ("MLP 784-2048-2048-10 b512", mlp, "Adam", (512, 784)),
                                    ("CNN 2conv+pool+linear 64x3x32x32", cnn, "SGD", (64, 3, 32, 32))):
        # Built lazily: a missing CUDA kernel fails this row only.
        out.append((f"{name} {opt} step", "step", None, (hy, build, opt, shape),
                    peer((torch, build, opt, shape)), "torch>=1.0"))
    return out


def measure(case, props, copy_bw, torch, repeats):
    name, kind, work, fn, peer, target = case
    row = {"case": name, "target": target}
    try:
        if kind == "step":
            fn = training_step(*fn)
        row["hyflow_ms"] = gpu_time(fn, hy.cuda.synchronize, repeats) * 1e3
    except Exception as e:  # noqa: BLE001 (one failing row must not hide the others on a first GPU run)
        row["error"] = f"{type(e).__name__}: {str(e)[:160]}"
    if peer is not None:
        if kind == "step":
            peer = training_step(*peer)
        row["torch_ms"] = gpu_time(peer, torch.cuda.synchronize, repeats) * 1e3
        if "hyflow_ms" in row:
            row["speed_vs_torch"] = row["torch_ms"] / row["hyflow_ms"]
    if "hyflow_ms" in row:
        t = row["hyflow_ms"] / 1e3
        if kind == "bytes":
            row["GBs"] = work / t / 1e9
            row["frac_peak"] = work / t / props.memory_bandwidth
            row["frac_copy"] = work / t / copy_bw if copy_bw else None
        elif kind == "flops":
            row["TFLOPs"] = work / t / 1e12
    if target and ("speed_vs_torch" in row or "frac_peak" in row):
        what, bound = target.split(">=")
        got = row["frac_peak"] if what == "peak" else row["speed_vs_torch"]
        row["met"] = "yes" if got >= float(bound) else "NO"
    return row


def main():
    args = parse_args(__doc__)
    if not hy.cuda.is_available():
        print(f"bench_cuda: skipped, CUDA is not available ({hy.cuda.unavailable_reason()})")
        return
    torch = optional_torch()
    if torch is not None and not torch.cuda.is_available():
        print("bench_cuda: torch has no CUDA here; hyflow is measured alone (no ratios)")
        torch = None
    props = hy.cuda.get_device_properties(0)
    repeats = 3 if args.quick else min(args.repeats, 7)
    rows, copy_bw = [], None
    for case in cases(torch):
        row = measure(case, props, copy_bw, torch, repeats)
        if case[0].startswith("copy") and "GBs" in row:
            copy_bw = row["GBs"] * 1e9
            row["frac_copy"] = 1.0
        rows.append(row)
    report("cuda", rows, [
        ("case", "case", None), ("hyflow_ms", "hyflow ms", "{:.3f}"), ("torch_ms", "torch ms", "{:.3f}"),
        ("speed_vs_torch", "torch/hyflow", "{:.2f}"), ("GBs", "GB/s", "{:.0f}"),
        ("frac_peak", "of peak", "{:.1%}"), ("frac_copy", "of copy", "{:.1%}"), ("TFLOPs", "TFLOP/s", "{:.1f}"),
        ("target", "target", None), ("met", "met", None), ("error", "error", None),
    ], args, notes=[f"device: {props!r}",
                    f"peak = theoretical {props.memory_bandwidth / 1e9:.0f} GB/s (2 x memory clock x bus width); "
                    f"copy = the clone row's {copy_bw / 1e9 if copy_bw else float('nan'):.0f} GB/s (read + write)",
                    "torch/hyflow > 1: hyflow is faster; times are medians of back-to-back calls, one sync per batch",
                    f"torch: {torch.__version__ if torch else 'absent'}"],
        meta={"device": {k: getattr(props, k) for k in props.__slots__}})


if __name__ == "__main__":
    main()
