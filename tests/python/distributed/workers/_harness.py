"""Shared by the worker scripts that the distributed tests launch under mpirun: deterministic per-rank
data (so every rank can compute every other rank's input and check results against NumPy), and a
check() that collects failures instead of stopping at the first one."""
import os
import sys
import traceback

import numpy as np

import hyflow as hy

DTYPES = ["bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
FLOATS = ("float16", "bfloat16", "float32", "float64")
RTOL = {"float16": 2e-3, "bfloat16": 1.6e-2, "float32": 1e-5, "float64": 1e-12}


def hy_dtype(name):
    return getattr(hy, name)


def round_to(arr, dtype):
    """The exact values `arr` takes in `dtype`, as NumPy (bfloat16 as float32)."""
    if dtype == "bfloat16":
        return hy.tensor(np.asarray(arr, np.float32)).to(hy.bfloat16).to(hy.float32).numpy()
    return np.asarray(arr).astype(dtype)


def gen(seed, shape, dtype, op="sum"):
    """Deterministic values for (seed, shape, dtype), already representable in dtype."""
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in ("int32", "int64"):
        return rng.integers(-4, 5, size=shape).astype(dtype)
    x = rng.uniform(0.5, 1.5, size=shape) if op == "prod" else rng.standard_normal(shape)
    return round_to(x, dtype)


def to_hy(arr, dtype, contiguous=True):
    """A hyflow tensor of dtype holding arr; non-contiguous (a transposed view) when asked."""
    arr = np.asarray(arr)
    d = hy_dtype(dtype)
    src = np.asarray(arr, np.float32) if dtype == "bfloat16" else arr
    if contiguous or arr.ndim < 2:
        t = hy.tensor(np.ascontiguousarray(src)).to(d) if dtype == "bfloat16" else hy.tensor(np.ascontiguousarray(src))
        if not contiguous:  # 1-D: every other element of a twice longer tensor
            big = np.repeat(src, 2)
            t = (hy.tensor(big).to(d) if dtype == "bfloat16" else hy.tensor(big))[::2]
            assert t.numel() < 2 or not t.is_contiguous()
        return t
    t = hy.tensor(np.ascontiguousarray(src.swapaxes(0, 1)))
    if dtype == "bfloat16":
        t = t.to(d)
    t = t.transpose(0, 1)
    assert not t.is_contiguous()
    return t


def empty_like_layout(shape, dtype, contiguous=True):
    """A zero tensor of shape/dtype with the requested layout (outputs of collectives)."""
    return to_hy(np.zeros(shape, dtype=np.float32 if dtype == "bfloat16" else dtype), dtype, contiguous)


def to_np(t):
    return t.to(hy.float32).numpy() if t.dtype == hy.bfloat16 else t.numpy()


def reduce_np(arrays, op, dtype):
    """What a reduction over ranks must give: computed in float32 for 16-bit floats, then rounded."""
    if dtype == "bool":
        stack = np.stack(arrays)
        return stack.any(0) if op in ("sum", "max") else stack.all(0)
    wide = np.float32 if dtype in ("float16", "bfloat16") else None
    stack = np.stack([a.astype(wide) if wide else a for a in arrays])
    r = {"sum": lambda: stack.sum(0), "prod": lambda: stack.prod(0), "min": lambda: stack.min(0),
         "max": lambda: stack.max(0), "avg": lambda: stack.sum(0) / len(arrays)}[op]()
    return round_to(r, dtype)


class Checks:
    def __init__(self, rank):
        self.rank, self.count, self.failures = rank, 0, []

    def close(self, what, got, want, dtype):
        self.count += 1
        got, want = np.asarray(got), np.asarray(want)
        try:
            assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
            if dtype in FLOATS:
                np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=RTOL[dtype],
                                           atol=RTOL[dtype])
            else:
                np.testing.assert_array_equal(got, want)
        except AssertionError as e:
            self.failures.append(f"{what}: {str(e)[:400]}")

    def true(self, what, cond):
        self.count += 1
        if not cond:
            self.failures.append(what)

    def raises(self, what, exc, text, fn):
        """fn() must raise exc with `text` in its message; anything else is a failure."""
        try:
            fn()
        except exc as e:
            self.true(f"{what}: message {str(e)!r} lacks {text!r}", text in str(e))
            return
        except Exception as e:  # noqa: BLE001
            self.true(f"{what}: raised {type(e).__name__}: {e}, expected {exc.__name__}", False)
            return
        self.true(f"{what}: did not raise", False)

    def run(self, what, fn):
        """Run a block of checks; an exception is a failure, not a crash (other blocks still run)."""
        try:
            fn()
        except Exception:  # noqa: BLE001
            self.failures.append(f"{what}: raised\n{traceback.format_exc()}")

    def report(self):
        for f in self.failures:
            print(f"RANK {self.rank} FAIL {f}", flush=True)
        print(f"RANK {self.rank} {'OK' if not self.failures else 'FAILED'} {self.count} checks", flush=True)
        sys.stdout.flush()
        return 0 if not self.failures else 1


def setup_env():
    os.environ.setdefault("OMP_NUM_THREADS", "1")
