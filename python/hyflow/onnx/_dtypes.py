"""hyflow dtype <-> ONNX TensorProto element type <-> NumPy dtype."""
import numpy as np
from onnx import TensorProto

import hyflow as hy

_TABLE = [  # (hyflow dtype, ONNX element type, NumPy dtype or None where NumPy has none)
    (hy.bool, TensorProto.BOOL, np.bool_),
    (hy.int32, TensorProto.INT32, np.int32),
    (hy.int64, TensorProto.INT64, np.int64),
    (hy.float16, TensorProto.FLOAT16, np.float16),
    (hy.bfloat16, TensorProto.BFLOAT16, None),
    (hy.float32, TensorProto.FLOAT, np.float32),
    (hy.float64, TensorProto.DOUBLE, np.float64),
]
_TO_ONNX = {str(h): o for h, o, _ in _TABLE}
_FROM_ONNX = {o: h for h, o, _ in _TABLE}
_TO_NUMPY = {str(h): n for h, _, n in _TABLE}
# ONNX Runtime's type strings ("tensor(float)") for input checks.
_ORT_NAMES = {"tensor(bool)": hy.bool, "tensor(int32)": hy.int32, "tensor(int64)": hy.int64,
              "tensor(float16)": hy.float16, "tensor(bfloat16)": hy.bfloat16, "tensor(float)": hy.float32,
              "tensor(double)": hy.float64}


def to_onnx(dtype):
    try:
        return _TO_ONNX[str(dtype)]
    except KeyError:
        raise TypeError(f"dtype {dtype} has no ONNX element type") from None


def from_onnx(elem_type):
    try:
        return _FROM_ONNX[elem_type]
    except KeyError:
        raise TypeError(f"ONNX element type {TensorProto.DataType.Name(elem_type)} has no hyflow dtype") from None


def numpy_of(dtype):
    return _TO_NUMPY[str(dtype)]


def from_ort_name(name):
    return _ORT_NAMES.get(name)


def is_float(dtype):
    return str(dtype) in ("hyflow.float16", "hyflow.bfloat16", "hyflow.float32", "hyflow.float64")


def is_int(dtype):
    return str(dtype) in ("hyflow.int32", "hyflow.int64")
