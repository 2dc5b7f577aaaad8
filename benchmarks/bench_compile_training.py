"""A compiled training step: hy.compile(model) (forward and backward compiled) vs eager hyflow vs torch eager
vs torch.compile, same process, same thread count.

Case: MLP 784-512-512-10, batch 128, float32; one step = forward + cross-entropy + backward + SGD(momentum)
step. The model is compiled (its forward and its compiled backward: one autograd node); cross-entropy and
the optimizer step run eagerly around it in every variant (hyflow's cross_entropy checks its targets'
values in Python, a graph break). torch.compile is measured when it works on this machine (it needs a C++
toolchain; its first call's compile time is reported). Also: the gradient of the climate example's
shallow-water step (a differentiable-physics step: rolls, stencils, long elementwise chains), and the
per-call guard cost. Ratios > 1 mean the compiled hyflow step is faster. The MLP step is also measured
in CPU time of one thread (hyflow eager, compiled, torch eager), which a loaded machine disturbs far less
than wall time.
    python benchmarks/bench_compile_training.py [--threads 2] [--repeats 5] [--quick] [--no-torch-compile]
"""
import os
import sys
import tempfile
import time

import numpy as np

from _common import optional_torch, parse_args, report, setup_threads, timeit

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F
import hyflow.optim as optim


def mlp(lib):
    return lib.Sequential(lib.Linear(784, 512), lib.ReLU(), lib.Linear(512, 512), lib.ReLU(), lib.Linear(512, 10))


def make_step(model, opt, x, y, ce):
    def step():
        loss = ce(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def cpu_time_per_call(fn, repeats, calls=20):
    """Median CPU seconds of the calling thread per call of fn(). With one thread every library runs its
    kernels on the caller, so this counts the whole step's work, and other users' processes on a loaded
    machine (which stretch wall time by the scheduler's share) mostly drop out of it."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(calls):
            fn()
        samples.append((time.thread_time() - t0) / calls)
    return sorted(samples)[len(samples) // 2]


def first_call(step):
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def main():
    args = parse_args(__doc__, extra=lambda ap: ap.add_argument("--no-torch-compile", action="store_true",
                                                                 help="skip torch.compile (slow to compile)"))
    # Cold compiles for both compilers: empty disk caches (hyflow's kernels, inductor's FX/C++ caches).
    os.environ["HYFLOW_CACHE_DIR"] = tempfile.mkdtemp(prefix="hyflow-bench-cache-")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-bench-cache-")
    setup_threads(args.threads)
    torch = optional_torch()
    rng = np.random.default_rng(0)
    batch = 32 if args.quick else 128
    xn = rng.standard_normal((batch, 784)).astype(np.float32)
    yn = rng.integers(0, 10, batch)
    x, y = hy.tensor(xn), hy.tensor(yn)
    rows, notes = [], []

    hy.manual_seed(0)
    eager = mlp(nn)
    model = mlp(nn)
    model.load_state_dict(eager.state_dict())
    compiled = hy.compile(model)
    eager_step = make_step(eager, optim.SGD(eager.parameters(), lr=1e-2, momentum=0.9), x, y, F.cross_entropy)
    comp_step = make_step(compiled, optim.SGD(compiled.parameters(), lr=1e-2, momentum=0.9), x, y, F.cross_entropy)
    t_first = first_call(comp_step)
    entry = compiled._compiled.entries()[0]
    assert entry.autograd is not None, entry.backward_note
    kernels = len(entry.autograd.kernels.kernels) + len(entry.autograd.backward_kernels.kernels)
    comp_step()
    # Same weights, same data, same steps: the compiled step agrees with eager within float32 round-off.
    eager_step(), eager_step()
    for pe, pc in zip(eager.parameters(), model.parameters()):
        assert np.allclose(pe.detach().numpy(), pc.detach().numpy(), rtol=1e-4, atol=1e-5)

    t_eager = timeit(eager_step, args.repeats, min_time=0.2)
    t_comp = timeit(comp_step, args.repeats, min_time=0.2)
    r = {"case": f"MLP 784-512-512-10 b{batch} train step", "unit": "ms", "compiled": t_comp * 1e3,
         "eager": t_eager * 1e3, "eager/compiled": t_eager / t_comp,
         "detail": f"{kernels} native kernels (fwd+bwd); first call {t_first * 1e3:.0f} ms "
                   f"(trace + backward trace + codegen)"}
    if torch:
        tm = mlp(torch.nn)
        with torch.no_grad():
            for pt, ph in zip(tm.parameters(), eager.parameters()):
                pt.copy_(torch.from_numpy(ph.detach().numpy()))
        tx, ty = torch.from_numpy(xn), torch.from_numpy(yn)
        t_step = make_step(tm, torch.optim.SGD(tm.parameters(), lr=1e-2, momentum=0.9), tx, ty,
                           torch.nn.functional.cross_entropy)
        r["torch"] = timeit(t_step, args.repeats, min_time=0.2) * 1e3
        r["torch/compiled"] = r["torch"] / r["compiled"]
        if not args.no_torch_compile:
            tc = mlp(torch.nn)
            tc.load_state_dict(tm.state_dict())
            try:
                tcc = torch.compile(tc)
                tc_step = make_step(tcc, torch.optim.SGD(tc.parameters(), lr=1e-2, momentum=0.9), tx, ty,
                                    torch.nn.functional.cross_entropy)
                t_tc_first = first_call(tc_step)
                r["torch.compile"] = timeit(tc_step, args.repeats, min_time=0.2) * 1e3
                r["torch.compile/compiled"] = r["torch.compile"] / r["compiled"]
                notes.append(f"torch.compile first call (compile) {t_tc_first:.1f} s vs hy.compile "
                             f"{t_first:.2f} s")
            except Exception as e:  # noqa: BLE001 - report why torch.compile does not work here
                notes.append(f"torch.compile failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
    rows.append(r)
    # The same steps in CPU time of one thread (see cpu_time_per_call): robust to the machine's load.
    setup_threads(1)
    c = {"case": f"MLP 784-512-512-10 b{batch} train step, CPU time, 1 thread", "unit": "ms",
         "compiled": cpu_time_per_call(comp_step, args.repeats) * 1e3,
         "eager": cpu_time_per_call(eager_step, args.repeats) * 1e3, "detail": "time.thread_time per step"}
    c["eager/compiled"] = c["eager"] / c["compiled"]
    if torch:
        c["torch"] = cpu_time_per_call(t_step, args.repeats) * 1e3
        c["torch/compiled"] = c["torch"] / c["compiled"]
    rows.append(c)
    setup_threads(args.threads)

    # ---- a differentiable-physics step: the climate example's shallow-water step, forward + backward --
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples", "climate"))
    import shallow_water as sw
    size = 64 if args.quick else 128
    params = sw.Params(nx=size, ny=size)
    state = sw.initial_state(params, seed=0)
    params = sw.with_stable_dt(params, state)

    def energy_after_step(h, u, v):
        out = sw.step(sw.State(h, u, v, 0.0), params)
        return out.h.square().sum() + out.u.square().sum() + out.v.square().sum()

    fields = [t.detach().clone().requires_grad_() for t in state.fields()]

    def grad_step(f):
        def run():
            f(*fields).backward()
        return run

    cstep = hy.compile(energy_after_step)
    t_first = first_call(grad_step(cstep))
    sentry = cstep.entries()[0]
    assert sentry.autograd is not None, sentry.backward_note
    t_eager = timeit(grad_step(energy_after_step), args.repeats)
    t_comp = timeit(grad_step(cstep), args.repeats)
    rows.append({"case": f"climate step {size}x{size} gradient (f64)", "unit": "ms", "compiled": t_comp * 1e3,
                 "eager": t_eager * 1e3, "eager/compiled": t_eager / t_comp,
                 "detail": f"{len(sentry.autograd.kernels.kernels)} fwd + {len(sentry.autograd.backward_kernels.kernels)} "
                           f"bwd kernels, {len(sentry.autograd.saved_plan)} saved values; first call {t_first * 1e3:.0f} ms"})

    # ---- per-call overhead: the guard check of the compiled module call ------------------------------
    key = hy.compiler.guards.call_key
    state = compiled._compiled._guard_extra
    rows.append({"case": "guard check per call (module call: 1 tensor + module state)", "unit": "us",
                 "compiled": timeit(lambda: (key((x,), {}), state()), args.repeats) * 1e6,
                 "detail": "call signature + module state (C++)"})
    a, b, c = hy.rand(4, 4), hy.rand(4, 4), hy.rand(4, 4)
    rows.append({"case": "guard check per call (3 tensors)", "unit": "us",
                 "compiled": timeit(lambda: hy.compiler.guards.signature((a, b, c), {}), args.repeats) * 1e6,
                 "eager": timeit(lambda: hy.compiler.guards.signature_py((a, b, c), {}), args.repeats) * 1e6,
                 "detail": "as bench_compile.py measures it; 'eager' column: the Python reference"})
    notes.append("shared, noisy 2-core machine: compare only figures of one run")
    notes.append(f"threads={args.threads}")
    report("bench_compile_training", rows,
           [("case", "case", None), ("unit", "unit", None), ("compiled", "hy.compile", "{:.3f}"),
            ("eager", "eager hyflow", "{:.3f}"), ("eager/compiled", "eager/compiled", "{:.2f}"),
            ("torch", "torch eager", "{:.3f}"), ("torch/compiled", "torch/compiled", "{:.2f}"),
            ("torch.compile", "torch.compile", "{:.3f}"), ("torch.compile/compiled", "tc/compiled", "{:.2f}"),
            ("detail", "detail", None)],
           args, notes)


if __name__ == "__main__":
    main()
