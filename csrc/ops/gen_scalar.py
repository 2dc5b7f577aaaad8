"""Generate the eager elementwise functors from the op table's `scalar:` expressions (called by gen_ops.py).

Every `lowering: elementwise` op declares its per-element math once, in `scalar:` (a string, or a mapping
of variant name -> string for ops whose kernel picks a formula from a string or optional argument, e.g.
gelu's `approximate`). The language is python/hyflow/ops/scalar_expr.py, loaded here by path. Writes:

  hyflow/ops/scalar_ops_generated.h        `hy::scalar_ops::<op>[_<variant>]`: a struct holding the op's
                                           parameters with a templated `operator()` over one element, in
                                           terms of csrc/kernels/scalar_math.h (no Eigen). The handwritten
                                           kernels pass it to their drivers (unary_kernel, binary_kernel...).
  hyflow/ops/scalar_ops_eigen_generated.h  `hy::scalar_ops::<op>[_<variant>]_packet<T>`: the same math as an
                                           Eigen functor (scalar operator() + packetOp), for ops whose every
                                           function has a packet form; the vectorized float kernels
                                           (unary_float_kernel) run it with unaryExpr/binaryExpr.

An elementwise op without `scalar:` fails the build, naming the op.
"""
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "scalar_expr", os.path.join(_HERE, "..", "..", "python", "hyflow", "ops", "scalar_expr.py"))
scalar_expr = importlib.util.module_from_spec(_spec)
sys.modules["scalar_expr"] = scalar_expr  # dataclasses look their module up by name
_spec.loader.exec_module(scalar_expr)

PARAM_CPP = {"Scalar": "double", "float": "double", "int": "int64_t", "bool": "bool"}


def op_expressions(op):
    """[(functor name, Expr)] of one op (empty when it declares no `scalar`); fails on a bad expression."""
    spec = op.entry.get("scalar")
    if spec is None:
        return []
    written = {a.name for a in op.writes}
    tensors = [a.name for a in op.args if a.type == "Tensor" and a.name not in written]
    params = {a.name: a for a in op.args if a.type in PARAM_CPP}
    variants = spec.items() if isinstance(spec, dict) else [(None, spec)]
    out = []
    for variant, text in variants:
        name = op.name if variant is None else f"{op.name}_{variant}"
        try:
            out.append((name, scalar_expr.parse(op.name, text, tensors, list(params)), params, tensors))
        except scalar_expr.ScalarExprError as e:
            raise SystemExit(f"gen_ops.py: {e}") from None
    return out


def check_elementwise_have_scalar(ops):
    missing = [op.name for op in ops if op.entry.get("lowering") == "elementwise" and "scalar" not in op.entry]
    if missing:
        raise SystemExit("gen_ops.py: elementwise ops need a `scalar:` expression (or `lowering: opaque` with a "
                         "comment saying why): " + ", ".join(missing))


def _ctor(struct, expr, params, member_type, hoisted):
    """Members and constructor: the used parameters, and hoisted parameter-only calls computed once."""
    if not expr.params and not hoisted:
        return []
    lines = [f"  {member_type(params[p])} {p};" for p in expr.params]
    lines += [f"  {member_type(None)} {h};" for _, h in hoisted]
    ctor_args = ", ".join(f"{PARAM_CPP[params[p].type]} {p}_" for p in expr.params)
    inits = [f"{p}({p}_)" for p in expr.params]
    arg_names = {p: f"{p}_" for p in expr.params}
    for node, h in hoisted:
        value = scalar_expr.param_only_cpp(node, arg_names)
        inits.append(f"{h}(static_cast<{member_type(None)}>({value}))")
    lines.append(f"  explicit {struct}({ctor_args}) : {', '.join(inits)} {{}}")
    return lines


def scalar_functor(name, expr, params, tensors):
    hoisted = [(n, f"hoisted{i}") for i, n in enumerate(expr.hoisted())]
    lines = [f"/// {expr.op}: {expr.text}", f"struct {name} {{"]
    lines += _ctor(name, expr, params, lambda a: PARAM_CPP[a.type] if a is not None else "double", hoisted)
    args = list(expr.arg_kinds.items())
    if not args and tensors:
        args = [(tensors[0], "value")]  # a constant: still one element in, one out
        unused = "[[maybe_unused]] "
    else:
        unused = ""
    sig = ", ".join(f"{unused}{'T' if k == 'value' else 'bool'} {a}" for a, k in args)
    ret = "bool" if expr.root.result == "bool" else ("T" if expr.typed else "bool")
    tmpl = "template <typename T> " if expr.typed else ""
    lines.append(f"  {tmpl}HY_HOST_DEVICE {ret} operator()({sig}) const {{ return {expr.cpp(hoisted_names=hoisted)}; }}")
    lines.append("};")
    return lines


def packet_functor(name, expr, params):
    struct = name + "_packet"
    hoisted = [(n, f"hoisted{i}") for i, n in enumerate(expr.hoisted())]
    args = list(expr.arg_kinds)
    lines = [f"/// {expr.op} for Eigen arrays (scalar and packet paths): {expr.text}",
             f"template <typename T> struct {struct} {{"]
    lines += _ctor(struct, expr, params, lambda a: "T", hoisted)
    sig = ", ".join(f"const T& {a}" for a in args)
    psig = ", ".join(f"const Packet& {a}" for a in args)
    lines += [f"  T operator()({sig}) const {{",
              "    using namespace Eigen::internal;  // NOLINT: Eigen's scalar functors",
              f"    return {expr.eigen_cpp(False, hoisted)};", "  }",
              f"  template <typename Packet> Packet packetOp({psig}) const {{",
              "    using namespace Eigen::internal;  // NOLINT: Eigen's packet primitives",
              f"    return {expr.eigen_cpp(True, hoisted)};", "  }", "};"]
    traits = " &&\n                     ".join(expr.packet_traits()) or "1"
    trait_lines = [f"template <typename T> struct functor_traits<hy::scalar_ops::{struct}<T>> {{",
                   f"  enum {{ Cost = {5 + 10 * len(expr.functions)},",
                   f"         PacketAccess = {traits} }};", "};"]
    return lines, trait_lines


def gen_scalar_headers(ops):
    """(light header text, Eigen header text) for every op's `scalar:` expressions."""
    check_elementwise_have_scalar(ops)
    light = ["// Generated by csrc/ops/gen_ops.py (gen_scalar.py) from the op table's `scalar:` expressions. "
             "Do not edit.", "#pragma once", "#include <cstdint>", "", '#include "kernels/scalar_math.h"', "",
             "namespace hy::scalar_ops {", ""]
    eigen = ["// Generated by csrc/ops/gen_ops.py (gen_scalar.py) from the op table's `scalar:` expressions. "
             "Do not edit.", "#pragma once", "#include <Eigen/Core>", "#include <unsupported/Eigen/SpecialFunctions>",
             "", '#include "hyflow/ops/scalar_ops_generated.h"', '#include "kernels/cpu/scalar_packet.h"', "",
             "namespace hy::scalar_ops {", ""]
    traits = []
    for op in ops:
        for name, expr, params, tensors in op_expressions(op):
            light += scalar_functor(name, expr, params, tensors) + [""]
            if expr.packet_ok():
                body, tr = packet_functor(name, expr, params)
                eigen += body + [""]
                traits += tr
    light += ["}  // namespace hy::scalar_ops", ""]
    eigen += ["}  // namespace hy::scalar_ops", "", "namespace Eigen::internal {"] + traits + \
             ["}  // namespace Eigen::internal", ""]
    return "\n".join(light), "\n".join(eigen)
