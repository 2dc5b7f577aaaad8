"""Ops ONNX lacks, exported as custom-domain nodes and run inside ONNX Runtime by hyflow's own kernel,
through onnxruntime-extensions (`pip install onnxruntime-extensions`).

    hy.onnx.custom_op("laplacian")                 # once, before export and before loading the model
    hy.onnx.export(fn, (u,), "m.onnx")              # laplacian -> ai.onnx.contrib::hyflow_laplacian_float32
    sess = hy.onnx.InferenceSession("m.onnx")       # registers the extensions library: ORT calls hyflow

Export: the op becomes one node of domain ``ai.onnx.contrib`` (the domain onnxruntime-extensions serves),
op type ``hyflow_<op>_<dtype>`` (an ORT custom op has fixed input types, so one per dtype); its tensor
arguments are the node's inputs, its other arguments (int, float, bool, str) attributes.
Run: for each registered op and dtype, an onnxruntime-extensions Python op receives NumPy arrays, wraps them
as hyflow tensors without a copy (hy.from_numpy), calls ``hy.ops.<op>`` with the attributes, and returns
the result's NumPy view; ORT copies it into its output. Any op in the registry qualifies, built-in (a
stencil) or user-defined (hy.ops.define) alike, as long as its arguments are tensors and scalars.
"""
import threading

import hyflow as hy


__all__ = ["custom_op", "remove_custom_op", "DOMAIN"]

DOMAIN = "ai.onnx.contrib"
_DTYPES = ("float32", "float64")
_lock = threading.Lock()
REGISTERED = {}  # op name -> {"tensor_args": [...], "attr_args": {name: type}, "dtypes": (...)}


def _attr_kind(arg_type):
    t = arg_type.rstrip("?")
    return {"int": "int", "bool": "int", "float": "float", "Scalar": "float", "str": "str"}.get(t)


def custom_op(name, dtypes=_DTYPES):
    """Export op ``name`` as a custom-domain node and let ONNX Runtime run it with hyflow's kernel."""
    try:
        info = hy.ops.schema(name)
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"custom_op: no op named {name!r} in the registry") from err
    tensors, attrs, bools = [], {}, set()
    for a in info["args"]:
        if a["type"].rstrip("?") == "bool":
            bools.add(a["name"])
        if a["type"] in ("Tensor", "Tensor?"):
            if a["name"] != "out":
                tensors.append(a["name"])
        else:
            kind = _attr_kind(a["type"])
            if kind is None:
                raise ValueError(f"custom_op: op {name!r} argument {a['name']!r} of type {a['type']} cannot be an "
                                 f"ONNX attribute (tensors, int, float, bool and str only)")
            attrs[a["name"]] = kind
    if len(info.get("returns", [None])) != 1:
        raise ValueError(f"custom_op: op {name!r} must return one tensor")
    dtypes = tuple(str(d).replace("hyflow.", "") for d in dtypes)
    for d in dtypes:
        if d not in _DTYPES:
            raise ValueError(f"custom_op: dtype {d} is not supported (one of {_DTYPES})")
    with _lock:
        REGISTERED[name] = {"tensor_args": tensors, "attr_args": attrs, "dtypes": dtypes, "bool_args": bools}
        _register_runtime(name)
    return name


def remove_custom_op(name):
    """Export ``name`` as before custom_op(name) again (an error when it has no ONNX form). Sessions keep
    running models that use it."""
    with _lock:
        REGISTERED.pop(name, None)


def op_type(name, dtype):
    return f"hyflow_{name}_{str(dtype).replace('hyflow.', '')}"


def lower(cx, node):
    """The export lowering of a registered op: one custom-domain node."""
    spec = REGISTERED[node.op]
    tensors = [node.arg(n) for n in spec["tensor_args"]]
    dtype = tensors[0].meta.dtype if tensors else node.results[0].meta.dtype
    if str(dtype).replace("hyflow.", "") not in spec["dtypes"]:
        raise cx.Unsupported(f"custom op for dtype {dtype} (registered: {', '.join(spec['dtypes'])})")
    inputs = []
    for n, v in zip(spec["tensor_args"], tensors):
        if v is None:
            raise cx.Unsupported(f"optional tensor argument {n!r} not given (custom ops take every input)")
        inputs.append(cx.operand(v, dtype))
    attrs = {}
    for n, kind in spec["attr_args"].items():
        v = node.arg(n)
        if v is None:
            continue
        attrs[n] = int(v) if kind == "int" else (float(v) if kind == "float" else str(v))
    cx.b.domains.add(DOMAIN)
    out = cx.b.node(op_type(node.op, dtype), inputs, domain=DOMAIN, **attrs)
    return [cx.b.cast(out, dtype, node.results[0].meta.dtype)]


def _register_runtime(name):
    try:
        from onnxruntime_extensions import PyCustomOpDef, onnx_op
    except ImportError:
        return  # export still works; running needs the package (InferenceSession says so)
    spec = REGISTERED[name]
    np_type = {"float32": PyCustomOpDef.dt_float, "float64": PyCustomOpDef.dt_double}
    attr_type = {"int": PyCustomOpDef.dt_int64, "float": PyCustomOpDef.dt_float, "str": PyCustomOpDef.dt_string}
    fn = getattr(hy.ops, name)
    for d in spec["dtypes"]:
        if (name, d) in _RUNTIME:
            continue

        def body(*arrays, _fn=fn, _spec=spec, _dtype=getattr(hy, d), **attrs):
            import numpy as np
            tensors = [hy.from_numpy(np.ascontiguousarray(a)) if a.ndim else hy.tensor(a.item(), dtype=_dtype)
                       for a in arrays]
            kwargs = {k: (bool(v) if k in _spec["bool_args"] else v) for k, v in attrs.items()}
            result = _fn(*tensors, **kwargs)
            return np.array(result.numpy(), order="C")

        onnx_op(op_type=op_type(name, d), inputs=[np_type[d]] * len(spec["tensor_args"]), outputs=[np_type[d]],
                attrs={k: attr_type[v] for k, v in spec["attr_args"].items()})(body)
        _RUNTIME.add((name, d))


_RUNTIME = set()


def enable(options):
    """Register onnxruntime-extensions' library (which serves the Python ops above) with ORT options."""
    try:
        from onnxruntime_extensions import get_library_path
    except ImportError as err:
        raise ImportError("running a model with hyflow custom ops needs onnxruntime-extensions: "
                          "pip install onnxruntime-extensions") from err
    options.register_custom_ops_library(get_library_path())


def model_uses_custom_domain(model_path_or_bytes):
    import onnx
    if isinstance(model_path_or_bytes, (bytes, bytearray)):
        m = onnx.load_from_string(bytes(model_path_or_bytes))
    else:
        m = onnx.load(model_path_or_bytes, load_external_data=False)
    return any(o.domain == DOMAIN for o in m.opset_import)
