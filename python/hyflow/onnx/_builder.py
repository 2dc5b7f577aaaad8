"""Accumulates an ONNX graph: unique names, nodes, initializers (parameters, constants).

The op lowerings (_lower.py) talk to this only: ``b.node("Add", [a, c])`` returns the output name(s),
``b.const(array)`` an initializer's name, ``b.cast(name, src_dtype, dst_dtype)`` a Cast when needed."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

import hyflow as hy

from . import _dtypes


def tensor_proto(name, t):
    """An ONNX TensorProto holding hyflow tensor ``t`` (copied)."""
    t = t.detach().contiguous() if t.requires_grad else t.contiguous()
    if str(t.dtype) == "hyflow.bfloat16":
        bits = (np.array(t.float().numpy(), order="C").view(np.uint32) >> 16).astype(np.uint16)
        proto = TensorProto(name=name, data_type=TensorProto.BFLOAT16, dims=list(t.shape))
        proto.raw_data = bits.tobytes()
        return proto
    return numpy_helper.from_array(np.array(t.numpy(), order="C"), name)


class Builder:
    """``inline_constants``: constants and captured tensors become Constant nodes instead of initializers
    (the body of an ONNX function may hold no initializers)."""

    def __init__(self, opset, inline_constants=False):
        self.opset = opset
        self.inline_constants = inline_constants
        self.functions = []   # FunctionProtos the graph calls (hy.onnx.onnx_function)
        self.nodes, self.initializers = [], []
        self._used = set()
        self._const_cache = {}
        self.domains = set()  # custom domains used (each needs an opset import)

    def fresh(self, hint):
        """A name not used yet, from ``hint``."""
        base = "".join(c if c.isalnum() or c in "._/:" else "_" for c in str(hint)) or "t"
        name, i = base, 1
        while name in self._used:
            name, i = f"{base}_{i}", i + 1
        self._used.add(name)
        return name

    def reserve(self, name):
        self._used.add(name)
        return name

    def node(self, op_type, inputs, outputs=1, domain="", **attrs):
        """Append a node; returns its output name (one output) or list of names."""
        names = [self.fresh(f"{op_type}_out") for _ in range(outputs)] if isinstance(outputs, int) else outputs
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), list(names), name=self.fresh(op_type),
                                           domain=domain or None, **attrs))
        return names[0] if len(names) == 1 else names

    def initializer(self, name, t):
        proto = tensor_proto(self.reserve(name), t)
        if self.inline_constants:
            self.nodes.append(helper.make_node("Constant", [], [name], name=self.fresh("Constant"), value=proto))
        else:
            self.initializers.append(proto)
        return name

    def const(self, value, dtype):
        """An initializer holding ``value`` (number or nested list) as a NumPy array of hyflow ``dtype``;
        equal constants share one initializer."""
        np_dtype = _dtypes.numpy_of(dtype)
        if np_dtype is None:  # bfloat16: made by a Cast from float32
            return self.node("Cast", [self.const(value, hy.float32)], to=TensorProto.BFLOAT16)
        arr = np.asarray(value, dtype=np_dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._const_cache:
            name = self.reserve(self.fresh("const"))
            if self.inline_constants:
                self.nodes.append(helper.make_node("Constant", [], [name], name=self.fresh("Constant"),
                                                   value=numpy_helper.from_array(arr, name)))
            else:
                self.initializers.append(numpy_helper.from_array(arr, name))
            self._const_cache[key] = name
        return self._const_cache[key]

    def ints(self, values):
        """An int64 1-D constant (axes, shapes, pads)."""
        return self.const([int(v) for v in values], hy.int64)

    def cast(self, name, src, dst):
        if str(src) == str(dst):
            return name
        return self.node("Cast", [name], to=_dtypes.to_onnx(dst))
