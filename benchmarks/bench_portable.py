"""Portable build vs native: the elementwise, reduction and GEMM cases of bench_elementwise/reduce/gemm.

Three configurations, each in its own subprocess (the CPU variant is chosen once, at import):
  portable   the default build (x86-64-v2 baseline) running its best CPU variant
  baseline   the same build with HYFLOW_CPU_CAPABILITY=default: only the baseline kernels
  native     a HYFLOW_NATIVE=ON build (-march=native everywhere), loaded with HYFLOW_BUILD_DIR
Ratios > 1 mean faster than native. The configurations run in turns (--rounds), and each case keeps
its best round, so a burst of load from other users hits all three alike.

    cmake -S . -B build/native -G Ninja -DHYFLOW_NATIVE=ON -DCMAKE_BUILD_TYPE=Release && ninja -C build/native
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python benchmarks/bench_portable.py --native-build-dir build/native/pkg --threads 2
The portable build is the installed hyflow, or the one HYFLOW_BUILD_DIR names.
"""
import json
import os
import subprocess
import sys
import tempfile

from _common import parse_args, report, setup_threads, timeit


def cases(quick):
    """(family, case, unit, work, fn): work / seconds is the figure (GB/s, GFLOP/s); unit us/op: time."""
    import hyflow as hy
    out = []
    a, b = hy.ones(1), hy.ones(1)
    out.append(("elementwise", "a + b, 1 element", "us/op", None, lambda: a + b))
    n = (1 << 20) if quick else (16 << 20)
    x, y, o = hy.rand(n), hy.rand(n), hy.empty(n)
    gb3, gb2 = 3 * n * 4 / 1e9, 2 * n * 4 / 1e9
    out += [("elementwise", "add 16M f32 (new output)", "GB/s", gb3, lambda: x + y),
            ("elementwise", "add 16M f32 (out=)", "GB/s", gb3, lambda: hy.add(x, y, out=o)),
            ("elementwise", "mul 16M f32", "GB/s", gb3, lambda: x * y),
            ("elementwise", "exp 16M f32", "GB/s", gb2, lambda: hy.exp(x)),
            ("elementwise", "tanh 16M f32", "GB/s", gb2, lambda: hy.tanh(x)),
            ("elementwise", "sigmoid 16M f32", "GB/s", gb2, lambda: hy.sigmoid(x))]
    m = 1024 if quick else 4096
    z = hy.rand(m, m)
    gb = m * m * 4 / 1e9
    out += [("reduction", f"sum all {m}x{m} f32", "GB/s", gb, lambda: z.sum()),
            ("reduction", f"sum dim=1 {m}x{m} f32", "GB/s", gb, lambda: z.sum(dim=1)),
            ("reduction", f"sum dim=0 {m}x{m} f32", "GB/s", gb, lambda: z.sum(dim=0)),
            ("reduction", f"amax dim=1 {m}x{m} f32", "GB/s", gb, lambda: z.amax(dim=1)),
            ("reduction", f"var dim=1 {m}x{m} f32", "GB/s", gb, lambda: z.var(dim=1)),
            ("reduction", f"softmax dim=1 {m}x{m} f32", "GB/s", gb, lambda: hy.softmax(z, 1))]
    for dt in ("float32", "float64"):
        for k in ([128, 512] if quick else [128, 512, 1024, 2048]):
            p, q = hy.rand(k, k, dtype=getattr(hy, dt)), hy.rand(k, k, dtype=getattr(hy, dt))
            out.append(("gemm", f"matmul {dt} N={k}", "GFLOP/s", 2.0 * k ** 3 / 1e9,
                        (lambda p, q: lambda: p @ q)(p, q)))
    return out


def worker(args):
    """Subprocess side: time every case in this process's configuration, write JSON to args.worker."""
    import hyflow as hy
    setup_threads(args.threads)
    rows = {}
    for family, case, unit, work, fn in cases(args.quick):
        if family not in args.families.split(","):
            continue
        t = timeit(fn, args.repeats)
        rows[case] = {"family": family, "unit": unit, "value": t * 1e6 if work is None else work / t}
    info = hy.build_info()
    with open(args.worker, "w") as f:
        json.dump({"rows": rows, "cpu_capability": info["cpu_capability"], "cpu_baseline": info["cpu_baseline"],
                   "arch_flags": info["arch_flags"]}, f)


def run_config(args, build_dir, capability):
    env = dict(os.environ)
    env.pop("HYFLOW_CPU_CAPABILITY", None)
    if capability:
        env["HYFLOW_CPU_CAPABILITY"] = capability
    if build_dir:
        env["HYFLOW_BUILD_DIR"] = os.path.abspath(build_dir)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", path, "--threads", str(args.threads),
           "--repeats", str(args.repeats), "--families", args.families] + (["--quick"] if args.quick else [])
    subprocess.run(cmd, env=env, check=True, cwd=os.path.dirname(os.path.abspath(__file__)))
    with open(path) as f:
        data = json.load(f)
    os.unlink(path)
    return data


def better(unit, a, b):
    return min(a, b) if unit == "us/op" else max(a, b)


def main():
    def extra(ap):
        ap.add_argument("--native-build-dir", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                                    "native", "pkg"),
                        help="pkg/ folder of a HYFLOW_NATIVE=ON CMake build")
        ap.add_argument("--portable-build-dir", default=os.environ.get("HYFLOW_BUILD_DIR"),
                        help="pkg/ folder of the portable build (default: HYFLOW_BUILD_DIR, else the installed hyflow)")
        ap.add_argument("--rounds", type=int, default=3, help="turns over the three configurations")
        ap.add_argument("--families", default="elementwise,reduction,gemm",
                        help="comma-separated subset of elementwise, reduction, gemm")
        ap.add_argument("--worker", default=None, help=argparse_hidden())
    args = parse_args(__doc__, extra)
    if args.worker:
        return worker(args)
    if not os.path.isdir(args.native_build_dir):
        sys.exit(f"no native build at {args.native_build_dir}: build one with -DHYFLOW_NATIVE=ON (see the docstring)")
    configs = {"native": (args.native_build_dir, None), "portable": (args.portable_build_dir, None),
               "baseline": (args.portable_build_dir, "default")}
    best, meta = {}, {}
    for _ in range(args.rounds):
        for name, (build_dir, cap) in configs.items():
            data = run_config(args, build_dir, cap)
            meta[name] = {k: data[k] for k in ("cpu_capability", "cpu_baseline", "arch_flags")}
            for case, r in data["rows"].items():
                prev = best.setdefault(name, {}).get(case)
                best[name][case] = r if prev is None else dict(r, value=better(r["unit"], prev["value"], r["value"]))
    if meta["native"]["cpu_baseline"] != "native" or meta["portable"]["cpu_baseline"] == "native":
        sys.exit(f"wrong builds: native={meta['native']}, portable={meta['portable']}")
    rows = []
    for case, nat in best["native"].items():
        r = {"family": nat["family"], "case": case, "unit": nat["unit"], "native": nat["value"],
             "portable": best["portable"][case]["value"], "baseline": best["baseline"][case]["value"]}
        for k in ("portable", "baseline"):  # > 1: faster than native, whatever the unit
            r[k + "/native"] = (r["native"] / r[k]) if r["unit"] == "us/op" else (r[k] / r["native"])
        rows.append(r)
    notes = [f"{k}: cpu_capability={v['cpu_capability']}, baseline={v['cpu_baseline']}, flags={v['arch_flags']}"
             for k, v in meta.items()]
    notes.append("'X/native' > 1 means X is faster than the native build (time ratio for us/op, else throughput)")
    report("portable", rows,
           [("case", "case", None), ("unit", "unit", None), ("native", "native", "{:.2f}"),
            ("portable", "portable", "{:.2f}"), ("baseline", "baseline", "{:.2f}"),
            ("portable/native", "portable/native", "{:.2f}x"), ("baseline/native", "baseline/native", "{:.2f}x")],
           args, notes=notes)


def argparse_hidden():
    import argparse
    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
