"""hy.onnx.onnx_function: a user op (hy.ops.define) exported as an ONNX function -- a small subgraph of
standard ops the model carries in ``model.functions`` -- instead of an error.

    hy.ops.define("smooth(Tensor x, float k) -> Tensor")
    @hy.ops.impl("smooth", "cpu")
    def _smooth(x, k): ...                                   # the kernel hyflow runs
    hy.onnx.onnx_function("smooth", lambda x, k: (x * k).tanh() * (1 / k))   # its form in table ops

At export each call of the op is traced once more through ``fn`` (same input shapes and dtypes, same
non-tensor arguments), the trace is lowered like any graph, and the nodes become a FunctionProto of domain
``hyflow.functions`` named after the op (``<op>_<n>`` for a call with other shapes or arguments); the
main graph holds one node calling it. ``fn`` must compute what the kernel computes: the exporter cannot
check that, the parity of a model using it can (tests/python/onnx/test_onnx_custom_ops.py)."""
import threading

import hyflow as hy

__all__ = ["onnx_function", "remove_onnx_function", "DOMAIN"]

DOMAIN = "hyflow.functions"
FUNCTIONS = {}
_lock = threading.Lock()


def onnx_function(name, fn):
    """Export op ``name`` as the ONNX function that tracing ``fn`` (same arguments as the op) gives."""
    try:
        hy.ops.schema(name)
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"onnx_function: no op named {name!r} in the registry") from err
    if not callable(fn):
        raise TypeError(f"onnx_function: fn must be callable, got {type(fn).__name__}")
    with _lock:
        FUNCTIONS[name] = fn
    return name


def remove_onnx_function(name):
    with _lock:
        FUNCTIONS.pop(name, None)


def lower(cx, node, export_graph):
    """Trace the op's ONNX function for this node and call it. ``export_graph(builder, graph)`` lowers a
    traced graph into a builder (the exporter's own loop), returning the problems it met."""
    from onnx import helper

    from ..compiler import capture
    from ._builder import Builder
    fn = FUNCTIONS[node.op]
    tensor_args = [(i, a) for i, a in enumerate(node.args) if isinstance(a, cx.Value)]
    placeholders = [hy.zeros(list(a.meta.shape), dtype=a.meta.dtype) for _, a in tensor_args]

    def body(*tensors):
        args = list(node.args)
        for (i, _), t in zip(tensor_args, tensors):
            args[i] = t
        names = node.arg_names
        kwargs = {n: a for n, a in zip(names, args) if n != "out"}
        return fn(**kwargs)

    with hy.no_grad():
        tr = capture.trace(body, placeholders, {}, keep_going=True)
    if tr.breaks:
        raise cx.Unsupported(f"its ONNX function breaks the trace: {tr.breaks[0][0]}")
    sub = Builder(cx.b.opset, inline_constants=True)
    in_names = [sub.reserve(f"x{i}") for i in range(len(placeholders))]
    problems, out_names = export_graph(sub, tr.graph, in_names)
    if problems:
        raise cx.Unsupported("its ONNX function cannot be exported: " + "; ".join(w for w, _ in problems))
    key = (node.op, tuple((a.meta.shape, str(a.meta.dtype)) for _, a in tensor_args),
           tuple(repr(a) for a in node.args if not isinstance(a, cx.Value)))
    cache = cx.b.__dict__.setdefault("_function_names", {})
    if key not in cache:
        fname = node.op if not any(k[0] == node.op for k in cache) else f"{node.op}_{len(cache)}"
        imports = [helper.make_opsetid("", cx.b.opset)] + [helper.make_opsetid(d, 1) for d in sorted(sub.domains)]
        cx.b.functions.append(helper.make_function(DOMAIN, fname, in_names, out_names, sub.nodes, imports))
        cx.b.domains |= sub.domains
        cx.b.functions.extend(sub.functions)
        cache[key] = fname
    cx.b.domains.add(DOMAIN)
    outs = cx.b.node(cache[key], [cx.name(a) for _, a in tensor_args], len(out_names), domain=DOMAIN)
    return [outs] if len(out_names) == 1 else outs
