"""The op test table: one OpInfo per op, grouped by family (one module per op-table family).

Each entry names the op (as in csrc/ops/table), a NumPy reference and sample inputs. test_ops.py runs
every entry for every dtype it lists, on contiguous, non-contiguous, broadcast, empty and 0-d inputs
(whatever its samples produce), and checks the result dtype against the op table's dtype_rule.

Adding an op: add an OpInfo to the family's module here; most are one line, e.g.
    OpInfo("exp", np.exp, unary_samples, FLOAT)
"""
import dataclasses
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

import numpy as np

ALL = ("bool", "int32", "int64", "float16", "bfloat16", "float32", "float64")
FLOAT = ("float16", "bfloat16", "float32", "float64")
NUMERIC = ("int32", "int64", "float16", "bfloat16", "float32", "float64")
INT = ("int32", "int64")
COMPLEX = ("complex64", "complex128")   # rows for the ops whose op-table dtypes include complex


@dataclasses.dataclass
class Sample:
    """Positional args (NumPy arrays become hyflow tensors; other values pass through) and kwargs."""
    args: Tuple[Any, ...]
    kwargs: Dict[str, Any] = dataclasses.field(default_factory=dict)
    desc: str = ""


@dataclasses.dataclass
class OpInfo:
    name: str                                   # op-table name: called as hy.ops.<name>
    ref: Callable                               # NumPy reference, same args with arrays
    samples: Callable[[str, np.random.Generator], Iterable[Sample]]
    dtypes: Tuple[str, ...]
    tol: Optional[Dict[str, Tuple[float, float]]] = None   # dtype -> (rtol, atol) overrides
    check_dtype_rule: bool = True
    ref_dtype: Optional[str] = None             # compute the reference in this dtype (e.g. float64)
    grad: bool = True                           # gradcheck it when the op table records a backward
    grad_filter: Optional[Callable[[Sample], bool]] = None   # which samples are differentiable points


def np_dtype(name):
    """NumPy dtype used to build inputs (bfloat16 inputs are built as float32 and converted)."""
    return np.float32 if name == "bfloat16" else np.dtype(name)


def rand_array(rng, shape, dtype, low=-5.0, high=5.0, noncontig=False):
    """Random NumPy input; noncontig returns a strided view (every other element of a larger array)."""
    if dtype == "bool":
        base = rng.integers(0, 2, size=shape + ((2,) if noncontig else ())).astype(bool)
    elif dtype in INT:
        base = rng.integers(int(low), int(high) + 1, size=shape + ((2,) if noncontig else ())).astype(dtype)
    elif dtype in COMPLEX:
        size = shape + ((2,) if noncontig else ())
        base = np.asarray(rng.uniform(low, high, size=size) + 1j * rng.uniform(low, high, size=size)).astype(dtype)
    else:
        base = rng.uniform(low, high, size=shape + ((2,) if noncontig else ())).astype(np_dtype(dtype))
        if dtype in ("float16", "bfloat16"):
            # Inputs exactly representable in the low-precision type, so only the op's rounding differs.
            import hyflow as hy
            base = hy.tensor(base, dtype=getattr(hy, dtype)).to(hy.float32).numpy().astype(np_dtype(dtype))
    return base[..., 0] if noncontig else base


def standard_shapes():
    """Shapes every elementwise family tries: 0-d, empty, vector, matrix, batched, non-contiguous."""
    return [((), False), ((0,), False), ((7,), False), ((3, 5), False), ((2, 3, 4), False), ((4, 6), True),
            ((1000,), False)]
