"""hy.compile with native code generation: compile times, guard cost, a fused 8-op chain, the climate step.

Cases (ratios > 1 mean the compiled code is faster):
  * cold compile of a 10-op elementwise graph (empty disk cache: trace + passes + C++ compile + dlopen);
  * cached reuse (a new compiled function, the library found in the disk cache: what a second process pays);
  * guard check per call (the signature of a 3-tensor call);
  * an 8-op elementwise chain on 16M float32: compiled vs eager hyflow vs torch eager, and GB/s for the bytes
    it must move (read x and y, write the result) vs the machine's STREAM triad (../shared/machine.md);
  * softmax and layer norm over rows written with ordinary ops (4096 x 1024 float32): compiled (one row
    kernel each) vs the same ops eager, vs hy.softmax / F.layer_norm (one eager kernel), vs torch eager;
  * a full reduction fused with its producers (an MSE loss over 16M float32), the softmax op fused with a
    scale and the layer_norm op fused with a residual add (4096 x 1024), and the MLP 784-512-512-10
    forward at batch 128 with GEMM epilogues (no grad), compiled vs eager vs torch eager;
  * the climate example's shallow-water step (examples/climate) at 256x256, compiled vs eager;
  * a varying-batch workload (a normalize-and-activate row function over 8 batch sizes): compiles counted
    with symbolic sizes (dynamic=None: the second size compiles symbolically) and with dynamic=False, the
    first pass over the sizes (compiles included) and a later pass, vs eager;
  * tiny graphs (x + y on 1 element, a 16x8 two-layer MLP forward): the compiled function under the default
    "measured" fallback policy (after its verdict) vs eager vs the compiled code forced ("never").
    python benchmarks/bench_compile.py [--threads 2] [--quick]
"""
import os
import statistics
import sys
import tempfile
import time

from _common import optional_torch, parse_args, report, setup_threads, timeit

import hyflow as hy
from hyflow.compiler.codegen import toolchain
from hyflow.compiler.guards import signature

STREAM_GBS = {1: 40.0, 2: 75.0}  # STREAM triad, plain stores (../shared/machine.md)


def ten_ops(k):
    def f(x, y):
        a = x * y + (1.0 + k * 1e-6)      # a distinct constant per call: a distinct source, a cold compile
        b = hy.relu(a - y).clamp(-2.0, 2.0)
        c = hy.where(b > 0.5, b * x, y - b)
        return hy.maximum(c, x)
    return f


def chain8(x, y):
    a = x * y + 1.0
    b = (a - y).abs()
    c = hy.relu(b - 0.5).clamp(0.0, 4.0)
    return c * 0.25 + x


def softmax_rows(x):
    m = x.amax(-1, keepdim=True)
    e = (x - m).exp()
    return e / e.sum(-1, keepdim=True)


def layer_norm_rows(x, w, b):
    # composed of ordinary ops, as softmax_rows (the layer_norm op is timed beside it)
    mu = x.mean(-1, keepdim=True)
    xc = x - mu
    return xc * ((xc * xc).mean(-1, keepdim=True) + 1e-5).rsqrt() * w + b


def residual_layer_norm(x, r, w, b):
    # the transformer's add & norm: the layer_norm op expanded into one row loop with the residual add
    return hy.nn.functional.layer_norm(x + r, (x.shape[-1],), w, b)


def first_call_seconds(fn, *args):
    cf = hy.compile(fn)
    t0 = time.perf_counter()
    cf(*args)
    return time.perf_counter() - t0, cf


def main():
    args = parse_args(__doc__)
    setup_threads(args.threads)
    torch = optional_torch()
    rows, notes = [], []
    cache_root = tempfile.mkdtemp(prefix="hyflow-bench-cache-")
    os.environ["HYFLOW_CACHE_DIR"] = cache_root

    # ---- compile times --------------------------------------------------------------------------------
    x, y = hy.rand(1024), hy.rand(1024)
    cold, codegen_only = [], []
    for k in range(3 if args.quick else 5):
        seconds, cf = first_call_seconds(ten_ops(k), x, y)
        gk = cf.entries()[0].kernels
        assert gk.cache == "miss" and gk.error is None, (gk.cache, gk.error)
        assert len(cf.entries()[0].graph.nodes) == 10
        cold.append(seconds)
        codegen_only.append(gk.seconds)
    rows.append({"case": "cold compile, 10-op elementwise graph", "unit": "ms",
                 "compiled": statistics.median(cold) * 1e3, "detail": f"codegen {statistics.median(codegen_only) * 1e3:.0f} ms"})
    reuse = []
    for _ in range(5):
        toolchain._loaded.clear()   # as a new process: the library comes from the disk cache
        seconds, cf = first_call_seconds(ten_ops(0), x, y)
        assert cf.entries()[0].kernels.cache == "hit"
        reuse.append(seconds)
    rows.append({"case": "cached reuse (disk cache hit, new function)", "unit": "ms",
                 "compiled": statistics.median(reuse) * 1e3, "detail": "trace + passes + load"})
    a, b, c = hy.rand(4, 4), hy.rand(4, 4), hy.rand(4, 4)
    rows.append({"case": "guard check per call (3 tensors)", "unit": "us",
                 "compiled": timeit(lambda: signature((a, b, c), {}), args.repeats) * 1e6})

    # ---- fused 8-op chain on 16M float32 ------------------------------------------------------------
    n = (1 << 20) if args.quick else (16 << 20)
    x, y = hy.rand(n), hy.rand(n)
    cchain = hy.compile(chain8)
    cchain(x, y)
    assert cchain.entries()[0].kernels.kernels, cchain.entries()[0].kernels.report()
    ref, got = chain8(x, y), cchain(x, y)
    assert bool(((ref - got).abs().max() == 0).item())
    t_eager = timeit(lambda: chain8(x, y), args.repeats)
    t_comp = timeit(lambda: cchain(x, y), args.repeats)
    gb = 3 * n * 4 / 1e9
    r = {"case": "8-op chain, 16M f32", "unit": "ms", "compiled": t_comp * 1e3, "eager": t_eager * 1e3,
         "eager/compiled": t_eager / t_comp, "GB/s": gb / t_comp}
    stream = STREAM_GBS.get(args.threads)
    if stream:
        r["of STREAM"] = gb / t_comp / stream
    if torch:
        tx, ty = torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy())

        def tchain():
            a_ = tx * ty + 1.0
            b_ = (a_ - ty).abs()
            c_ = torch.relu(b_ - 0.5).clamp(0.0, 4.0)
            return c_ * 0.25 + tx
        r["torch"] = timeit(tchain, args.repeats) * 1e3
        r["torch/compiled"] = r["torch"] / r["compiled"]
    rows.append(r)

    # ---- row reductions: softmax and layer norm --------------------------------------------------------
    rows_n, cols_n = (256, 1024) if args.quick else (4096, 1024)
    x = hy.randn(rows_n, cols_n)
    w, b = hy.randn(cols_n), hy.randn(cols_n)
    xt = wt = bt = None
    if torch is not None:
        xt, wt, bt = (torch.from_numpy(t.numpy()) for t in (x, w, b))
    for name, fn, fargs, tfn, extra in (
            ("softmax rows", softmax_rows, (x,), lambda: torch.softmax(xt, -1),
             ("hy.softmax (one eager kernel)", lambda: hy.softmax(x, -1))),
            ("layer norm rows", layer_norm_rows, (x, w, b),
             lambda: torch.nn.functional.layer_norm(xt, (cols_n,), wt, bt),
             ("F.layer_norm (one eager kernel)", lambda: hy.nn.functional.layer_norm(x, (cols_n,), w, b)))):
        cfn = hy.compile(fn)
        cfn(*fargs)
        gk = cfn.entries()[0].kernels
        assert any(p.kind == "row-reduction" and id(p) in gk.kernels for p in gk.plans), gk.report()
        t_eager = timeit(lambda: fn(*fargs), args.repeats)
        t_comp = timeit(lambda: cfn(*fargs), args.repeats)
        r = {"case": f"{name} {rows_n}x{cols_n} f32", "unit": "ms", "compiled": t_comp * 1e3,
             "eager": t_eager * 1e3, "eager/compiled": t_eager / t_comp,
             "detail": "composed ops; " + ", ".join(" -> ".join(p.ops) for p in gk.plans if id(p) in gk.kernels)}
        if extra is not None:
            r["detail"] += f"; {extra[0]}: {timeit(extra[1], args.repeats) * 1e3:.3f} ms"
        if torch is not None:
            r["torch"] = timeit(tfn, args.repeats) * 1e3
            r["torch/compiled"] = r["torch"] / r["compiled"]
        rows.append(r)

    # ---- issue 9 slice 6: full reduction, softmax op fused with a scale, MLP forward with epilogues ---
    n = (1 << 20) if args.quick else (16 << 20)
    a_, b_ = hy.randn(n), hy.randn(n)
    x = hy.randn(rows_n, cols_n)
    r_ = hy.randn(rows_n, cols_n)
    hy.manual_seed(0)
    mlp = hy.nn.Sequential(hy.nn.Linear(784, 512), hy.nn.ReLU(), hy.nn.Linear(512, 512), hy.nn.ReLU(),
                           hy.nn.Linear(512, 10))
    xm = hy.randn(128, 784)
    tm = None
    if torch is not None:
        ta, tb, txs, trs, txm = (torch.from_numpy(t.numpy()) for t in (a_, b_, x, r_, xm))
        tm = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                 torch.nn.ReLU(), torch.nn.Linear(512, 10))
        with torch.no_grad():
            for pt, ph in zip(tm.parameters(), mlp.parameters()):
                pt.copy_(torch.from_numpy(ph.detach().numpy()))
    for name, fn, fargs, kind, tfn in (
            (f"mse loss ((a-b)**2).mean(), {n >> 20}M f32", lambda p, q: ((p - q) ** 2).mean(), (a_, b_),
             "full-reduction", lambda: ((ta - tb) ** 2).mean()),
            (f"softmax(x * 0.125) op {rows_n}x{cols_n} f32", lambda t: hy.softmax(t * 0.125, -1), (x,),
             "row-reduction", lambda: torch.softmax(txs * 0.125, -1)),
            (f"layer_norm(x + r) op {rows_n}x{cols_n} f32", residual_layer_norm, (x, r_, w, b), "row-reduction",
             lambda: torch.nn.functional.layer_norm(txs + trs, (cols_n,), wt, bt)),
            ("MLP 784-512-512-10 b128 forward (no grad)", lambda t: mlp(t), (xm,), "gemm-epilogue",
             lambda: tm(txm))):
        with hy.no_grad():
            cfn = hy.compile(fn)
            cfn(*fargs)
            gk = cfn.entries()[0].kernels
            assert any(p.kind == kind and id(p) in gk.kernels for p in gk.plans), gk.report()
            t_eager = timeit(lambda: fn(*fargs), args.repeats)
            t_comp = timeit(lambda: cfn(*fargs), args.repeats)
        r = {"case": name, "unit": "ms", "compiled": t_comp * 1e3, "eager": t_eager * 1e3,
             "eager/compiled": t_eager / t_comp,
             "detail": "; ".join(f"{p.kind}: " + " -> ".join(p.ops) for p in gk.plans if id(p) in gk.kernels)}
        if torch is not None:
            with torch.no_grad():
                r["torch"] = timeit(tfn, args.repeats) * 1e3
            r["torch/compiled"] = r["torch"] / r["compiled"]
        rows.append(r)

    # ---- climate solver step -----------------------------------------------------------------------
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples", "climate"))
    import shallow_water as sw
    size = 64 if args.quick else 256
    params = sw.Params(nx=size, ny=size)
    state = sw.initial_state(params, seed=0)
    params = sw.with_stable_dt(params, state)

    def step(h, u, v):
        return sw.step(sw.State(h, u, v, 0.0), params).fields()

    cstep = hy.compile(step)
    fields = state.fields()
    t0 = time.perf_counter()
    cstep(*fields)
    t_first = time.perf_counter() - t0
    gk = cstep.entries()[0].kernels
    compiled_nodes = sum(len(p.nodes) for p, _ in gk.kernels.values())
    t_eager = timeit(lambda: step(*fields), args.repeats)
    t_comp = timeit(lambda: cstep(*fields), args.repeats)
    rows.append({"case": f"climate step {size}x{size} (f64)", "unit": "ms", "compiled": t_comp * 1e3,
                 "eager": t_eager * 1e3, "eager/compiled": t_eager / t_comp,
                 "detail": f"{len(gk.kernels)} kernels / {compiled_nodes} of {len(cstep.entries()[0].graph.nodes)} "
                           f"nodes; first call {t_first * 1e3:.0f} ms"})
    # ---- varying batch: symbolic sizes ----------------------------------------------------------------
    cols = 512
    batches = [37, 64, 100, 128, 250, 333, 512, 1000] if not args.quick else [7, 16, 33, 64]
    xs = [hy.randn(bn, cols) for bn in batches]
    wv = hy.randn(cols)

    def varying(x, w):
        m = x.mean(-1, keepdim=True)
        d = x - m
        v = (d * d).mean(-1, keepdim=True)
        y = d / (v + 1e-5).sqrt() * w
        return hy.relu(y) * 0.5 + y.clamp(-1.0, 1.0)

    def one_pass(f):
        for xb in xs:
            f(xb, wv)
    dyn, static = hy.compile(varying), hy.compile(varying, dynamic=False)
    firsts = {}
    for name, cf in (("dynamic", dyn), ("static", static)):
        t0 = time.perf_counter()
        one_pass(cf)
        firsts[name] = time.perf_counter() - t0
    for xb in xs:
        assert bool(((dyn(xb, wv) - varying(xb, wv)).abs().max() < 1e-4).item())
    t_eager = timeit(lambda: one_pass(varying), args.repeats)
    t_comp = timeit(lambda: one_pass(dyn), args.repeats)
    rows.append({"case": f"varying batch ({len(batches)} sizes) x {cols} f32, one pass", "unit": "ms",
                 "compiled": t_comp * 1e3, "eager": t_eager * 1e3, "eager/compiled": t_eager / t_comp,
                 "detail": f"compiles: {dyn.compiles} symbolic (dynamic=None) vs {static.compiles} with "
                           f"dynamic=False; first pass {firsts['dynamic'] * 1e3:.0f} ms vs "
                           f"{firsts['static'] * 1e3:.0f} ms"})
    # ---- tiny graphs: never slower than eager (the "measured" fallback policy) -------------------------
    a1, b1 = hy.rand(1), hy.rand(1)
    w1, w2 = hy.randn(8, 8), hy.randn(8, 8)

    def tiny_add(x, y):
        return x + y

    def mlp8(x):
        return ((x @ w1).tanh() @ w2).tanh()

    for name, fn, fargs in (("x + y, 1-element f32", tiny_add, (a1, b1)),
                            ("2-layer tanh MLP 16x8 forward", mlp8, (hy.randn(16, 8),))):
        measured = hy.compile(fn)
        for _ in range(12):                     # trace, warm-up, 4 + 4 timed runs: the verdict
            measured(*fargs)
        before = hy.compiler.fallback_policy
        hy.compiler.set_fallback_policy("never")
        forced = hy.compile(fn)
        forced(*fargs)
        hy.compiler.set_fallback_policy(before)
        t_eager = timeit(lambda: fn(*fargs), args.repeats)
        t_comp = timeit(lambda: measured(*fargs), args.repeats)
        t_forced = timeit(lambda: forced(*fargs), args.repeats)
        verdict = measured.entries()[0].measured or "not measured"
        rows.append({"case": f"{name} (per call)", "unit": "us", "compiled": t_comp * 1e6, "eager": t_eager * 1e6,
                     "eager/compiled": t_eager / t_comp,
                     "detail": f"always-compiled {t_forced * 1e6:.2f} us; verdict: {verdict.split(':')[0]}"})
    notes.append("shared, noisy 2-core machine: compare only figures of one run")
    notes.append(f"threads={args.threads}; STREAM triad {stream} GB/s (machine.md) for the of-STREAM column")
    report("bench_compile", rows,
           [("case", "case", None), ("unit", "unit", None), ("compiled", "compiled", "{:.3f}"),
            ("eager", "eager hyflow", "{:.3f}"), ("eager/compiled", "eager/compiled", "{:.2f}"),
            ("torch", "torch eager", "{:.3f}"), ("torch/compiled", "torch/compiled", "{:.2f}"),
            ("GB/s", "GB/s", "{:.1f}"), ("of STREAM", "of STREAM", "{:.0%}"), ("detail", "detail", None)],
           args, notes)


if __name__ == "__main__":
    main()
