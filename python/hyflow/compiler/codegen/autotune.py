"""``mode="max-autotune"``: measure the launch parameters that matter, once per (kernel, size class,
machine), and keep the choice on disk next to the kernels.

What is tuned: the launch *grain* of each generated kernel — the work items (elements for elementwise
loops, rows for row and stencil kernels) below which a launch runs on the calling thread, i.e. whether
and how finely it is split over the pool. The default mode uses the heuristic grain (32K elements, or
32K elements' worth of rows), which is right for large tensors; for mid-sized ones, running inline, or
splitting earlier, can win, and only a measurement on the machine tells. Loop order and vector width are
fixed by the generated source (GCC vectorizes the innermost loop) and not tuned.

How: the first call that runs a kernel in max-autotune mode times it with each candidate grain on that
call's real operands (kernels are pure: inputs are only read, outputs are freshly allocated, so repeated
runs are harmless), best of a few runs, and keeps the fastest. The choice is written to
``<module key>.tune.json`` beside the module's ``.so`` in the compiler cache (atomic write: a complete
file or the old one), keyed by kernel, size class (the bit length of the work-item count) and thread
count; the module key already covers the source, compiler, flags and CPU capability. A later process
finds it and does not measure again. A file that does not parse, or an entry that is not a positive
integer, is ignored and measured again (validated on load); a file another process wrote meanwhile is
merged, not overwritten blindly.
"""
import json
import os
import time

from ... import _C
from ..._atomic import atomic_write
from .._log import log

__all__ = ["choose_grain", "measurements", "tune_path"]

#: How many kernel measurements this process made (tests read it: a cached choice measures nothing).
measurements = 0

_REPEATS = 3


def tune_path(module_path):
    return os.path.splitext(module_path)[0] + ".tune.json"


def _load(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _candidates(work, default):
    threads = max(1, _C.get_num_threads())
    grains = {default, work + 1,                     # the heuristic; one chunk on the calling thread
              max(1, work // threads),               # exactly one chunk per thread
              max(1, default // 4), default * 4}
    return sorted(g for g in grains if g >= 1)


def _time(kernel, tensors, meta):
    best = float("inf")
    for _ in range(_REPEATS):
        t0 = time.perf_counter()
        if meta is None:
            kernel.run(tensors)
        else:
            kernel.run_with_meta(tensors, meta)
        best = min(best, time.perf_counter() - t0)
    return best


def choose_grain(module_path, name, work, default, make_kernel, tensors, meta):
    """The grain for kernel ``name`` doing ``work`` items on this machine: from the tune file when it has
    a valid entry, else measured over the candidates (``make_kernel(grain)`` builds a launcher) and
    stored. ``tensors``/``meta``: this call's operands and run-time sizes."""
    global measurements
    path = tune_path(module_path)
    key = f"{name}/work~2^{int(work).bit_length()}/threads={_C.get_num_threads()}"
    entry = _load(path).get(key)
    if isinstance(entry, dict) and isinstance(entry.get("grain"), int) and entry["grain"] >= 1:
        return entry["grain"]
    timings = {}
    for g in _candidates(work, default):
        k = make_kernel(g)
        _time(k, tensors, meta)                   # warm-up (page faults, caches)
        timings[g] = _time(k, tensors, meta)
        measurements += 1
    grain = min(timings, key=timings.get)
    data = _load(path)                            # merge what other processes wrote meanwhile
    data[key] = {"grain": grain, "work": int(work), "default": default,
                 "seconds": {str(g): t for g, t in timings.items()}}
    try:
        atomic_write(path, [json.dumps(data, indent=1, sort_keys=True).encode()])
    except OSError as e:
        log(f"autotune: could not write {path}: {e}")
    log(f"autotune: {name} over {work} items: grain {grain} "
        f"({', '.join(f'{g}: {t * 1e6:.0f} us' for g, t in sorted(timings.items()))})")
    return grain
