"""One lowering per op: a captured Node -> ONNX nodes, read from the op table's ``onnx`` mapping.

The mapping (``hy.ops.onnx_spec(op)``: op, inputs, attrs, since, domain) names the ONNX operator and how
the op's arguments feed it; :func:`lower_generic` emits exactly that. What a mapping cannot say is here,
keyed by the op: argument conversions (a ``transpose(dim0, dim1)`` is a Transpose with a whole ``perm``,
a view's shape is a Reshape input), the casts hyflow's type promotion implies (ONNX operators take equal
input types), and ops the op table maps to no single ONNX operator but a few (``COMPOSITES``: rsqrt is
Reciprocal(Sqrt), silu is x * Sigmoid(x), ...). An op with neither a mapping nor a composite is reported
by the exporter as unsupported.

A lowering gets the export context ``cx`` (names of Values, the builder ``cx.b``) and the node; it returns
one ONNX name per result of the node (a list of names for a Tensor[] result)."""
import math

import hyflow as hy

from . import _dtypes

_ORDER = ["hyflow.bool", "hyflow.int32", "hyflow.int64", "hyflow.float16", "hyflow.bfloat16", "hyflow.float32",
          "hyflow.float64"]
INT64_MAX = 2 ** 63 - 1

LOWERINGS = {}     # op -> fn(cx, node): ops whose mapping needs argument conversion (mapped in the table)
COMPOSITES = {}    # op -> fn(cx, node): ops with no `onnx` mapping, exported as a few standard ops
MIN_OPSET = {}     # op -> first opset its lowering works for (above the exporter's minimum)

# The ONNX form of each composite, and what a mapped op's lowering refuses or adds: the op coverage table
# of docs/onnx.md is generated from these and the op table (scripts/gen_onnx_coverage.py).
FORMS = {
    "ne": "Not(Equal(a, b)) (ONNX has no NotEqual)",
    "atan2": "Atan(y / x) corrected by quadrant with Where (ONNX has no Atan2)",
    "square": "Mul(x, x)",
    "rsqrt": "Reciprocal(Sqrt(x))",
    "silu": "Mul(x, Sigmoid(x))",
    "expm1": "Sub(Exp(x), 1)",
    "log1p": "Log(Add(x, 1))",
    "trunc": "Mul(Sign(x), Floor(Abs(x)))",
    "isfinite": "Not(Or(IsNaN(x), IsInf(x)))",
    "floor_divide": "Floor(Div(a, b)); floating point only",
    "im2col": "Conv with a one-hot weight, Reshape, Transpose; floating point only",
}
NOTES = {
    "add": "alpha != 1 multiplies `other` first", "sub": "alpha != 1 multiplies `other` first",
    "div": "rounding_mode 'floor'/'trunc' for floating point only",
    "remainder": "floating point as a - Floor(a / b) * b (Python's sign rule)",
    "sign": "NaN gives 0, as in hyflow", "clamp": "Max then Min (hyflow's order when min > max)",
    "clamp_tensor": "Max then Min", "gelu": "below opset 20: the Erf/Tanh formula",
    "softplus": "beta and threshold by Mul/Div/Where", "round": "decimals by scaling; integers in float64",
    "mean": "a mean over nothing is NaN (Div of the sum by 0)",
    "norm": "p = 1, 2 as ReduceL1/L2; other p by Pow/ReduceSum; inf, -inf, 0",
    "max_dim": "ReduceMax + ArgMax", "layer_norm": "axis = -len(normalized_shape); no weight: a Scale of ones", "min_dim": "ReduceMin + ArgMin",
    "max_pool2d_with_indices": "only when the indices are not used",
    "linalg_det": "ONNX Runtime's Det runs float32 only",
    "index": "integer index tensors of one shape (no masks, no broadcasting)",
    "index_put_": "as index; not into inputs or parameters",
    "multinomial": "with replacement (or one sample)", "pad": "modes constant, reflect, replicate, circular",
    "view": "with dynamic axes a dim kept in place becomes 0 (copy)", "reshape": "as view",
    "expand": "dims kept from the input are 1 (broadcast both ways)", "broadcast_to": "as expand",
    "zeros": "Expand of a constant at the traced shape", "ones": "as zeros", "full": "as zeros",
    "rand": "values differ from hyflow's generator", "randn": "values differ from hyflow's generator",
    "nonzero": "Transpose of NonZero", "split": "sizes from the traced shapes", "chunk": "as split",
}


def lowering(*ops, composite=False, min_opset=None):
    def register(fn):
        for op in ops:
            (COMPOSITES if composite else LOWERINGS)[op] = fn
            if min_opset:
                MIN_OPSET[op] = min_opset
        return fn
    return register


def supported(op):
    """How ``op`` exports: "mapping", "composite" or None (unsupported)."""
    if op in COMPOSITES:
        return "composite"
    spec = hy.ops.onnx_spec(op)
    return "mapping" if spec else None


# ---- helpers ------------------------------------------------------------------------------------------
def rank(dtype):
    return _ORDER.index(str(dtype))


def compute_dtype(cx, values):
    """The dtype hyflow's promotion computes in for these operands: dimensioned tensors decide; 0-d tensors
    and then Python numbers only lift the category, a number to the default dtype of its category
    (docs/design.md, "Type promotion")."""
    def cat(d):
        return 0 if str(d) == "hyflow.bool" else (1 if _dtypes.is_int(d) else 2)
    literal = [v.meta.dtype for v in values if v.is_literal_number()]
    zero_d = [v.meta.dtype for v in values if not v.is_literal_number() and len(v.meta.shape) == 0]
    dims = [v.meta.dtype for v in values if not v.is_literal_number() and len(v.meta.shape) > 0]
    best = max(dims, key=rank) if dims else None
    for group, is_literal in ((zero_d, False), (literal, True)):
        if not group:
            continue
        top = max(group, key=rank)
        if best is None:
            best = top if not is_literal else {0: hy.bool, 1: hy.int64, 2: hy.float32}[cat(top)]
        elif cat(top) > cat(best):
            best = top if not is_literal else {1: hy.int64, 2: hy.float32}[cat(top)]
    return best


_ORT_TYPE = {"hyflow.bool": "tensor(bool)", "hyflow.int32": "tensor(int32)", "hyflow.int64": "tensor(int64)",
             "hyflow.float16": "tensor(float16)", "hyflow.bfloat16": "tensor(bfloat16)",
             "hyflow.float32": "tensor(float)", "hyflow.float64": "tensor(double)"}
# Where an ONNX operator's type constraint lacks a dtype, compute in the next one that holds its values
# exactly enough: bool -> int32 (bool arithmetic is int arithmetic read back as != 0), int32 -> int64,
# 16-bit floats -> float32 (hyflow's own kernels compute 16-bit floats in float32 too).
_WIDER = {"hyflow.bool": "int32", "hyflow.int32": "int64", "hyflow.float16": "float32",
          "hyflow.bfloat16": "float32", "hyflow.int64": "float64", "hyflow.float32": "float64"}


def onnx_accepts(op, dtype, opset, input_index=0, domain=""):
    """Whether ONNX's schema of ``op`` (at ``opset``) allows ``dtype`` for input ``input_index``."""
    import onnx
    try:
        schema = onnx.defs.get_schema(op, opset, domain)
    except Exception:
        return True
    if input_index >= len(schema.inputs):
        return True
    tstr = schema.inputs[input_index].type_str
    for c in schema.type_constraints:
        if c.type_param_str == tstr:
            return _ORT_TYPE[str(dtype)] in c.allowed_type_strs
    return _ORT_TYPE[str(dtype)] == tstr


def accepted_dtype(op, dtype, opset, input_index=0, domain=""):
    """``dtype``, or the first wider dtype ``op`` accepts (see _WIDER)."""
    d = dtype
    while not onnx_accepts(op, d, opset, input_index, domain):
        nxt = _WIDER.get(str(d))
        if nxt is None:
            return dtype  # nothing wider: let the checker say so
        d = getattr(hy, nxt)
    return d


def out_dtype(node, i=0):
    r = node.results[i]
    return r.meta.dtype


def arg(node, name):
    return node.arg(name)


def norm_dim(d, ndim):
    return d + ndim if d < 0 else d


# ---- generic: the op table's mapping -------------------------------------------------------------------
BOOL_RESULT = {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Not", "IsNaN",
               "IsInf"}
BOOL_INPUT = {"And", "Or", "Xor", "Not"}


def lower_generic(cx, node, spec=None):
    spec = spec or hy.ops.onnx_spec(node.op)
    names = node.arg_names
    inputs = spec["inputs"] if spec["inputs"] is not None else [
        n for n, a in zip(names, node.args) if n != "out" and _is_tensor_arg(node, n)]
    tensor_values = [node.arg(n) for n in inputs if n is not None and isinstance(node.arg(n), cx.Value)]
    elementwise = node.lowering == "elementwise"
    if spec["op"] in BOOL_INPUT:
        cdt = hy.bool
    elif elementwise or node.entry.get("shape_rule") == "broadcast":
        cdt = compute_dtype(cx, tensor_values)
    else:
        cdt = None
    if cdt is not None:
        cdt = accepted_dtype(spec["op"], cdt, cx.b.opset, domain=spec["domain"])
    onnx_inputs = []
    for n in inputs:
        a = None if n is None else node.arg(n)
        if n is None or a is None:
            onnx_inputs.append("")
        elif isinstance(a, cx.Value):
            onnx_inputs.append(cx.operand(a, cdt or a.meta.dtype))
        elif isinstance(a, (list, tuple)):
            onnx_inputs.append(cx.b.ints(a))
        elif isinstance(a, bool) or isinstance(a, int):
            onnx_inputs.append(cx.b.const(int(a), hy.int64))
        else:
            raise cx.Unsupported(f"argument {n}={a!r} cannot be an ONNX input")
    while onnx_inputs and onnx_inputs[-1] == "":
        onnx_inputs.pop()
    attrs = {}
    for key, src in spec["attrs"].items():
        if isinstance(src, str) and src.startswith("'"):
            attrs[key] = src.strip("'")
        elif isinstance(src, str):
            v = node.arg(src)
            attrs[key] = int(v) if isinstance(v, bool) else v
        else:
            attrs[key] = int(src) if isinstance(src, bool) else src
    n_out = len(node.results)
    out = cx.b.node(spec["op"], onnx_inputs, n_out, domain=spec["domain"], **attrs)
    outs = [out] if n_out == 1 else out
    if elementwise and n_out == 1:
        produced = hy.bool if spec["op"] in BOOL_RESULT else cdt
        outs = [cx.b.cast(outs[0], produced, out_dtype(node))]
    return outs


def _is_tensor_arg(node, name):
    for a in node.entry["args"]:
        if a["name"] == name:
            return a["type"] in ("Tensor", "Tensor?")
    return False


def _elementwise_inputs(cx, node, names, onnx_op=None):
    vals = [node.arg(n) for n in names]
    cdt = compute_dtype(cx, [v for v in vals if isinstance(v, cx.Value)])
    op = onnx_op or (hy.ops.onnx_spec(node.op) or {}).get("op")
    if op:
        cdt = accepted_dtype(op, cdt, cx.b.opset)
    return [cx.operand(v, cdt) for v in vals], cdt


def _finish(cx, node, name, produced):
    return [cx.b.cast(name, produced, out_dtype(node))]


# ---- elementwise with extra arguments ------------------------------------------------------------------
@lowering("add", "sub")
def _add_sub(cx, node):
    (a, c), cdt = _elementwise_inputs(cx, node, ["self", "other"])
    alpha = node.arg("alpha")
    if alpha != 1:
        c = cx.b.node("Mul", [c, cx.b.const(alpha, cdt)])
    return _finish(cx, node, cx.b.node("Add" if node.op == "add" else "Sub", [a, c]), cdt)


@lowering("div")
def _div(cx, node):
    mode = node.arg("rounding_mode")
    (a, c), cdt = _elementwise_inputs(cx, node, ["self", "other"])
    if mode is None:
        odt = out_dtype(node)
        a, c = cx.b.cast(a, cdt, odt), cx.b.cast(c, cdt, odt)
        return [cx.b.node("Div", [a, c])]
    if not _dtypes.is_float(cdt):
        raise cx.Unsupported(f"div(rounding_mode={mode!r}) of integers (ONNX Div truncates only)")
    q = cx.b.node("Div", [a, c])
    if mode == "floor":
        return _finish(cx, node, cx.b.node("Floor", [q]), cdt)
    # trunc: sign(q) * floor(|q|)
    return _finish(cx, node, cx.b.node("Mul", [cx.b.node("Sign", [q]), cx.b.node("Floor", [cx.b.node("Abs", [q])])]),
                   cdt)


@lowering("remainder")
def _remainder(cx, node):
    (a, c), cdt = _elementwise_inputs(cx, node, ["self", "other"])
    if _dtypes.is_float(cdt):  # Python's modulo: a - floor(a / c) * c
        fl = cx.b.node("Floor", [cx.b.node("Div", [a, c])])
        return _finish(cx, node, cx.b.node("Sub", [a, cx.b.node("Mul", [fl, c])]), cdt)
    return _finish(cx, node, cx.b.node("Mod", [a, c], fmod=0), cdt)


@lowering("ne", composite=True)  # ONNX has no NotEqual
def _ne(cx, node):
    (a, c), _ = _elementwise_inputs(cx, node, ["self", "other"])
    return _finish(cx, node, cx.b.node("Not", [cx.b.node("Equal", [a, c])]), hy.bool)


@lowering("atan2", composite=True)
def _atan2(cx, node):
    # ONNX has no Atan2: atan(y/x) corrected by quadrant; x == 0 handled by the Div's +-inf.
    cdt = out_dtype(node)  # promote_float: integers are converted first
    y, x = cx.operand(node.arg("self"), cdt), cx.operand(node.arg("other"), cdt)
    b = cx.b
    base = b.node("Atan", [b.node("Div", [y, x])])
    zero = b.const(0.0, cdt)
    pi = b.const(math.pi, cdt)
    x_neg = b.node("Less", [x, zero])
    y_neg = b.node("Less", [y, zero])
    shift = b.node("Where", [y_neg, b.node("Neg", [pi]), pi])
    out = b.node("Where", [x_neg, b.node("Add", [base, shift]), base])
    # atan2(0, 0) is 0 (the Div gives NaN)
    both0 = b.node("And", [b.node("Equal", [x, zero]), b.node("Equal", [y, zero])])
    out = b.node("Where", [both0, b.node("Mul", [y, b.const(1.0, cdt)]), out])
    return _finish(cx, node, out, cdt)


@lowering("masked_fill")
def _masked_fill(cx, node):
    x, mask, value = node.arg("self"), node.arg("mask"), node.arg("value")
    dt = out_dtype(node)
    v = cx.operand(value, dt) if isinstance(value, cx.Value) else cx.b.const(value, dt)
    return [cx.b.node("Where", [cx.operand(mask, hy.bool), v, cx.operand(x, dt)])]


@lowering("where")
def _where(cx, node):
    (a, c), cdt = _elementwise_inputs(cx, node, ["self", "other"])
    cond = cx.operand(node.arg("condition"), hy.bool)
    return _finish(cx, node, cx.b.node("Where", [cond, a, c]), cdt)


@lowering("clamp")
def _clamp(cx, node):
    x = node.arg("self")
    dt = out_dtype(node)
    name = cx.operand(x, dt)
    lo, hi = node.arg("min"), node.arg("max")
    # Max then Min rather than Clip: hyflow clamps to min first, then max (min > max gives max), and
    # Max/Min take every dtype ONNX Runtime's Clip lacks
    if lo is not None:
        name = cx.b.node("Max", [name, cx.b.const(lo, dt)])
    if hi is not None:
        name = cx.b.node("Min", [name, cx.b.const(hi, dt)])
    return [name]


@lowering("clamp_tensor")
def _clamp_tensor(cx, node):
    vals = [v for v in (node.arg("self"), node.arg("min"), node.arg("max")) if v is not None]
    cdt = compute_dtype(cx, vals)
    name = cx.operand(node.arg("self"), cdt)
    if node.arg("min") is not None:
        name = cx.b.node("Max", [name, cx.operand(node.arg("min"), cdt)])
    if node.arg("max") is not None:
        name = cx.b.node("Min", [name, cx.operand(node.arg("max"), cdt)])
    return _finish(cx, node, name, cdt)


@lowering("gelu")
def _gelu(cx, node):
    dt = out_dtype(node)
    x = cx.operand(node.arg("self"), dt)
    approx = node.arg("approximate")
    if cx.b.opset >= 20:
        return [cx.b.node("Gelu", [x], approximate=approx)]
    b = cx.b
    if approx == "tanh":
        inner = b.node("Mul", [b.const(math.sqrt(2 / math.pi), dt),
                               b.node("Add", [x, b.node("Mul", [b.const(0.044715, dt),
                                                                b.node("Mul", [x, b.node("Mul", [x, x])])])])])
        t = b.node("Tanh", [inner])
    else:
        t = b.node("Erf", [b.node("Mul", [x, b.const(1 / math.sqrt(2), dt)])])
    return [b.node("Mul", [b.node("Mul", [x, b.const(0.5, dt)]), b.node("Add", [t, b.const(1.0, dt)])])]


@lowering("softplus")
def _softplus(cx, node):
    dt = out_dtype(node)
    x = cx.operand(node.arg("self"), dt)
    beta, threshold = node.arg("beta"), node.arg("threshold")
    b = cx.b
    bx = x if beta == 1 else b.node("Mul", [x, b.const(beta, dt)])
    sp = b.node("Softplus", [bx])
    if beta != 1:
        sp = b.node("Div", [sp, b.const(beta, dt)])
    # above the threshold (beta * x > threshold) hyflow returns x itself, as torch does
    return [b.node("Where", [b.node("Greater", [bx, b.const(threshold, dt)]), x, sp])]


@lowering("round")
def _round(cx, node):
    dt = out_dtype(node)
    x = cx.operand(node.arg("self"), dt)
    d = node.arg("decimals")
    if not _dtypes.is_float(dt):
        if d >= 0:
            return [cx.b.node("Identity", [x])]
        # to a multiple of 10**-d, ties to even, in float64 (exact below 2**53)
        xf = cx.b.cast(x, dt, hy.float64)
        s = cx.b.const(10.0 ** -d, hy.float64)
        y = cx.b.node("Mul", [cx.b.node("Round", [cx.b.node("Div", [xf, s])]), s])
        return [cx.b.cast(y, hy.float64, dt)]
    if d != 0 and str(dt) in ("hyflow.float16", "hyflow.bfloat16"):  # scaled in float32, as hyflow does
        x = cx.b.cast(x, dt, hy.float32)
        s = cx.b.const(10.0 ** d, hy.float32)
        y = cx.b.node("Div", [cx.b.node("Round", [cx.b.node("Mul", [x, s])]), s])
        return [cx.b.cast(y, hy.float32, dt)]
    if d == 0:
        return [cx.b.node("Round", [x])]
    s = cx.b.const(10.0 ** d, dt)
    return [cx.b.node("Div", [cx.b.node("Round", [cx.b.node("Mul", [x, s])]), s])]


@lowering("sign", "abs", "neg")
def _unary_same(cx, node):
    spec = hy.ops.onnx_spec(node.op)
    dt = out_dtype(node)
    x = cx.operand(node.arg("self"), dt)
    if str(dt) == "hyflow.bool":  # abs/sign of bool is the bool itself
        return [cx.b.node("Identity", [x])]
    y = cx.b.node(spec["op"], [x])
    if node.op == "sign" and _dtypes.is_float(dt):  # sign(NaN) is 0 in hyflow (as in torch)
        y = cx.b.node("Where", [cx.b.node("IsNaN", [x]), cx.b.const(0, dt), y])
    return [y]


@lowering("bitwise_not")
def _bitwise_not(cx, node):
    x = node.arg("self")
    if str(x.meta.dtype) == "hyflow.bool":  # ~ of a bool is logical not
        return [cx.b.node("Not", [cx.name(x)])]
    return [cx.b.node("BitwiseNot", [cx.name(x)])]


@lowering("to_dtype")
def _to_dtype(cx, node):
    x = node.arg("self")
    return [cx.b.node("Cast", [cx.name(x)], to=_dtypes.to_onnx(node.arg("dtype")))]


@lowering("contiguous", "clone")
def _identity(cx, node):
    return [cx.b.node("Identity", [cx.name(node.arg("self"))])]


# ---- composites: ops with no single ONNX operator --------------------------------------------------------
def _unary_composite(build):
    def lower(cx, node):
        dt = out_dtype(node)
        cdt = dt if _dtypes.is_float(dt) else hy.float32
        x = cx.operand(node.arg("self"), cdt)
        return _finish(cx, node, build(cx.b, x, cdt), cdt)
    return lower


def _square(cx, node):
    dt = out_dtype(node)
    wide = accepted_dtype("Mul", dt, cx.b.opset)
    x = cx.operand(node.arg("self"), wide)
    return [cx.b.cast(cx.b.node("Mul", [x, x]), wide, dt)]


COMPOSITES["square"] = _square
COMPOSITES["rsqrt"] = _unary_composite(lambda b, x, dt: b.node("Reciprocal", [b.node("Sqrt", [x])]))
COMPOSITES["silu"] = _unary_composite(lambda b, x, dt: b.node("Mul", [x, b.node("Sigmoid", [x])]))
COMPOSITES["expm1"] = _unary_composite(lambda b, x, dt: b.node("Sub", [b.node("Exp", [x]), b.const(1.0, dt)]))
COMPOSITES["log1p"] = _unary_composite(lambda b, x, dt: b.node("Log", [b.node("Add", [x, b.const(1.0, dt)])]))
def _trunc(cx, node):
    x = cx.name(node.arg("self"))
    if not _dtypes.is_float(out_dtype(node)):  # integers are whole already
        return [cx.b.node("Identity", [x])]
    return [cx.b.node("Mul", [cx.b.node("Sign", [x]), cx.b.node("Floor", [cx.b.node("Abs", [x])])])]


COMPOSITES["trunc"] = _trunc


def _isfinite(cx, node):
    x = node.arg("self")
    b = cx.b
    n = cx.name(x)
    if not _dtypes.is_float(x.meta.dtype):  # integers are always finite
        return [b.node("Expand", [b.const(True, hy.bool), b.node("Shape", [n])])]
    return [b.node("Not", [b.node("Or", [b.node("IsNaN", [n]), b.node("IsInf", [n])])])]


COMPOSITES["isfinite"] = _isfinite


@lowering("floor_divide", composite=True)
def _floor_divide(cx, node):
    (a, c), cdt = _elementwise_inputs(cx, node, ["self", "other"])
    if not _dtypes.is_float(cdt):
        raise cx.Unsupported("floor_divide of integers (ONNX Div truncates)")
    return _finish(cx, node, cx.b.node("Floor", [cx.b.node("Div", [a, c])]), cdt)


# ---- linear algebra ------------------------------------------------------------------------------------
@lowering("matmul", "mm", "bmm", "mv", "dot")
def _matmul(cx, node):
    a, c = [v for v in node.args if isinstance(v, cx.Value)][:2]
    return [cx.b.node("MatMul", [cx.name(a), cx.name(c)])]


@lowering("addmm")
def _addmm(cx, node):
    return [cx.b.node("Gemm", [cx.name(node.arg("mat1")), cx.name(node.arg("mat2")), cx.name(node.arg("self"))],
                      alpha=float(node.arg("alpha")), beta=float(node.arg("beta")))]


@lowering("outer")
def _outer(cx, node):
    dt = out_dtype(node)
    wide = accepted_dtype("Mul", dt, cx.b.opset)
    a = cx.b.node("Unsqueeze", [cx.operand(node.arg("self"), wide), cx.b.ints([1])])
    return [cx.b.cast(cx.b.node("Mul", [a, cx.operand(node.arg("vec2"), wide)]), wide, dt)]


# ---- reductions ----------------------------------------------------------------------------------------
def _reduce(cx, node, op, dims, keepdim, cast_to=None):
    x = node.arg("self")
    name = cx.name(x)
    if cast_to is not None:
        name = cx.b.cast(name, x.meta.dtype, cast_to)
    if len(x.meta.shape) == 0:  # a 0-d tensor reduced over its dim 0 (or -1) is itself; ONNX has no such axis
        name = cx.b.cast(name, cast_to or x.meta.dtype, out_dtype(node))
        if op in ("ReduceL1", "ReduceL2"):
            return cx.b.node("Abs", [name])
        return cx.b.node("Identity", [name])
    wide = accepted_dtype(op, cast_to or x.meta.dtype, cx.b.opset)
    if str(wide) != str(cast_to or x.meta.dtype):  # bool/int where ONNX wants numbers: compute wider, cast back
        y = _reduce_node(cx, op, cx.b.cast(name, cast_to or x.meta.dtype, wide), x, dims, keepdim)
        return cx.b.cast(y, wide, out_dtype(node))
    return _reduce_node(cx, op, name, x, dims, keepdim)


def _reduce_node(cx, op, name, x, dims, keepdim):
    inputs = [name] if dims is None or len(dims) == 0 and len(x.meta.shape) == 0 else [name, cx.b.ints(dims)]
    if dims is not None and len(dims) == 0 and len(x.meta.shape) > 0:
        inputs = [name]  # dim=[] reduces everything, as dim=None
    return cx.b.node(op, inputs, keepdims=int(keepdim))


@lowering("sum", "mean", "prod")
def _sum_like(cx, node):
    op = {"sum": "ReduceSum", "mean": "ReduceMean", "prod": "ReduceProd"}[node.op]
    dt = out_dtype(node)
    x = node.arg("self")
    if node.op == "mean" and x.meta.shape and _numel(x.meta.shape) == 0:
        # ONNX Runtime's mean of nothing is 0; hyflow's (and NumPy's) is NaN: sum / count
        total = _reduce(cx, node, "ReduceSum", node.arg("dim"), node.arg("keepdim"), cast_to=dt)
        return [cx.b.node("Div", [total, cx.b.const(0, dt)])]
    return [_reduce(cx, node, op, node.arg("dim"), node.arg("keepdim"), cast_to=dt)]


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


@lowering("amax", "amin", "max", "min")
def _minmax(cx, node):
    op = "ReduceMax" if node.op in ("amax", "max") else "ReduceMin"
    x = node.arg("self")
    dims = node.arg("dim") if node.op in ("amax", "amin") else None
    keep = node.arg("keepdim") if node.op in ("amax", "amin") else False
    return [_reduce(cx, node, op, dims, keep)]


def _argmax_input(cx, x, op):
    """x's name in a dtype ArgMax/ArgMin/TopK accept (bool compares as 0/1 in int32)."""
    wide = accepted_dtype(op, x.meta.dtype, cx.b.opset)
    return cx.b.cast(cx.name(x), x.meta.dtype, wide), wide


@lowering("max_dim", "min_dim")
def _minmax_dim(cx, node):
    x = node.arg("self")
    d, keep = node.arg("dim"), node.arg("keepdim")
    b = cx.b
    if len(x.meta.shape) == 0:
        return [b.node("Identity", [cx.name(x)]), b.const(0, hy.int64)]
    name, wide = _argmax_input(cx, x, "ArgMax")
    if str(wide) != str(x.meta.dtype):
        vals = b.node("ReduceMax" if node.op == "max_dim" else "ReduceMin", [name, b.ints([d])], keepdims=int(keep))
        idx = b.node("ArgMax" if node.op == "max_dim" else "ArgMin", [name], axis=d, keepdims=int(keep))
        return [b.cast(vals, wide, x.meta.dtype), idx]
    vals = b.node("ReduceMax" if node.op == "max_dim" else "ReduceMin", [name, b.ints([d])], keepdims=int(keep))
    idx = b.node("ArgMax" if node.op == "max_dim" else "ArgMin", [name], axis=d, keepdims=int(keep))
    return [vals, idx]


@lowering("argmax", "argmin")
def _argmax(cx, node):
    x = node.arg("self")
    d, keep = node.arg("dim"), node.arg("keepdim")
    op = "ArgMax" if node.op == "argmax" else "ArgMin"
    name, _ = _argmax_input(cx, x, op)
    if len(x.meta.shape) == 0:
        return [cx.b.const(0, hy.int64)]
    if d is None:
        flat = cx.b.node("Reshape", [name, cx.b.ints([-1])])
        out = cx.b.node(op, [flat], axis=0, keepdims=0)
        if keep:
            out = cx.b.node("Reshape", [out, cx.b.ints([1] * len(x.meta.shape))])
        return [out]
    return [cx.b.node(op, [name], axis=d, keepdims=int(keep))]


@lowering("norm")
def _norm(cx, node):
    p = node.arg("p")
    op = {2: "ReduceL2", 1: "ReduceL1"}.get(p)
    if op is not None:
        return [_reduce(cx, node, op, node.arg("dim"), node.arg("keepdim"))]
    x = node.arg("self")
    dt = out_dtype(node)
    b = cx.b
    a = b.node("Abs", [cx.operand(x, dt)])
    if len(x.meta.shape) == 0:
        return [a] if p != 0 else [b.cast(b.node("Not", [b.node("Equal", [a, b.const(0, dt)])]), hy.bool, dt)]
    dims, keep = node.arg("dim"), node.arg("keepdim")
    if p == float("inf"):
        return [_reduce_node(cx, "ReduceMax", a, x, dims, keep)]
    if p == float("-inf"):
        return [_reduce_node(cx, "ReduceMin", a, x, dims, keep)]
    if p == 0:  # the count of nonzeros
        nz = b.cast(b.node("Not", [b.node("Equal", [a, b.const(0, dt)])]), hy.bool, dt)
        return [_reduce_node(cx, "ReduceSum", nz, x, dims, keep)]
    powered = b.node("Pow", [a, b.const(p, dt)])
    total = _reduce_node(cx, "ReduceSum", powered, x, dims, keep)
    return [b.node("Pow", [total, b.const(1.0 / p, dt)])]


@lowering("logsumexp")
def _logsumexp(cx, node):
    return [_reduce(cx, node, "ReduceLogSumExp", node.arg("dim"), node.arg("keepdim"))]


@lowering("softmax", "log_softmax", "cumsum")
def _softmax(cx, node):
    x = node.arg("self")
    name = cx.b.cast(cx.name(x), x.meta.dtype, out_dtype(node))
    d = node.arg("dim")
    if node.op == "cumsum":
        if len(x.meta.shape) == 0:  # ONNX CumSum refuses scalars
            y = cx.b.node("CumSum", [cx.b.node("Reshape", [name, cx.b.ints([1])]), cx.b.const(0, hy.int64)])
            return [cx.b.node("Reshape", [y, cx.b.ints([])])]
        return [cx.b.node("CumSum", [name, cx.b.const(d, hy.int64)])]
    op = "Softmax" if node.op == "softmax" else "LogSoftmax"
    if len(x.meta.shape) == 0:  # of a 0-d tensor: over a 1-element vector
        y = cx.b.node(op, [cx.b.node("Reshape", [name, cx.b.ints([1])])], axis=0)
        return [cx.b.node("Reshape", [y, cx.b.ints([])])]
    return [cx.b.node("Softmax" if node.op == "softmax" else "LogSoftmax", [name], axis=d)]


def _ones(shape):
    """A nested list of ones of ``shape`` (a constant's value)."""
    return [_ones(shape[1:]) for _ in range(shape[0])] if shape else 1.0


@lowering("layer_norm")
def _layer_norm(cx, node):
    # LayerNormalization normalizes from `axis` to the last dim: the trailing len(normalized_shape) dims.
    # Scale is required (ones when weight is None); weight/bias take the input's type (ONNX's one T);
    # Mean/InvStdDev come out in float32 (stash_type 1) and are cast to hyflow's statistics dtype.
    x, w, b = node.arg("input"), node.arg("weight"), node.arg("bias")
    shape = list(node.arg("normalized_shape"))
    dt = x.meta.dtype
    scale = cx.operand(w, dt) if w is not None else cx.b.const(_ones(shape), dt)
    inputs = [cx.name(x), scale] + ([cx.operand(b, dt)] if b is not None else [])
    outs = cx.b.node("LayerNormalization", inputs, 3, axis=-len(shape), epsilon=float(node.arg("eps")),
                     stash_type=1)
    return [outs[0]] + [cx.b.cast(o, hy.float32, out_dtype(node, i)) for i, o in ((1, outs[1]), (2, outs[2]))]


# ---- shape ops -----------------------------------------------------------------------------------------
def _target_shape(cx, x, target):
    """A Reshape target for ``x``: hyflow's requested shape; with dynamic axes, a dim kept in place (same
    size at the same index, before any -1) becomes 0 ("copy from the input") so a batch dim stays symbolic."""
    target = list(target)
    if cx.dynamic and not cx.has_symbolic("shape"):
        for i, t in enumerate(target):
            if t == -1:
                break
            if i < len(x.meta.shape) and t == x.meta.shape[i] and t != 0:
                target[i] = 0
    return target


@lowering("view", "reshape")
def _reshape(cx, node):
    x = node.arg("self")
    return [cx.b.node("Reshape", [cx.name(x), cx.ints(_target_shape(cx, x, node.arg("shape")), "shape")])]


@lowering("flatten")
def _flatten(cx, node):
    x = node.arg("self")
    out_shape = list(node.results[0].meta.shape)
    nd = len(x.meta.shape)
    if nd == 0:
        return [cx.b.node("Reshape", [cx.name(x), cx.b.ints([1])])]
    s = norm_dim(node.arg("start_dim"), nd)
    target = out_shape[:s] + [-1] + out_shape[s + 1:]
    return [cx.b.node("Reshape", [cx.name(x), cx.b.ints(_target_shape(cx, x, target))])]


@lowering("transpose")
def _transpose(cx, node):
    x = node.arg("self")
    nd = len(x.meta.shape)
    perm = list(range(nd))
    if nd:
        a, c = norm_dim(node.arg("dim0"), nd), norm_dim(node.arg("dim1"), nd)
        perm[a], perm[c] = perm[c], perm[a]
    return [cx.b.node("Transpose", [cx.name(x)], perm=perm)]


@lowering("permute")
def _permute(cx, node):
    x = node.arg("self")
    nd = len(x.meta.shape)
    return [cx.b.node("Transpose", [cx.name(x)], perm=[norm_dim(d, nd) for d in node.arg("dims")])]


@lowering("expand", "broadcast_to")
def _expand(cx, node):
    x = node.arg("self")
    out = list(node.results[0].meta.shape)
    ins = list(x.meta.shape)
    # 1 where the input keeps its own size (Expand broadcasts both ways): a symbolic dim stays symbolic
    if cx.has_symbolic("shape"):  # the requested sizes, -1 (keep) as 1: Expand broadcasts both ways
        return [cx.b.node("Expand", [cx.name(x), cx.ints([1 if v == -1 else v for v in node.arg("shape")], "shape")])]
    shape = [1 if i >= len(out) - len(ins) and ins[i - (len(out) - len(ins))] == o else o for i, o in enumerate(out)]
    return [cx.b.node("Expand", [cx.name(x), cx.b.ints(shape)])]


@lowering("squeeze")
def _squeeze(cx, node):
    x = node.arg("self")
    shape = x.meta.shape
    dims = node.arg("dim")
    axes = [i for i, n in enumerate(shape) if n == 1] if dims is None else sorted(
        {norm_dim(d, len(shape)) for d in dims if len(shape) and shape[norm_dim(d, len(shape))] == 1})
    if not axes:
        return [cx.b.node("Identity", [cx.name(x)])]
    return [cx.b.node("Squeeze", [cx.name(x), cx.b.ints(axes)])]


@lowering("unsqueeze")
def _unsqueeze(cx, node):
    x = node.arg("self")
    d = norm_dim(node.arg("dim"), len(x.meta.shape) + 1)
    return [cx.b.node("Unsqueeze", [cx.name(x), cx.b.ints([d])])]


@lowering("select")
def _select(cx, node):
    x = node.arg("self")
    nd = len(x.meta.shape)
    d = norm_dim(node.arg("dim"), nd)
    i = node.arg("index")
    i = i + x.meta.shape[d] if i < 0 else i
    return [cx.b.node("Gather", [cx.name(x), cx.b.const(i, hy.int64)], axis=d)]


@lowering("slice")
def _slice(cx, node):
    x = node.arg("self")
    nd = len(x.meta.shape)
    d = norm_dim(node.arg("dim"), nd)
    start, end, step = node.arg("start"), node.arg("end"), node.arg("step")
    start = 0 if start is None else start
    end = INT64_MAX if end is None else end
    b = cx.b
    return [b.node("Slice", [cx.name(x), b.ints([start]), b.ints([end]), b.ints([d]), b.ints([step])])]


@lowering("cat", "stack")
def _cat(cx, node):
    tensors = node.arg("tensors")
    dt = out_dtype(node)
    names = [cx.operand(t, dt) for t in tensors]
    d = node.arg("dim")
    if node.op == "stack":
        nd = len(tensors[0].meta.shape) + 1
        d = norm_dim(d, nd)
        names = [cx.b.node("Unsqueeze", [n, cx.b.ints([d])]) for n in names]
    elif any(len(t.meta.shape) != 1 for t in tensors):
        # as torch (legacy rule): 1-D empty tensors are skipped when the others have another rank
        keep = [n for n, t in zip(names, tensors) if t.meta.shape != (0,)]
        names = keep or names[:1]
    return [cx.b.node("Concat", names, axis=d)]


@lowering("split", "chunk")
def _split(cx, node):
    x = node.arg("self")
    d = norm_dim(node.arg("dim"), len(x.meta.shape))
    sizes = [r.meta.shape[d] for r in node.results[0]]
    outs = cx.b.node("Split", [cx.name(x), cx.b.ints(sizes)], len(sizes), axis=d)
    return [[outs] if len(sizes) == 1 else outs]


@lowering("pad", min_opset=19)
def _pad(cx, node):
    x = node.arg("self")
    nd = len(x.meta.shape)
    pad = list(node.arg("pad"))
    begins, ends = [0] * nd, [0] * nd
    for i in range(len(pad) // 2):  # torch order: last dim first, (begin, end) pairs
        begins[nd - 1 - i], ends[nd - 1 - i] = pad[2 * i], pad[2 * i + 1]
    mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(
        node.arg("mode"))
    if mode is None:
        raise cx.Unsupported(f"pad(mode={node.arg('mode')!r})")
    inputs = [cx.name(x), cx.b.ints(begins + ends)]
    if mode == "constant":
        inputs.append(cx.b.const(node.arg("value"), x.meta.dtype))
    return [cx.b.node("Pad", inputs, mode=mode)]


@lowering("gather")
def _gather(cx, node):
    x = node.arg("self")
    d = norm_dim(node.arg("dim"), max(len(x.meta.shape), 1))
    return [cx.b.node("GatherElements", [cx.name(x), cx.operand(node.arg("index"), hy.int64)], axis=d)]


@lowering("scatter_add")
def _scatter_add(cx, node):
    x = node.arg("self")
    d = norm_dim(node.arg("dim"), max(len(x.meta.shape), 1))
    dt = out_dtype(node)
    wide = hy.float32 if str(dt) in ("hyflow.float16", "hyflow.bfloat16") else dt  # ORT adds 16-bit floats in float32
    index, src = node.arg("index"), node.arg("src")
    src_name = cx.operand(src, wide)
    if index.meta.shape != src.meta.shape:  # only src's index-shaped corner is read (as in torch)
        nd = len(index.meta.shape)
        src_name = cx.b.node("Slice", [src_name, cx.b.ints([0] * nd), cx.b.ints(index.meta.shape),
                                       cx.b.ints(range(nd))])
    y = cx.b.node("ScatterElements", [cx.operand(x, wide), cx.operand(index, hy.int64), src_name],
                  axis=d, reduction="add")
    return [cx.b.cast(y, wide, dt)]


@lowering("index_select")
def _index_select(cx, node):
    x = node.arg("self")
    d = norm_dim(node.arg("dim"), max(len(x.meta.shape), 1))
    return [cx.b.node("Gather", [cx.name(x), cx.operand(node.arg("index"), hy.int64)], axis=d)]


@lowering("repeat", "tile")
def _tile(cx, node):
    x = node.arg("self")
    reps = list(node.arg("repeats" if node.op == "repeat" else "dims"))
    shape = list(x.meta.shape)
    name = cx.name(x)
    if len(reps) > len(shape):
        name = cx.b.node("Reshape", [name, cx.b.ints([1] * (len(reps) - len(shape)) + shape)])
    elif len(reps) < len(shape):
        reps = [1] * (len(shape) - len(reps)) + reps
    return [cx.b.node("Tile", [name, cx.b.ints(reps)])]


@lowering("tril", "triu")
def _trilu(cx, node):
    x = node.arg("self")
    return [cx.b.node("Trilu", [cx.name(x), cx.b.const(node.arg("diagonal"), hy.int64)],
                      upper=int(node.op == "triu"))]


@lowering("topk")
def _topk(cx, node):
    x = node.arg("self")
    d = node.arg("dim")
    b = cx.b
    if len(x.meta.shape) == 0:  # k is 0 or 1
        if node.arg("k") == 0:
            empty_index = b.node("Reshape", [b.const(0, hy.int64), b.ints([0])])
            return [b.node("Reshape", [cx.name(x), b.ints([0])]), empty_index]
        return [b.node("Identity", [cx.name(x)]), b.const(0, hy.int64)]
    name, wide = _argmax_input(cx, x, "TopK")
    vals, idx = b.node("TopK", [name, b.ints([node.arg("k")])], 2, axis=d,
                       largest=int(node.arg("largest")), sorted=int(node.arg("sorted")))
    return [b.cast(vals, wide, x.meta.dtype), idx]


# ---- creation (shapes are the traced ones) -------------------------------------------------------------
@lowering("zeros", "ones", "full")
def _full(cx, node):
    dt = out_dtype(node)
    value = {"zeros": 0, "ones": 1}.get(node.op)
    if value is None:
        value = node.arg("fill_value")
    shape = list(node.results[0].meta.shape)
    return [cx.b.node("Expand", [cx.b.const(value, dt), cx.ints(shape, "size")])]


@lowering("arange")
def _arange(cx, node):
    dt = out_dtype(node)
    b = cx.b
    return [b.node("Range", [b.const(node.arg("start"), dt), b.const(node.arg("end"), dt),
                             b.const(node.arg("step"), dt)])]


@lowering("eye")
def _eye(cx, node):
    dt = out_dtype(node)
    shape = list(node.results[0].meta.shape)
    zeros = cx.b.node("Expand", [cx.b.const(0, dt), cx.b.ints(shape)])
    return [cx.b.node("EyeLike", [zeros])]


# ---- convolution building blocks -------------------------------------------------------------------------
@lowering("im2col", composite=True)
def _im2col(cx, node):
    """hyflow's im2col (N, C, H, W) -> (N, L, C*kh*kw) patch rows is a Conv with a one-hot weight (one output
    channel per (c, i, j) patch element), reshaped and transposed."""
    import numpy as np
    x = node.arg("self")
    n, c, h, w = x.meta.shape
    kh, kw = node.arg("kernel_size")
    dil, pad, st = node.arg("dilation"), node.arg("padding"), node.arg("stride")
    dt = x.meta.dtype
    if not _dtypes.is_float(dt):
        raise cx.Unsupported("im2col of a non-float tensor (ONNX Conv is float only)")
    k = c * kh * kw
    weight = np.zeros((k, c, kh, kw), dtype=np.float32)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                weight[(ci * kh + i) * kw + j, ci, i, j] = 1.0
    b = cx.b
    wname = b.const(weight, dt)
    y = b.node("Conv", [cx.name(x), wname], kernel_shape=[kh, kw], dilations=list(dil), strides=list(st),
               pads=[pad[0], pad[1], pad[0], pad[1]])
    y = b.node("Reshape", [y, b.ints([0, k, -1])])
    return [b.node("Transpose", [y], perm=[0, 2, 1])]


@lowering("max_pool2d_with_indices")
def _max_pool(cx, node):
    x = node.arg("self")
    p = node.arg("padding")
    y = cx.b.node("MaxPool", [cx.name(x)], kernel_shape=list(node.arg("kernel_size")),
                  strides=list(node.arg("stride")), pads=[p[0], p[1], p[0], p[1]],
                  dilations=list(node.arg("dilation")))
    if cx.is_used(node.results[1]):
        raise cx.Unsupported("max_pool2d's indices (ONNX MaxPool numbers them over the whole tensor)")
    return [y, None]


# ---- indexing and random ---------------------------------------------------------------------------------
@lowering("nonzero")
def _nonzero(cx, node):
    # ONNX NonZero gives (ndim, nnz); hyflow's (and torch's) nonzero is (nnz, ndim)
    x = node.arg("self")
    b = cx.b
    if len(x.meta.shape) == 0:  # (nnz, 0) for a 0-d tensor: nonzero of it as 1 element, no columns
        y = b.node("Transpose", [b.node("NonZero", [b.node("Reshape", [cx.name(x), b.ints([1])])])], perm=[1, 0])
        return [b.node("Slice", [y, b.ints([0]), b.ints([0]), b.ints([1])])]
    return [b.node("Transpose", [b.node("NonZero", [cx.name(x)])], perm=[1, 0])]


def _index_tuple(cx, node, indices):
    """k int64 index tensors of one shape S, for the first k dims -> (S..., k) GatherND/ScatterND indices."""
    if not indices or any(v is None for v in indices):
        raise cx.Unsupported("indexing with None (a full slice) between index tensors")
    if any(not _dtypes.is_int(v.meta.dtype) for v in indices):
        raise cx.Unsupported("indexing with a bool mask (its result size depends on the data)")
    shape = indices[0].meta.shape
    if any(v.meta.shape != shape for v in indices):
        raise cx.Unsupported("index tensors of different shapes (broadcast indices)")
    x = node.arg("self")
    b = cx.b
    parts = []
    for d, v in enumerate(indices):  # negative indices count from the end, as in Python
        i = cx.operand(v, hy.int64)
        n = b.const(x.meta.shape[d], hy.int64)
        i = b.node("Where", [b.node("Less", [i, b.const(0, hy.int64)]), b.node("Add", [i, n]), i])
        parts.append(b.node("Unsqueeze", [i, b.ints([len(shape)])]))
    return parts[0] if len(parts) == 1 else b.node("Concat", parts, axis=len(shape))


@lowering("index")
def _index(cx, node):
    return [cx.b.node("GatherND", [cx.name(node.arg("self")), _index_tuple(cx, node, node.arg("indices"))])]


@lowering("index_put_")
def _index_put(cx, node):
    x = node.arg("self")
    idx = _index_tuple(cx, node, node.arg("indices"))
    dt = x.meta.dtype
    # values broadcast to the indexed shape (indices' shape + the rest of self's dims)
    ishape = list(node.arg("indices")[0].meta.shape) + list(x.meta.shape[len(node.arg("indices")):])
    vals = cx.b.node("Expand", [cx.operand(node.arg("values"), dt), cx.b.ints(ishape)])
    red = "add" if node.arg("accumulate") else None
    return [cx.b.node("ScatterND", [cx.name(x), idx, vals], reduction=red)]


@lowering("rand", "randn")
def _random(cx, node):
    dt = out_dtype(node)
    shape = list(node.results[0].meta.shape)
    op = "RandomUniform" if node.op == "rand" else "RandomNormal"
    return [cx.b.node(op, [], dtype=_dtypes.to_onnx(dt), shape=shape)]


@lowering("multinomial")
def _multinomial(cx, node):
    x = node.arg("self")
    if not node.arg("replacement") and node.arg("num_samples") > 1:
        raise cx.Unsupported("multinomial without replacement (ONNX Multinomial draws with replacement)")
    b = cx.b
    logits = b.node("Log", [cx.name(x)])
    if len(x.meta.shape) == 1:
        logits = b.node("Unsqueeze", [logits, b.ints([0])])
    y = b.node("Multinomial", [logits], sample_size=node.arg("num_samples"), dtype=_dtypes.to_onnx(hy.int64))
    if len(x.meta.shape) == 1:
        y = b.node("Squeeze", [y, b.ints([0])])
    return [y]


# ---- more composites: reductions, shape ops and comparisons ONNX spells differently ----------------------
@lowering("all", "any", composite=True)
def _all_any(cx, node):
    x = node.arg("self")
    b = cx.b
    name = b.cast(cx.name(x), x.meta.dtype, hy.bool)  # nonzero is true
    name = b.cast(name, hy.bool, hy.int32)
    if len(x.meta.shape) == 0:
        return [b.cast(name, hy.int32, hy.bool)]
    if node.op == "all":  # over nothing: ReduceMin gives int32's max, true
        y = _reduce_node(cx, "ReduceMin", name, x, node.arg("dim"), node.arg("keepdim"))
        return [b.cast(y, hy.int32, hy.bool)]
    # any: a count of true values (ReduceMax over nothing would give int32's min, also "true")
    y = _reduce_node(cx, "ReduceSum", b.cast(name, hy.int32, hy.int64), x, node.arg("dim"), node.arg("keepdim"))
    return [b.node("Greater", [y, b.const(0, hy.int64)])]


@lowering("var", "std", composite=True)
def _var_std(cx, node):
    x = node.arg("self")
    odt = out_dtype(node)
    dt = hy.float32 if str(odt) in ("hyflow.float16", "hyflow.bfloat16") else odt  # as hyflow accumulates
    b = cx.b
    name = cx.operand(x, dt)
    shape, dims, keep = x.meta.shape, node.arg("dim"), node.arg("keepdim")
    nd = len(shape)
    axes = list(range(nd)) if dims is None or len(dims) == 0 else [norm_dim(d, max(nd, 1)) for d in dims]
    count = 1
    for a in axes:
        count *= shape[a] if nd else 1
    if nd == 0:
        mean, centred = name, b.node("Sub", [name, name])
        total = b.node("Mul", [centred, centred])
    else:
        mean = b.node("ReduceMean", [name, b.ints(axes)], keepdims=1)
        centred = b.node("Sub", [name, mean])
        total = b.node("ReduceSum", [b.node("Mul", [centred, centred]), b.ints(axes)], keepdims=int(keep))
    dof = count - node.arg("correction")
    var = b.node("Div", [total, b.const(max(dof, 0), dt)])
    return [b.cast(b.node("Sqrt", [var]) if node.op == "std" else var, dt, odt)]


@lowering("flip", composite=True)
def _flip(cx, node):
    x = node.arg("self")
    nd = len(x.meta.shape)
    name = cx.name(x)
    if nd == 0 or not node.arg("dims"):
        return [cx.b.node("Identity", [name])]
    axes = sorted({norm_dim(d, nd) for d in node.arg("dims")})
    b = cx.b
    return [b.node("Slice", [name, b.ints([-1] * len(axes)), b.ints([-INT64_MAX] * len(axes)), b.ints(axes),
                             b.ints([-1] * len(axes))])]


@lowering("roll", composite=True)
def _roll(cx, node):
    x = node.arg("self")
    b = cx.b
    name = cx.name(x)
    shape = list(x.meta.shape)
    shifts, dims = list(node.arg("shifts")), node.arg("dims")
    if dims is None:  # roll of the flattened tensor
        flat = b.node("Reshape", [name, b.ints([-1])])
        n = 1
        for s in shape:
            n *= s
        rolled = _roll_axis(b, flat, 0, n, shifts[0])
        return [b.node("Reshape", [rolled, b.ints(shape)])]
    for s, d in zip(shifts, dims):
        d = norm_dim(d, len(shape))
        name = _roll_axis(b, name, d, shape[d], s)
    return [name]


def _roll_axis(b, name, axis, n, shift):
    if n == 0 or shift % n == 0:
        return b.node("Identity", [name])
    k = shift % n  # the last k elements come first
    tail = b.node("Slice", [name, b.ints([n - k]), b.ints([n]), b.ints([axis])])
    head = b.node("Slice", [name, b.ints([0]), b.ints([n - k]), b.ints([axis])])
    return b.node("Concat", [tail, head], axis=axis)


@lowering("isclose", composite=True)
def _isclose(cx, node):
    a, c = node.arg("self"), node.arg("other")
    cdt = compute_dtype(cx, [a, c])
    if not _dtypes.is_float(cdt):
        cdt = hy.float64  # integers compare exactly through float64 below 2**53
    elif str(cdt) in ("hyflow.float16", "hyflow.bfloat16"):
        cdt = hy.float32
    b = cx.b
    x, y = cx.operand(a, cdt), cx.operand(c, cdt)
    diff = b.node("Abs", [b.node("Sub", [x, y])])
    bound = b.node("Add", [b.const(node.arg("atol"), cdt), b.node("Mul", [b.const(node.arg("rtol"), cdt),
                                                                          b.node("Abs", [y])])])
    finite = b.node("Not", [b.node("Or", [b.node("IsInf", [x]), b.node("IsInf", [y])])])
    close = b.node("Or", [b.node("Equal", [x, y]), b.node("And", [finite, b.node("LessOrEqual", [diff, bound])])])
    if node.arg("equal_nan"):
        close = b.node("Or", [close, b.node("And", [b.node("IsNaN", [x]), b.node("IsNaN", [y])])])
    return [close]


FORMS.update({
    "all": "ReduceMin over the values as bool (int32)", "any": "ReduceSum of the true values > 0",
    "var": "ReduceMean, Sub, Mul, ReduceSum, Div by (n - correction)", "std": "Sqrt of var's form",
    "flip": "Slice with step -1", "roll": "two Slices and a Concat per dim",
    "isclose": "Abs(a - b) <= atol + rtol * Abs(b), or a == b (and both NaN with equal_nan)",
})


from . import _lower_fft  # noqa: E402,F401  (registers the FFT lowerings: DFT and the complex views)
