"""hy.finfo / hy.iinfo: torch's numeric limits of a dtype (bits, eps, max, min, tiny, smallest_normal,
resolution, dtype), read from NumPy's limits (bfloat16, which NumPy lacks, from its bit layout)."""
import builtins as _builtins

import numpy as _np

from . import _C

__all__ = ["finfo", "iinfo"]

_NP_FLOAT = {"float16": _np.float16, "float32": _np.float32, "float64": _np.float64}
_NP_INT = {"int32": _np.int32, "int64": _np.int64}
# bfloat16: float32's exponent with 8 significand bits (7 stored), so eps = 2**-7 and resolution 10**-2.
_BFLOAT16 = {"bits": 16, "eps": 2.0 ** -7, "max": (2 - 2.0 ** -7) * 2.0 ** 127, "tiny": 2.0 ** -126,
             "resolution": 0.01}


class finfo:  # noqa: N801 (torch's name)
    """Limits of a floating point dtype, like torch.finfo: bits, eps, max, min, tiny (== smallest_normal),
    resolution (10**-precision) and dtype (its name). A complex dtype gives its real part's limits; no
    argument gives the default dtype's (hy.get_default_dtype(), float32 unless changed)."""

    def __init__(self, type=None):  # noqa: A002 (torch's keyword)
        type = _C.get_default_dtype() if type is None else type
        if not isinstance(type, _C.dtype):
            raise TypeError(f"finfo(): argument 'type' must be hyflow.dtype, not {_builtins.type(type).__name__}")
        name = {"complex64": "float32", "complex128": "float64"}.get(type.name, type.name)
        if name == "bfloat16":
            info = _BFLOAT16
        elif name in _NP_FLOAT:
            np_info = _np.finfo(_NP_FLOAT[name])
            info = {"bits": np_info.bits, "eps": float(np_info.eps), "max": float(np_info.max),
                    "tiny": float(np_info.smallest_normal), "resolution": 10.0 ** -int(np_info.precision)}
        else:
            raise TypeError(f"hyflow.finfo() requires a floating point input type, got hyflow.{type.name}; "
                            "use hyflow.iinfo for integer types")
        self.bits = info["bits"]
        self.eps = info["eps"]
        self.max = info["max"]
        self.min = -info["max"]
        self.tiny = self.smallest_normal = info["tiny"]
        self.resolution = info["resolution"]
        self.dtype = name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")

    def __eq__(self, other):
        return isinstance(other, finfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("finfo", self.dtype))


class iinfo:  # noqa: N801 (torch's name)
    """Limits of an integer dtype, like torch.iinfo: bits, max, min and dtype (its name)."""

    def __init__(self, type):  # noqa: A002 (torch's keyword)
        if not isinstance(type, _C.dtype):
            raise TypeError(f"iinfo(): argument 'type' must be hyflow.dtype, not {_builtins.type(type).__name__}")
        if type.name == "bool":
            raise TypeError("hyflow.bool is not supported by hyflow.iinfo")
        if type.name not in _NP_INT:
            raise TypeError(f"hyflow.iinfo() requires an integer input type, got hyflow.{type.name}; "
                            "use hyflow.finfo for floating point types")
        np_info = _np.iinfo(_NP_INT[type.name])
        self.bits, self.max, self.min, self.dtype = np_info.bits, int(np_info.max), int(np_info.min), type.name

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"

    def __eq__(self, other):
        return isinstance(other, iinfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("iinfo", self.dtype))

