"""The op table's structured fields, parsed: what AMP, the ONNX exporter and the compiler read.

The registry stores every metadata field as text (``hy.ops.schema(name)``). Structured fields are stored
twice: the short value under the field's own key (``"onnx": "ReduceSum"``, ``"autocast": "lower"``) and
the full normal form as JSON under ``<field>_spec``, written by the generator after the build-time
validation (csrc/ops/validate_table.py). Ops defined at run time (``hy.ops.define``) have only what
their author passed; their short forms are parsed here the same way.

    >>> hy.ops.onnx_spec("sum")
    {'op': 'ReduceSum', 'domain': '', 'since': 13, 'attrs': {'keepdims': 'keepdim'}, 'inputs': ['self', 'dim']}
    >>> hy.ops.autocast_spec("matmul")
    {'policy': 'lower', 'dtype': None}      # None: the autocast region's lower-precision dtype
"""
import json

from .. import _C


def _info(name):
    if not isinstance(name, str):
        raise TypeError(f"op name must be a str, got {type(name).__name__}")
    return _C._op_info(name)


def onnx_spec(name):
    """How op ``name`` maps to ONNX, or None when it has no mapping: a dict with ``op`` (the ONNX operator),
    ``domain`` ("" is ai.onnx), ``since`` (first valid opset or None), ``attrs`` (ONNX attribute name ->
    the op argument it takes, or a constant; a quoted string is a string constant) and ``inputs`` (op
    arguments in ONNX input order, None entries skip an optional input; None: the tensor arguments in
    schema order)."""
    info = _info(name)
    if "onnx_spec" in info:
        return json.loads(info["onnx_spec"])
    if "onnx" in info:
        return {"op": info["onnx"], "domain": "", "since": None, "attrs": {}, "inputs": None}
    return None


def autocast_spec(name):
    """The mixed-precision policy of op ``name``: ``{"policy": "fp32" | "lower" | "promote" | "none",
    "dtype": ...}``. ``dtype`` is set only for ``lower``: "float16" or "bfloat16", or None for the
    autocast region's own lower-precision dtype. An op that declares no policy gets ``none``."""
    info = _info(name)
    if "autocast_spec" in info:
        return json.loads(info["autocast_spec"])
    policy, _, dtype = info.get("autocast", "none").partition(":")
    return {"policy": policy.strip(), "dtype": dtype.strip() or None}


def backward_formulas(name):
    """The op's backward formulas, ``{input: formula or None}``, or None when it is not differentiable."""
    text = _info(name).get("backward")
    return json.loads(text) if text else None


def metadata(name):
    """Every metadata field of op ``name``, with the structured ones parsed: ``onnx`` and ``autocast``
    as above, ``backward`` as a dict (or None), ``variants`` and ``writes`` as lists, ``view`` as bool,
    ``scalar`` (elementwise ops) as its expression string or ``{variant: expression}``, ``stencil``
    (stencil ops) as ``{kind, input, boundary}``, ``row`` (softmax, log_softmax) as ``{kind, input, dim}``."""
    info = dict(_info(name))
    for key in ("onnx_spec", "autocast_spec"):
        info.pop(key, None)
    info["onnx"] = onnx_spec(name)
    info["autocast"] = autocast_spec(name)
    if "backward" in info:
        info["backward"] = backward_formulas(name)
    for key in ("variants", "writes"):
        if key in info:
            info[key] = [v for v in info[key].split(",") if v]
    if "view" in info:
        info["view"] = info["view"] == "true"
    if "scalar" in info:
        info["scalar"] = json.loads(info["scalar"])
    if "stencil" in info:
        info["stencil"] = json.loads(info["stencil"])
    if "row" in info:
        info["row"] = json.loads(info["row"])
    return info
