"""Mixed precision: bf16 GEMM GFLOP/s and an MLP training step under hy.autocast, vs PyTorch CPU, same process.

GEMM: bf16 N x N @ N x N at N = 1024, 2048, 4096 on 1 and 2 threads, hyflow (its own AMX / AVX512-BF16
kernel where the CPU has one, docs/amp.md "Kernels") vs torch.matmul in bf16 and vs hyflow on oneDNN
(HYFLOW_LOWP_GEMM=onednn, when built with it); the float32 fallback (HYFLOW_LOWP_GEMM=fallback) at
N = 1024 for scale. MLP 784-512-512-10 (batch 128), one step = forward + cross-entropy + backward + SGD
step: hyflow float32, hyflow under hy.autocast(dtype=hy.bfloat16), and torch under
torch.autocast("cpu", dtype=torch.bfloat16); the same for the climate example's surrogate training step.
Elementwise and reduction ops on a 1024 x 4096 bf16 tensor (block-converted in place or through
vectorized float32 casts, docs/amp.md "Kernels") in Melem/s against hyflow float32 and torch bf16; an
fp16 GEMM row (the float32 path) against torch fp16. Run with the OpenBLAS core-type overrides removed
for this command only (machine.md):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_amp.py --threads 2
"""
import os
import pathlib
import sys

import numpy as np

from _common import optional_torch, parse_args, report, setup_threads, timeit

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F
import hyflow.optim as optim


def gemm_rows(args, torch):
    rows = []
    sizes = [1024] if args.quick else [1024, 2048, 4096]
    for threads in sorted({1, args.threads}):
        setup_threads(threads)
        for n in sizes:
            a = hy.randn(n, n).to(hy.bfloat16)
            b = hy.randn(n, n).to(hy.bfloat16)
            flop = 2.0 * n ** 3 / 1e9
            r = {"case": f"bf16 GEMM N={n} {threads}T", "unit": "GFLOP/s",
                 "hyflow": flop / timeit(lambda: a @ b, args.repeats)}
            if hy.build_info()["lowp_gemm"]:
                os.environ["HYFLOW_LOWP_GEMM"] = "onednn"
                try:
                    r["onednn"] = flop / timeit(lambda: a @ b, 3, min_time=0.0, warmup=1)
                finally:
                    del os.environ["HYFLOW_LOWP_GEMM"]
            if n == sizes[0]:
                os.environ["HYFLOW_LOWP_GEMM"] = "fallback"
                try:
                    r["fallback"] = flop / timeit(lambda: a @ b, 3, min_time=0.0, warmup=1)
                finally:
                    del os.environ["HYFLOW_LOWP_GEMM"]
            if torch:
                ta, tb = torch.randn(n, n).bfloat16(), torch.randn(n, n).bfloat16()
                r["peer"] = flop / timeit(lambda: ta @ tb, args.repeats)
                r["ratio"] = r["hyflow"] / r["peer"]
            rows.append(r)
    setup_threads(args.threads)
    return rows


def fp16_gemm_rows(args, torch):
    # oneDNN 2.6.3 has no f16 matmul, so hyflow's fp16 products take the float32 path (docs/amp.md).
    n = 1024
    a, b = hy.randn(n, n).to(hy.float16), hy.randn(n, n).to(hy.float16)
    flop = 2.0 * n ** 3 / 1e9
    r = {"case": f"fp16 GEMM N={n} {args.threads}T", "unit": "GFLOP/s", "hyflow": flop / timeit(lambda: a @ b, 3)}
    a32, b32 = a.float(), b.float()
    r["fallback"] = flop / timeit(lambda: a32 @ b32, 3)
    r["vs_fp32"] = r["hyflow"] / r["fallback"]
    if torch:
        ta, tb = torch.randn(n, n).half(), torch.randn(n, n).half()
        r["peer"] = flop / timeit(lambda: ta @ tb, 3)
        r["ratio"] = r["hyflow"] / r["peer"]
    return [r]


# name -> (hyflow call on x, y; torch call on the torch module, x, y), x and y of one shape
ELEMENTWISE_CASES = {
    "add": (lambda x, y: x + y, lambda t, x, y: x + y),
    "mul by scalar": (lambda x, y: x * 1.5, lambda t, x, y: x * 1.5),
    "exp": (lambda x, y: hy.exp(x), lambda t, x, y: x.exp()),
    "tanh": (lambda x, y: hy.tanh(x), lambda t, x, y: x.tanh()),
    "clamp": (lambda x, y: hy.clamp(x, -1.0, 1.0), lambda t, x, y: x.clamp(-1.0, 1.0)),
    "sum (all)": (lambda x, y: x.sum(), lambda t, x, y: x.sum()),
    "sum (rows)": (lambda x, y: x.sum(-1), lambda t, x, y: x.sum(-1)),
    "sum (dim 0)": (lambda x, y: x.sum(0), lambda t, x, y: x.sum(0)),
    "var (rows)": (lambda x, y: x.var(-1), lambda t, x, y: x.var(-1)),
    "amax (rows)": (lambda x, y: x.amax(-1), lambda t, x, y: x.amax(-1)),
    "cumsum (rows)": (lambda x, y: x.cumsum(-1), lambda t, x, y: x.cumsum(-1)),
    "softmax (rows)": (lambda x, y: F.softmax(x, -1), lambda t, x, y: x.softmax(-1)),
    "log_softmax (rows)": (lambda x, y: F.log_softmax(x, -1), lambda t, x, y: x.log_softmax(-1)),
    "layer_norm (rows)": (lambda x, y: F.layer_norm(x, (x.shape[-1],)),
                          lambda t, x, y: t.nn.functional.layer_norm(x, (x.shape[-1],))),
}


def elementwise_rows(args, torch):
    rows_n, cols = (256, 4096) if args.quick else (1024, 4096)
    rng = np.random.default_rng(0)
    xn = rng.standard_normal((rows_n, cols)).astype(np.float32)
    yn = rng.standard_normal((rows_n, cols)).astype(np.float32)
    x32, y32 = hy.tensor(xn), hy.tensor(yn)
    x16, y16 = x32.to(hy.bfloat16), y32.to(hy.bfloat16)
    melem = rows_n * cols / 1e6
    rows = []
    for name, (hy_fn, torch_fn) in ELEMENTWISE_CASES.items():
        r = {"case": f"bf16 {name} {rows_n}x{cols} {args.threads}T", "unit": "Melem/s",
             "hyflow": melem / timeit(lambda: hy_fn(x16, y16), args.repeats),
             "fallback": melem / timeit(lambda: hy_fn(x32, y32), args.repeats)}
        r["vs_fp32"] = r["hyflow"] / r["fallback"]
        if torch:
            tx, ty = torch.from_numpy(xn).bfloat16(), torch.from_numpy(yn).bfloat16()
            r["peer"] = melem / timeit(lambda: torch_fn(torch, tx, ty), args.repeats)
            r["ratio"] = r["hyflow"] / r["peer"]
        rows.append(r)
    return rows


def mlp(lib):
    return lib.Sequential(lib.Linear(784, 512), lib.ReLU(), lib.Linear(512, 512), lib.ReLU(), lib.Linear(512, 10))


def mlp_rows(args, torch):
    rng = np.random.default_rng(0)
    xn = rng.standard_normal((128, 784)).astype(np.float32)
    yn = rng.integers(0, 10, 128)
    x, y = hy.tensor(xn), hy.tensor(yn)

    def hy_step(model, opt, autocast):
        def step():
            with hy.autocast(dtype=hy.bfloat16, enabled=autocast):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    times = {}
    for autocast in (False, True):
        m = mlp(nn)
        times[autocast] = timeit(hy_step(m, optim.SGD(m.parameters(), lr=1e-2, momentum=0.9), autocast),
                                 args.repeats, min_time=0.2, warmup=3)
    r = {"case": f"MLP 784-512-512-10 b128 {args.threads}T", "unit": "steps/s", "hyflow": 1.0 / times[True],
         "fallback": 1.0 / times[False]}
    r["vs_fp32"] = times[False] / times[True]
    if torch:
        tm = mlp(torch.nn)
        to = torch.optim.SGD(tm.parameters(), lr=1e-2, momentum=0.9)
        tx, ty = torch.from_numpy(xn), torch.from_numpy(yn)

        def torch_step():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = torch.nn.functional.cross_entropy(tm(tx), ty)
            to.zero_grad()
            loss.backward()
            to.step()
        r["peer"] = 1.0 / timeit(torch_step, args.repeats, min_time=0.2, warmup=3)
        r["ratio"] = r["hyflow"] / r["peer"]
    return [r]


def surrogate_rows(args, torch):
    """The climate example's online-trained surrogate (examples/climate/surrogate.py: a 27-32-32-2 GELU MLP
    beside a 27-2 linear path, AdamW), one training step on `points` stencil patches, as its coupling
    loop runs it (2048 sampled points by default) and on a larger batch."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "examples" / "climate"))
    import surrogate as sg
    rows = []
    for points in ([2048] if args.quick else [2048, 16384]):
        rng = np.random.default_rng(0)
        xn = rng.standard_normal((points, sg.PATCH_FEATURES)).astype(np.float32)
        yn = rng.standard_normal((points, sg.OUTPUTS)).astype(np.float32)
        x, y = hy.tensor(xn), hy.tensor(yn)

        def hy_step(autocast):
            model = sg.make_model(0)
            opt = sg.make_optimizer(model)

            def step():
                with hy.autocast(dtype=hy.bfloat16, enabled=autocast):
                    loss = F.mse_loss(model.forward_normalised(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            return step

        times = {ac: timeit(hy_step(ac), args.repeats, min_time=0.2, warmup=3) for ac in (False, True)}
        r = {"case": f"climate surrogate step, {points} points {args.threads}T", "unit": "steps/s",
             "hyflow": 1.0 / times[True], "fallback": 1.0 / times[False], "vs_fp32": times[False] / times[True]}
        if torch:
            class TorchSurrogate(torch.nn.Module):  # the same layers and normalisation as sg.TendencySurrogate
                def __init__(self, hidden=32):
                    super().__init__()
                    self.linear = torch.nn.Linear(sg.PATCH_FEATURES, sg.OUTPUTS)
                    self.mlp = torch.nn.Sequential(
                        torch.nn.Linear(sg.PATCH_FEATURES, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, hidden),
                        torch.nn.GELU(), torch.nn.Linear(hidden, sg.OUTPUTS))
                    self.register_buffer("shift", torch.zeros(1, sg.PATCH_FEATURES))
                    self.register_buffer("scale", torch.ones(1, sg.PATCH_FEATURES))

                def forward(self, p):
                    p = (p - self.shift) / self.scale
                    return self.linear(p) + self.mlp(p)

            tm = TorchSurrogate()
            to = torch.optim.AdamW(tm.parameters(), lr=3e-3, weight_decay=1e-4)
            tx, ty = torch.from_numpy(xn), torch.from_numpy(yn)

            def torch_step():
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    loss = torch.nn.functional.mse_loss(tm(tx).float(), ty)
                to.zero_grad()
                loss.backward()
                to.step()
            r["peer"] = 1.0 / timeit(torch_step, args.repeats, min_time=0.2, warmup=3)
            r["ratio"] = r["hyflow"] / r["peer"]
        rows.append(r)
    return rows


def main():
    parts = {"gemm": gemm_rows, "fp16": fp16_gemm_rows, "elementwise": elementwise_rows, "mlp": mlp_rows,
             "surrogate": surrogate_rows}
    args = parse_args(__doc__, extra=lambda ap: ap.add_argument(
        "--only", default=",".join(parts), help=f"comma-separated parts to run, of {','.join(parts)}"))
    setup_threads(args.threads)
    torch = optional_torch()
    rows = []
    for part in args.only.split(","):
        if part not in parts:
            raise SystemExit(f"--only: unknown part '{part}' (known: {', '.join(parts)})")
        rows += parts[part](args, torch)
    info = hy.build_info()
    notes = ["GEMM rows: 'hyflow' = bf16 matmul, 'oneDNN' = the same on oneDNN (HYFLOW_LOWP_GEMM=onednn), "
             "'fallback' = the float32 path (HYFLOW_LOWP_GEMM=fallback), 'torch' = torch.matmul bf16",
             "MLP and surrogate rows: 'hyflow' = hy.autocast(bfloat16) step, 'fallback' = hyflow float32 step, "
             "'torch' = torch.autocast('cpu', bfloat16) step; 'vs fp32' = autocast speed-up over hyflow float32",
             "fp16 GEMM row: 'hyflow' = fp16 matmul (float32 path), 'fallback' = hyflow float32 matmul, "
             "'torch' = torch.matmul fp16",
             "bf16 elementwise/reduction rows: 'hyflow' = bf16 in and out, 'fallback' = the same op on float32 "
             "tensors, 'torch' = torch bf16; 'vs fp32' > 1 means bf16 is faster than hyflow float32",
             "'hyflow vs torch' > 1 means hyflow is faster",
             f"low-precision GEMM: {info['lowp_gemm_kernel']} (library: {info['lowp_gemm']}, "
             f"{info['lowp_gemm_isa']}); CPU: {info['cpu_lowp_features']}; load {open('/proc/loadavg').read().split()[:3]}",
             f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r} (unset it for this benchmark, see docstring)"]
    report("amp", rows,
           [("case", "case", None), ("unit", "unit", None), ("hyflow", "hyflow", "{:.1f}"),
            ("onednn", "oneDNN", "{:.1f}"), ("fallback", "fallback/fp32", "{:.1f}"), ("peer", "torch", "{:.1f}"),
            ("ratio", "hyflow vs torch", "{:.2f}x"), ("vs_fp32", "vs fp32", "{:.2f}x")],
           args, notes=notes)


if __name__ == "__main__":
    main()
