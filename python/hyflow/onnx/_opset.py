"""Which opsets an export may target: the installed onnx's newest, capped at what the installed ONNX
Runtime has kernels for."""
import functools

import onnx

MIN_OPSET = 18   # every reduction takes its axes as an input from 18 on: one form per op


@functools.lru_cache(maxsize=None)
def runtime_max_opset():
    """The newest ai.onnx opset ONNX Runtime has kernels for (its kernels' highest since-version)."""
    try:
        from onnxruntime.capi import _pybind_state as C
        return max(k.version_range[0] for k in C.get_all_opkernel_def() if k.domain in ("", "ai.onnx"))
    except Exception:  # an ONNX Runtime without the registry query: trust onnx
        return onnx.defs.onnx_opset_version()


def max_opset():
    return min(onnx.defs.onnx_opset_version(), runtime_max_opset())


def resolve(opset):
    newest = max_opset()
    if opset is None:
        return newest
    if isinstance(opset, bool) or not isinstance(opset, int):
        raise TypeError(f"export(): opset must be an int or None, got {type(opset).__name__}")
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"export(): opset must be in [{MIN_OPSET}, {onnx.defs.onnx_opset_version()}] (the "
                         f"installed onnx's newest), got {opset}")
    return opset


@functools.lru_cache(maxsize=None)
def runtime_max_ir_version():
    """The newest model IR version ONNX Runtime loads, found by loading a one-node model (cached)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    for ir in range(onnx.IR_VERSION, 7, -1):
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", MIN_OPSET)])
        m.ir_version = ir
        try:
            ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            return ir
        except Exception:
            continue
    return onnx.IR_VERSION
