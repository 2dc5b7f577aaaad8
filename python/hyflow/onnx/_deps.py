"""The optional dependencies of hyflow.onnx: `onnx` (export) and `onnxruntime` (inference).

hyflow itself never needs them; importing hyflow.onnx without them raises one ImportError that says what
to install."""

INSTALL_HINT = "pip install onnx onnxruntime"


def require():
    missing = []
    for name in ("onnx", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(f"hyflow.onnx needs the package(s) {', '.join(missing)}: {INSTALL_HINT}")
