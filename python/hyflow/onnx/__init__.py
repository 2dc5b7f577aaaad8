"""ONNX for hyflow: export models (hy.onnx.export) and run ONNX models with ONNX Runtime on hyflow tensors
(hy.onnx.InferenceSession). Needs `pip install onnx onnxruntime`; see docs/onnx.md."""
from ._deps import require as _require

_require()

from ._opset import max_opset  # noqa: E402
from .errors import ExportError  # noqa: E402
from ._export import export  # noqa: E402
from .custom_ops import custom_op, remove_custom_op  # noqa: E402
from .functions import onnx_function, remove_onnx_function  # noqa: E402
from .session import InferenceSession  # noqa: E402

__all__ = ["export", "ExportError", "InferenceSession", "custom_op", "remove_custom_op", "onnx_function",
           "remove_onnx_function", "max_opset"]
