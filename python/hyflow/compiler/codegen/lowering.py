"""Lowering of one elementwise node: which ``scalar:`` expression it computes, in which C++ type.

The decision mirrors the op's eager kernel (csrc/kernels/cpu/{unary,unary_float,binary,ternary}.cpp), so a
generated loop computes what eager computes:

* the **variant** of ops whose kernel picks a formula from an argument (div's rounding_mode, clamp's
  missing bound, gelu's approximate, round's decimals and dtype);
* the **compute type**: the traced output dtype (ground truth) for the promote/same/promote_float/arg
  rules; for the bool rule (comparisons, predicates) the inputs' promoted dtype, as binary_kernel chooses
  it (including "a Python int the integer dtype cannot hold compares in int64"); bool for logical ops;
* **parameters** (alpha, clamp bounds, softplus' beta, masked_fill's value, round's decimals) are baked
  into the source as the literals the eager functor receives (a double, or an int64 for int arguments):
  the guards specialize non-tensor arguments by value, so the source is exact for every call it serves.

A node is *not* lowered (it runs eagerly between compiled groups, never an error) when eager would check
data at run time (integer division by zero, negative integer powers), when it has a float16/bfloat16 or
other dtype that scalar_math.h does not compute in, when its result aliases an input (``contiguous()`` of
a contiguous tensor, ``to_dtype`` to the same dtype return their input), or when autograd must record it.
:func:`lower_node` says why in the exception it raises.
"""
import functools
import math

from ... import _C
from ...ops.metadata import metadata as _op_metadata
from ...ops import scalar_expr
from ..ir import Value

__all__ = ["NotLowerable", "NodeLowering", "lower_node", "C_TYPES", "dtype_name"]

#: The element types generated code computes and stores in (scalar_math.h's compute types).
C_TYPES = {"bool": "bool", "int32": "int32_t", "int64": "int64_t", "float32": "float", "float64": "double"}
_INTEGRAL = ("int32", "int64")
_FLOATING = ("float32", "float64")
_INT_LIMITS = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}


class NotLowerable(Exception):
    """This node runs eagerly; the message says why (shown by explain)."""


def dtype_name(dtype):
    return str(dtype).replace("hyflow.", "")


class NodeLowering:
    """What code generation needs about one node.

    ``expr`` is the parsed scalar expression; ``tensor_args`` pairs each tensor argument name it reads with
    the Value (or None for a missing optional); ``compute`` / ``result`` are C++ element types;
    ``params`` maps parameter names to C++ literals; ``arg_kinds`` says whether an argument is read as a
    number or as a bool.
    """

    __slots__ = ("node", "expr", "tensor_args", "compute", "result", "params", "variant")

    def __init__(self, node, expr, tensor_args, compute, result, params, variant):
        self.node, self.expr, self.tensor_args = node, expr, tensor_args
        self.compute, self.result, self.params, self.variant = compute, result, params, variant


@functools.lru_cache(maxsize=None)
def _scalar_field(op):
    return _op_metadata(op).get("scalar")


@functools.lru_cache(maxsize=None)
def _parsed(op, variant):
    field = _scalar_field(op)
    text = field[variant] if variant is not None else field
    args = _op_metadata(op)["args"]
    tensors = [a["name"] for a in args if a["type"] in ("Tensor", "Tensor?")]
    params = [a["name"] for a in args if a["type"] not in ("Tensor", "Tensor?", "Tensor[]")]
    return scalar_expr.parse(op, text, tensors, params), {a["name"]: a["type"] for a in args}


def _double_literal(x):
    x = float(x)
    if math.isnan(x):
        return "std::numeric_limits<double>::quiet_NaN()"
    if math.isinf(x):
        return ("-" if x < 0 else "") + "std::numeric_limits<double>::infinity()"
    return repr(x) if ("." in repr(x) or "e" in repr(x)) else repr(x) + ".0"


def literal_of_number(value, dtype):
    """C++ literal of a wrapped Python number as the 0-d tensor of ``dtype`` holds it."""
    name = dtype_name(dtype)
    if name == "bool":
        return "true" if value else "false"
    if name in _INTEGRAL:
        v = int(value)
        return f"int64_t({v}LL)" if v != -2**63 else "int64_t(-9223372036854775807LL - 1)"
    return _double_literal(value)


def _param_literal(value, schema_type):
    """The literal the eager functor receives for a parameter: an int64 for `int`, else a double
    (Scalar::to_double(), float arguments)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if schema_type == "int":
        return f"int64_t({int(value)}LL)"
    return _double_literal(value)


def _choose_variant(node, dtype_out):
    """The variant of a multi-formula op, as its eager kernel picks it; None for single-formula ops."""
    op = node.op
    field = _scalar_field(op)
    if not isinstance(field, dict):
        return None
    if op == "div":
        mode = node.arg("rounding_mode")
        if mode is None:
            return "none"
        if mode == "trunc" and dtype_out in _FLOATING:
            return "trunc"
        raise NotLowerable(f"div(rounding_mode={mode!r}) on {dtype_out} runs eagerly")
    if op in ("clamp", "clamp_tensor"):
        lo, hi = node.arg("min") is not None, node.arg("max") is not None
        if lo and hi:
            return "both"
        if lo or hi:
            return "min" if lo else "max"
        raise NotLowerable(f"{op} without bounds")
    if op == "gelu":
        approx = node.arg("approximate")
        if approx in field:
            return approx
        raise NotLowerable(f"gelu(approximate={approx!r})")
    if op == "round":
        decimals = node.arg("decimals")
        if dtype_out in _FLOATING:
            return "whole" if decimals == 0 else ("up" if decimals > 0 else "down")
        if decimals >= 0:
            return "whole"
        max_digits = 9 if dtype_out == "int32" else 18
        return "zero" if -decimals > max_digits else "int_down"
    if op == "isclose":
        # The eager kernel compares integers in float64 (tolerances are not truncated); only float inputs
        # have a formula in their own type.
        if any(_value_dtype(v) not in _FLOATING for v in node.input_values()):
            raise NotLowerable("isclose on non-float inputs compares in float64: runs eagerly")
        return "nan_equal" if node.arg("equal_nan") else "nan_unequal"
    raise NotLowerable(f"{op}: no rule to choose among the variants {sorted(field)}")


def _value_dtype(v):
    return dtype_name(v.meta.dtype)


def _promoted(values):
    """The dtype binary_kernel computes a comparison in: result_type of the operands (wrapped numbers are
    weak), int64 when a wrapped int does not fit the integer result (comparisons compare exactly)."""
    tensors = [_probe(v) for v in values]
    common = dtype_name(_C._compiler.result_type(tensors))
    if common in _INTEGRAL:
        lo, hi = _INT_LIMITS[common]
        for v in values:
            if v.is_literal_number() and _value_dtype(v) in _INTEGRAL and not lo <= int(v.tensor.item()) <= hi:
                return "int64"
    return common


def _probe(v):
    """A tensor that promotes like ``v``: the wrapped number itself, else an empty tensor of its dtype and
    rank (0-d tensors and dimensioned tensors promote differently)."""
    if v.is_literal_number() or v.tensor is not None:
        return v.tensor
    return _C.ops.empty([0] * len(v.meta.shape) if v.meta.shape else [], dtype=v.meta.dtype)


# Ops whose eager kernel checks the *data* before computing (and raises): generated code cannot raise, so
# these run eagerly on the dtypes where the check applies.
def _data_checked(op, dtype_out, inputs):
    if op in ("floor_divide", "remainder") and dtype_out not in _FLOATING:
        return "integer division checks the divisor for zero at run time"
    if op == "pow" and dtype_out not in _FLOATING:
        return "integer pow checks for negative exponents at run time"
    if op == "to_dtype" and dtype_out in _INTEGRAL + ("bool",) and any(
            _value_dtype(v) in _FLOATING for v in inputs):
        return "float-to-integer casts of out-of-range values are not specified in C++"
    return None


# Ops whose eager kernel is copy/broadcast machinery with a shape rule other than elementwise broadcast.
_NOT_BROADCAST = {"outer"}


def lower_node(node):
    """A :class:`NodeLowering` for ``node``, or raise :class:`NotLowerable` naming why it runs eagerly."""
    if node.lowering != "elementwise" or not node.is_pure():
        raise NotLowerable(f"{node.op} is not a pure elementwise op")
    if node.op in _NOT_BROADCAST:
        raise NotLowerable(f"{node.op}'s shape rule is not elementwise broadcasting")
    outs = node.output_values()
    if len(outs) != 1:
        raise NotLowerable(f"{node.op} has {len(outs)} results")
    out = outs[0]
    dtype_out = _value_dtype(out)
    inputs = node.input_values()
    for v in [out] + inputs:
        if _value_dtype(v) not in C_TYPES:
            raise NotLowerable(f"{node.op}: dtype {_value_dtype(v)} is not computed by generated code yet")
        if v.meta.device is not None and str(v.meta.device) != "cpu":
            raise NotLowerable(f"{node.op}: device {v.meta.device}")
    if node.grad_enabled and (out.meta.requires_grad or any(v.meta.requires_grad for v in inputs)):
        raise NotLowerable(f"{node.op}: autograd records it (an input requires grad)")
    if out.storage is not None and any(v.storage == out.storage for v in inputs):
        raise NotLowerable(f"{node.op} returns (a view of) its input")
    reason = _data_checked(node.op, dtype_out, inputs)
    if reason:
        raise NotLowerable(f"{node.op} on {dtype_out}: {reason}")
    variant = _choose_variant(node, dtype_out)
    expr, types = _parsed(node.op, variant)

    tensor_args = []
    for name in expr.arg_kinds:
        a = node.arg(name)
        if not isinstance(a, Value):
            raise NotLowerable(f"{node.op}: tensor argument {name} is {a!r}")
        tensor_args.append((name, a))
    params = {}
    for name in expr.params:
        value = node.arg(name)
        if value is None or isinstance(value, (list, tuple, str)):
            raise NotLowerable(f"{node.op}: parameter {name}={value!r}")
        params[name] = _param_literal(value, types[name])

    rule = node.entry.get("dtype_rule")
    if rule == "bool":
        if expr.root.result != scalar_expr.BOOL:
            raise NotLowerable(f"{node.op}: bool rule with a numeric expression")
        number_args = [v for n, v in tensor_args if expr.arg_kinds[n] == scalar_expr.VALUE]
        if not number_args:
            compute = "bool"
        elif len(number_args) == 1:
            compute = _value_dtype(number_args[0])
        else:
            compute = _promoted(number_args)
        if dtype_out != "bool":
            raise NotLowerable(f"{node.op}: bool rule but traced dtype {dtype_out}")
        result = "bool"
    elif rule in ("promote", "promote_float", "same", "arg"):
        compute = result = dtype_out
    else:
        raise NotLowerable(f"{node.op}: dtype_rule {rule}")
    if compute not in C_TYPES:
        raise NotLowerable(f"{node.op}: compute dtype {compute}")
    return NodeLowering(node, expr, tensor_args, C_TYPES[compute], C_TYPES[result], params, variant)
