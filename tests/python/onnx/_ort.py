"""Test helpers: skip without the optional packages, export to bytes, run with ONNX Runtime."""
import io

import numpy as np
import pytest

REASON = "needs onnx and onnxruntime: pip install onnx onnxruntime"


def require():
    """Skip the calling test module when onnx or onnxruntime cannot be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        pytest.skip(f"{REASON} ({err})", allow_module_level=True)


def export_bytes(fn, args, **kwargs):
    import hyflow.onnx
    buf = io.BytesIO()
    hyflow.onnx.export(fn, args, buf, **kwargs)
    return buf.getvalue()


def ort_run(model_bytes, feeds):
    """Run with ONNX Runtime on NumPy inputs (bfloat16 inputs as their float32 values, cast in a wrapper
    is not needed: callers only feed dtypes NumPy has)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, feeds)))


def to_numpy(t):
    return np.array(t.numpy(), order="C")  # keeps 0-d (ascontiguousarray makes it 1-d)
