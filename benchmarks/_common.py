"""Shared benchmark plumbing: timing with warm-up and repeats, ratio tables, JSON output.

Every benchmark measures hyflow and its peers in the same process, so the ratios compare figures taken
under the same machine load (this machine is shared and noisy: see ../shared/machine.md).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time


def parse_args(description, extra=None):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)),
                    help="threads for hyflow and its peers (one pool each, same size)")
    ap.add_argument("--repeats", type=int, default=7, help="timed repetitions; the median is reported")
    ap.add_argument("--json", default=None, help="write results here (default benchmarks/results/<name>.json)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes/fewer repeats (smoke run)")
    if extra:
        extra(ap)
    return ap.parse_args()


def timeit(fn, repeats=7, min_time=0.05, warmup=2):
    """Median seconds per call of fn(), calling it enough times per repeat to last min_time."""
    for _ in range(warmup):
        fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time or n >= 1 << 20:
            break
        n *= 2
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def setup_threads(n):
    """One pool per library, all of size n, so no library oversubscribes the cores."""
    import hyflow as hy
    hy.set_num_threads(n)
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        pass


def optional_torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


def report(name, rows, columns, args, notes=(), meta=None):
    """Print a table (rows: dicts) and write JSON. `columns` lists (key, header, format); `meta` adds to the
    JSON's meta (e.g. the device)."""
    widths = [max(len(h), 12) for _, h, _ in columns]
    line = "  ".join(h.rjust(w) for (_, h, _), w in zip(columns, widths))
    print(f"\n== {name} ==")
    print(line)
    print("-" * len(line))
    for r in rows:
        cells = []
        for (k, _, fmt), w in zip(columns, widths):
            v = r.get(k)
            cells.append(("-" if v is None else (fmt.format(v) if fmt else str(v))).rjust(w))
        print("  ".join(cells))
    for n in notes:
        print("note:", n)
    out = args.json or os.path.join(os.path.dirname(__file__), "results", f"{name}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    meta = {"python": sys.version.split()[0], "machine": platform.machine(), "threads": args.threads,
            "env_OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"), **(meta or {})}
    with open(out, "w") as f:
        json.dump({"benchmark": name, "meta": meta, "rows": rows, "notes": list(notes)}, f, indent=2)
    print(f"(wrote {out})")
