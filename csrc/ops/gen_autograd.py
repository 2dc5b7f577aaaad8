"""Autograd code generation from the op table's `backward` formulas (used by gen_ops.py).

A formula is a Python expression over `grad` (gradient of output 0), `grads_or_zeros` (all output
gradients), `result` / `result0`, `result1`... (forward outputs), the op's arguments and their
`.shape` / `.dtype` / `.mT`, numbers, strings, `[a, b]` lists, `x if cond else y` and `v is None`.
Calls name ops of the table (`mul(a, b)` or `a.mul(b)`) or helpers of csrc/autograd/backward_helpers.h.
It is parsed with Python's `ast` and rewritten mechanically to C++: `x.shape` -> `x.shape()`,
`f(a)` -> `ops::f(a)`, `a * b` -> Tensor operator overloads (autograd/backward_math_internal.h).
A key naming several inputs ("input, weight, bias") has one formula returning a std::tuple of their
gradients, computed once when any of them is needed.
An op whose formula uses anything else is recorded with a node that raises "not differentiable yet".
"""
import ast

HELPERS = {
    "sum_to", "sum_backward", "reduced_numel", "var_backward", "std_backward", "softmax_backward_data",
    "log_softmax_backward_data", "logsumexp_backward", "amax_amin_backward", "evenly_distribute_backward",
    "value_selecting_reduction_backward", "prod_backward", "cumsum_backward", "cumprod_backward",
    "norm_backward", "slice_backward", "select_backward", "index_select_backward", "repeat_backward",
    "pad_backward", "inverse_permutation", "matmul_backward_self", "matmul_backward_other", "scaled", "mm_backward_mat2", "zeros_like",
    "cat_sizes", "negate_list", "unbind", "masked_select_backward", "clamp_backward", "clamp_tensor_backward", "scatter_add_src_backward",
    "conj", "grad_like", "layer_norm_backward_all",
    "linalg_det_backward", "linalg_slogdet_backward", "linalg_solve_backward", "linalg_solve_triangular_backward",
    "linalg_cholesky_backward", "linalg_qr_backward", "linalg_eigh_backward", "linalg_svd_backward",
    "linalg_pinv_backward",
}
# Helpers whose result is not a tensor (for constant wrapping and typing).
NON_TENSOR_HELPERS = {"reduced_numel", "inverse_permutation", "cat_sizes", "negate_list"}
CPP_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
CMP_OPS = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!="}


class Unsupported(Exception):
    pass


class DeclaredNotImplemented(Unsupported):
    """A formula `not_implemented('why')`: the table says on purpose that this gradient is missing, so the
    op records a node that raises "not differentiable yet (why)" instead of failing the build."""


class Translator:
    """Rewrites one formula to a C++ expression. `names` maps formula names to 'tensor'|'scalar'|'other'."""

    def __init__(self, op_types, names):
        self.op_types = op_types  # op name -> list of (arg name, arg type)
        self.names = names

    def kind(self, node):
        if isinstance(node, ast.Name):
            return self.names.get(node.id, "other")
        if isinstance(node, ast.Constant):
            return "number" if isinstance(node.value, (int, float)) and not isinstance(node.value, bool) else "other"
        if isinstance(node, ast.UnaryOp):
            return self.kind(node.operand)
        if isinstance(node, ast.BinOp):
            kinds = {self.kind(node.left), self.kind(node.right)}
            return "tensor" if "tensor" in kinds else "number"
        if isinstance(node, ast.Compare):
            return "tensor" if "tensor" in {self.kind(node.left), self.kind(node.comparators[0])} else "other"
        if isinstance(node, ast.Call):
            fname = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            return "number" if fname == "reduced_numel" else "other" if fname in NON_TENSOR_HELPERS else "tensor"
        if isinstance(node, ast.IfExp):
            return self.kind(node.body)
        return "other"

    def emit(self, node):
        if isinstance(node, ast.Name):
            if node.id not in self.names:
                raise Unsupported(f"unknown name '{node.id}'")
            return node.id
        if isinstance(node, ast.Constant):
            v = node.value
            if v is None:
                return "std::nullopt"
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, int):
                return f"int64_t{{{v}}}"
            if isinstance(v, float):
                return repr(v)
            if isinstance(v, str):
                return f'std::string("{v}")'
            raise Unsupported(f"constant {v!r}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return f"(-{self.emit(node.operand)})"
        if isinstance(node, ast.BinOp) and type(node.op) in CPP_OPS:
            return f"({self.emit(node.left)} {CPP_OPS[type(node.op)]} {self.emit(node.right)})"
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            op, right = node.ops[0], node.comparators[0]
            if isinstance(op, (ast.Is, ast.IsNot)) and isinstance(right, ast.Constant) and right.value is None:
                neg = "!" if isinstance(op, ast.Is) else ""
                return f"({neg}{self.emit(node.left)}.has_value())"
            if type(op) in CMP_OPS:
                return f"({self.emit(node.left)} {CMP_OPS[type(op)]} {self.emit(right)})"
        if isinstance(node, ast.IfExp):
            return f"(({self.emit(node.test)}) ? Tensor({self.emit(node.body)}) : Tensor({self.emit(node.orelse)}))"
        if isinstance(node, ast.List):
            return "DimVector{" + ", ".join(self.emit(e) for e in node.elts) + "}"
        if isinstance(node, ast.Attribute):
            base = self.emit(node.value)
            if node.attr in ("shape", "dtype"):
                return f"{base}.{node.attr}()"
            if node.attr == "mT":
                return f"ops::transpose({base}, -2, -1)"
            raise Unsupported(f"attribute .{node.attr}")
        if isinstance(node, ast.Call):
            if node.keywords:
                raise Unsupported("keyword arguments")
            if isinstance(node.func, ast.Attribute):  # x.f(a) == f(x, a)
                fname, args = node.func.attr, [node.func.value] + node.args
            elif isinstance(node.func, ast.Name):
                fname, args = node.func.id, list(node.args)
            else:
                raise Unsupported("call of an expression")
            if fname == "not_implemented":
                if len(args) != 1 or not isinstance(args[0], ast.Constant) or not isinstance(args[0].value, str):
                    raise Unsupported("not_implemented takes one string: the reason")
                raise DeclaredNotImplemented(args[0].value)
            if fname in HELPERS:
                return f"bw::{fname}(" + ", ".join(self.emit(a) for a in args) + ")"
            if fname not in self.op_types:
                raise Unsupported(f"unknown function '{fname}'")
            params = self.op_types[fname]
            if len(args) > len(params):
                raise Unsupported(f"too many arguments to {fname}")
            out = []
            for a, (pname, ptype) in zip(args, params):
                text = self.emit(a)
                if ptype == "Tensor" and self.kind(a) in ("number",):
                    text = f"bw::scalar_tensor({text})"
                out.append(text)
            return f"ops::{fname}(" + ", ".join(out) + ")"
        raise Unsupported(f"syntax {ast.dump(node)[:40]}")


def formula_names(expr):
    return {n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)}


def value_type(a):
    """C++ type to store a non-tensor argument in a node."""
    return a.cpp_type().replace("const ", "").replace("&", "").strip()


def gen_autograd(ops):
    """Returns (forward declarations for ops_generated.cpp, autograd_generated.cpp text, set of op names recorded)."""
    op_types = op_arg_types(ops)
    decls, body, recorded = [], [], {}
    for op in ops:
        bw = op.entry.get("backward")
        if not isinstance(bw, dict):
            continue
        formulas = {k: v for k, v in bw.items() if v is not None}
        if not formulas:
            continue
        rec = gen_op(op, formulas, op_types)
        if rec is None:
            continue
        d, b = rec
        decls.append(d)
        body.append(b)
        recorded[op.name] = sorted(n for k in formulas for n in key_names(k))
    return "\n".join(decls), "\n".join(body), recorded


def formula_scope(op):
    """The names a backward formula of `op` may use, each with its kind (see Translator)."""
    names = {"grad": "tensor", "grads_or_zeros": "other"}
    if len(op.returns) == 1:
        names["result"] = "other" if op.returns == ["Tensor[]"] else "tensor"
    else:
        for i in range(len(op.returns)):
            names[f"result{i}"] = "tensor"
    for a in op.args:
        names[a.name] = "tensor" if a.type == "Tensor" else "scalar" if a.type == "Scalar" else "other"
    return names


def translate(op, formulas, op_types):
    """({input: C++ expression}, names the formulas use, [why a gradient is missing], [the formulas among
    those the generator cannot translate: a table error, unlike a declared not_implemented])."""
    tr = Translator(op_types, formula_scope(op))
    cpp, used, errors, untranslatable = {}, set(), [], []
    for k, f in formulas.items():
        f = str(f)
        try:
            cpp[k] = tr.emit(ast.parse(f, mode="eval").body)
            used |= formula_names(f)
        except DeclaredNotImplemented as e:
            errors.append(f"the gradient for '{k}' is not implemented: {e}")
        except (Unsupported, SyntaxError) as e:
            errors.append(f"backward formula for '{k}' is not supported: {e}")
            untranslatable.append(errors[-1])
    return cpp, used, errors, untranslatable


def op_arg_types(ops):
    """op name -> [(argument name, type)], what the translator needs to call other ops."""
    return {op.name: [(a.name, a.type + ("?" if a.optional else "")) for a in op.args] for op in ops}


def translation_problems(ops):
    """[(op, problem)] for every backward formula the generator cannot turn into C++, and for formulas
    on ops whose results cannot carry gradients (they would be ignored)."""
    op_types = op_arg_types(ops)
    problems = []
    for op in ops:
        bw = op.entry.get("backward")
        formulas = {k: v for k, v in bw.items() if v is not None} if isinstance(bw, dict) else {}
        if not formulas:
            continue
        if len(op.returns) == 0 or any(r not in ("Tensor", "Tensor[]") for r in op.returns):
            problems.append((op, "backward formulas on an op without Tensor results would never run "
                                 "(write backward: null)"))
            continue
        problems += [(op, e) for e in translate(op, formulas, op_types)[3]]
    return problems


def key_names(key):
    """The inputs a backward key names ("input, weight, bias": one formula returning their gradients)."""
    return [n.strip() for n in str(key).split(",")]


def gen_op(op, formulas, op_types):
    args = {a.name: a for a in op.args}
    key_of = {n: k for k in formulas for n in key_names(k)}  # input -> the key of its formula
    for n in key_of:
        if n not in args or args[n].type not in ("Tensor", "Tensor[]"):
            raise SystemExit(f"gen_ops.py: op {op.name}: backward names '{n}', not a tensor argument")
    if len(op.returns) == 0 or any(r not in ("Tensor", "Tensor[]") for r in op.returns):
        return None
    inplace_self = op.name.endswith("_")
    list_return = op.returns == ["Tensor[]"]
    diff_inputs = [a for a in op.args if a.name in key_of]
    names = formula_scope(op)
    cpp, used, errors, _ = translate(op, formulas, op_types)
    error = errors[0] if errors else None
    cls = "".join(p.capitalize() for p in op.name.strip("_").split("_")) + ("_" if inplace_self else "") + "Backward0"
    fn_type = op.fn_type().replace("(*)", "(*fn)", 1)
    params = op.params(False)
    call_args = ", ".join(a.name for a in op.args)
    decl = f"namespace autograd::generated {{ {op.ret_cpp()} {op.name}_autograd({fn_type}, {params}); }}"
    L = []
    saved = [a for a in op.args if a.name in used and a.name not in formulas or (a.name in used and a.type.startswith("Tensor"))]
    saved = [a for a in op.args if a.name in used]
    # A key naming several inputs computes their gradients together: it runs when any of them is needed.
    grouped = {k: key_names(k) for k in formulas if len(key_names(k)) > 1}
    if error is None:
        L.append(f"struct {cls} : Node {{")
        L.append(f'  std::string name() const override {{ return "{cls}"; }}')
        for a in saved:
            if a.type == "Tensor":
                L.append(f"  SavedVariable {a.name}_;")
            elif a.type == "Tensor[]":
                L.append(f"  std::vector<SavedVariable> {a.name}_;")
            else:
                L.append(f"  {value_type(a)} {a.name}_;")
        res_names = [n for n in names if n.startswith("result")] if "result" in str(used) else []
        res_names = [n for n in res_names if n in used]
        for r in res_names:
            L.append(f"  SavedVariable {r}_;" if names[r] == "tensor" else f"  std::vector<SavedVariable> {r}_;")
        L.append("  TensorList apply(TensorList&& grads) override {")
        L.append("    auto self_node = shared_from_this();")
        L.append("    const Tensor& grad = grads[0];")
        L.append("    const TensorList& grads_or_zeros = grads;")
        L.append("    (void)grad; (void)grads_or_zeros; (void)self_node;")
        for a in saved:
            if a.type == "Tensor":
                L.append(f"    Tensor {a.name} = {a.name}_.unpack(self_node);")
            elif a.type == "Tensor[]":
                L.append(f"    TensorList {a.name} = bw::unpack_list({a.name}_, self_node);")
            else:
                L.append(f"    const auto& {a.name} = {a.name}_;")
        for r in res_names:
            L.append(f"    Tensor {r} = {r}_.unpack(self_node);" if names[r] == "tensor"
                     else f"    TensorList {r} = bw::unpack_list({r}_, self_node);")
        L.append("    TensorList r(next_edges.size());")
        slot, slots = "0", {}
        for a in diff_inputs:
            width = f"{a.name}_size_" if a.type == "Tensor[]" else "1"
            slots[a.name] = slot
            if key_of[a.name] in grouped:
                pass
            elif a.type == "Tensor[]":
                L.append(f"    if (bw::should_compute(next_edges, {slot}, {width})) {{")
                L.append(f"      TensorList g = {cpp[a.name]};")
                L.append(f"      for (size_t i = 0; i < g.size() && i < {width}; ++i) r[{slot} + i] = g[i];")
                L.append("    }")
            else:
                L.append(f"    if (bw::should_compute(next_edges, {slot}, {width})) {{")
                L.append(f"      r[{slot}] = {cpp[a.name]};")
                L.append("    }")
            slot = f"{slot} + {width}"
        for k, members in grouped.items():
            needed = " || ".join(f"bw::should_compute(next_edges, {slots[n]}, 1)" for n in members)
            L.append(f"    if ({needed}) {{")
            L.append(f"      auto g = {cpp[k]};")
            for i, n in enumerate(members):
                L.append(f"      if (bw::should_compute(next_edges, {slots[n]}, 1)) r[{slots[n]}] = std::get<{i}>(g);")
            L.append("    }")
        L.append("    return r;")
        L.append("  }")
        rel = [f"{a.name}_.reset();" if a.type == "Tensor" else f"for (auto& v : {a.name}_) v.reset();"
               for a in saved if a.type in ("Tensor", "Tensor[]")]
        rel += [f"{r}_.reset();" if names[r] == "tensor" else f"for (auto& v : {r}_) v.reset();" for r in res_names]
        L.append("  void release_variables() override { " + " ".join(rel) + " }")
        for a in diff_inputs:
            if a.type == "Tensor[]":
                L.append(f"  size_t {a.name}_size_ = 0;")
        L.append("};")
    else:
        res_names = []
    # The recording function.
    L.append(f"{op.ret_cpp()} {op.name}_autograd({fn_type}, {params}) {{")
    has_out = any(a.name == "out" for a in op.args)
    if inplace_self:
        L.append("  const Tensor& target = self;")
        L.append(f'  bw::check_inplace(target, "{op.name}");')
    elif has_out:
        L.append("  const Tensor target = out ? *out : Tensor();")
        first = op.args[0].name
        L.append(f"  bool inplace = target.defined() && target.impl() == {first}.impl();")
        L.append(f'  HY_CHECK(!target.defined() || inplace, RuntimeError, "{op.name}(): functions with out=... '
                 f'arguments don\'t support automatic differentiation, but one of the arguments requires grad.");')
        L.append(f'  if (inplace) bw::check_inplace(target, "{op.name}");')
    else:
        L.append("  const Tensor target;")
    if error is not None:
        L.append(f'  auto node = std::make_shared<NotDifferentiableNode>("{op.name}", {json_str(error)});')
    else:
        L.append(f"  auto node = std::make_shared<{cls}>();")
    edges = []
    for a in diff_inputs:
        if a.type == "Tensor[]":
            edges.append(f"  for (const auto& t : {a.name}) node->next_edges.push_back(gradient_edge(t));")
            if error is None:
                edges.append(f"  node->{a.name}_size_ = {a.name}.size();")
        elif a.optional:
            edges.append(f"  node->next_edges.push_back({a.name} ? gradient_edge(*{a.name}) : Edge{{}});")
        else:
            edges.append(f"  node->next_edges.push_back(gradient_edge({a.name}));")
    L += edges
    if error is None:
        tensor_saved = [a for a in saved if a.type == "Tensor"]
        if tensor_saved and (inplace_self or has_out):
            # An in-place op overwrites its input: save a copy of what it held before.
            L.append("  Tensor before = target.defined() ? bw::copy_before_write(target) : Tensor();")
        for a in saved:
            if a.type == "Tensor":
                src = f"({a.name} ? *{a.name} : Tensor())" if a.optional else a.name
                if inplace_self or has_out:
                    src = f"bw::pre_write({src}, target, before)"
                L.append(f"  node->{a.name}_ = SavedVariable({src}, false);")
            elif a.type == "Tensor[]":
                L.append(f"  for (const auto& t : {a.name}) node->{a.name}_.emplace_back(t, false);")
            else:
                L.append(f"  node->{a.name}_ = {a.name};")
    ret = op.ret_cpp()
    L.append(f"  {ret} result;")
    L.append(f"  {{ GradModeGuard no_record(false); result = fn({call_args}); }}")
    tensor_inputs = [a.name for a in op.args if a.type == "Tensor" and not a.optional]
    if list_return:
        L.append("  for (size_t i = 0; i < result.size(); ++i) {")
        L.append(f"    result[i] = bw::distinct_output(result[i], target, {{{', '.join(tensor_inputs)}}});")
        L.append("    node->outputs.push_back(OutputInfo{result[i].shape(), result[i].dtype(), result[i].device()});")
        L.append("    if (dtype_differentiable(result[i].dtype())) set_history(result[i], node, static_cast<uint32_t>(i));")
        L.append("  }")
        if "result" in res_names:
            L.append("  for (auto& t : result) node->result_.emplace_back(t, true);")
    elif len(op.returns) == 1:
        L.append(f"  result = bw::distinct_output(result, target, {{{', '.join(tensor_inputs)}}});")
        L.append("  node->outputs.push_back(OutputInfo{result.shape(), result.dtype(), result.device()});")
        L.append("  if (dtype_differentiable(result.dtype())) set_history(result, node, 0);")
        if "result" in res_names:
            L.append("  node->result_ = SavedVariable(result, true);")
    else:
        for i in range(len(op.returns)):
            L.append(f"  node->outputs.push_back(OutputInfo{{std::get<{i}>(result).shape(), std::get<{i}>(result).dtype(), std::get<{i}>(result).device()}});")
            L.append(f"  if (dtype_differentiable(std::get<{i}>(result).dtype())) set_history(std::get<{i}>(result), node, {i});")
            if f"result{i}" in res_names:
                L.append(f"  node->result{i}_ = SavedVariable(std::get<{i}>(result), true);")
    L.append("  return result;")
    L.append("}")
    return decl, "\n".join(L)


def json_str(s):
    import json
    return json.dumps(s)


def front_check(op):
    """C++ condition: grad mode on and a differentiable input requires grad."""
    bw = op.entry.get("backward")
    names = [a for a in op.args if a.type in ("Tensor", "Tensor[]")]
    if isinstance(bw, dict):
        named = {n for k, f in bw.items() if f is not None for n in key_names(k)}
        diff = [a for a in names if a.name in named]
        names = diff or names
    return "autograd::grad_mode_enabled() && autograd::any_requires_grad(" + ", ".join(a.name for a in names) + ")" if names else None
