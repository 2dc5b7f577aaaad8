#!/usr/bin/env python3
"""Generate hyflow's op layer from the op table (csrc/ops/table/*.yaml).

One YAML entry per op is the single source of truth. From it this script writes:
  hyflow/ops/ops_generated.h   typed C++ front functions `hy::ops::<name>(...)` (+ in-place variants)
  ops_generated.cpp            their definitions (dispatch by device to the registered kernel), the
                               op-table registration with every metadata field, and the explicit
                               registration of each declared kernel (`register_kernels_<device>`)
  bind_ops_generated.cpp       pybind11 bindings: `hyflow._C.ops.<name>` and Tensor methods
  cpu_variant_generated.cpp    `register_kernels_cpu_variant`: the CPU kernels of the --variant-families,
                               registered by an ISA variant library over the baseline ones

Entry fields (see docs/design.md, "Adding an op"):
  schema      signature text, e.g. "add(Tensor self, Tensor other, *, Scalar alpha=1, Tensor? out=None) -> Tensor"
  variants    any of function, method, inplace (inplace needs a `Tensor? out` argument)
  kernels     {cpu: fn, cuda: fn, any: fn}: C++ functions in hy::kernels::<device> with the op's signature
  dtypes      which input dtypes the kernels accept: all | numeric | float | int | bool | comma list
  dtype_rule  how the result dtype follows the inputs: promote | promote_float | same | bool | int64 | arg | custom
  shape_rule  same | broadcast | reduce | matmul | view | custom
  backward    {input: formula} read by autograd (null = not differentiable)
  autocast    fp32 | lower | promote | none, read by the mixed-precision scheduler
  onnx        ONNX operator the exporter maps to
  lowering    how the graph compiler lowers the op (elementwise | reduction | gemm | view | opaque)
  writes      the arguments the op writes; default `out` when the schema has one, else `self` for an op
              whose name ends in `_` (fill_, index_put_). Declare it for other writers (_fused_adam_).
  doc         one line of user documentation

Capture (docs/compiler.md): every front function first checks the thread's capture hook
(dispatch/capture_hook.h); with one installed it re-runs itself with the hook hidden and reports the call.

Memory overlap (docs/tensors.md, "In-place operations, out= and memory overlap"): the front function of
an op that writes refuses a written tensor whose elements share memory (an expanded view) and copies
every input that overlaps a written tensor before the kernel runs. An input that is exactly the written
tensor's elements is left alone when the op reads each position only to write that same position:
every input of a `lowering: elementwise` op, and `self` of an op with an `inplace` variant.
"""
import argparse
import json
import os
import re
import sys

import yaml

from gen_autograd import front_check, gen_autograd

META_FIELDS = ["dtypes", "dtype_rule", "shape_rule", "autocast", "onnx", "lowering", "doc"]
KNOWN_FIELDS = set(META_FIELDS) | {"schema", "variants", "kernels", "backward", "view", "python_method", "writes"}
DEVICE_ENUM = {"cpu": "static_cast<int>(DeviceType::DeviceType_CPU)",
               "cuda": "static_cast<int>(DeviceType::DeviceType_CUDA)", "any": "kAnyDevice"}


def die(msg):
    sys.exit("gen_ops.py: " + msg)


def split_top(s):
    out, depth, cur, quote = [], 0, "", False
    for c in s:
        if c in "'\"":
            quote = not quote
        if not quote and c in "[(":
            depth += 1
        if not quote and c in "])":
            depth -= 1
        if c == "," and depth == 0 and not quote:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
    if cur.strip():
        out.append(cur.strip())
    return out


class Arg:
    def __init__(self, text, kwarg_only):
        decl, _, default = text.partition("=")
        self.default = default.strip() if default else None
        typ, name = decl.strip().rsplit(" ", 1)
        self.optional = typ.endswith("?")
        self.type = typ.rstrip("?")
        self.name = name
        self.kwarg_only = kwarg_only

    def cpp_type(self):
        base = {"Tensor": "Tensor", "Tensor[]": "std::vector<Tensor>", "Scalar": "Scalar", "int": "int64_t",
                "int[]": "DimVector", "float": "double", "bool": "bool", "str": "std::string",
                "ScalarType": "DType", "Device": "Device", "Generator": "std::shared_ptr<Generator>"}[self.type]
        # Small values (int, float, bool, dtype, device and their optionals) pass by value; the rest by
        # const reference. Kernels must declare exactly this signature (a mismatch fails to link).
        by_ref = self.type in ("Tensor", "Tensor[]", "Scalar", "int[]", "str", "Generator")
        if self.optional and self.type != "Generator":
            base = f"std::optional<{base}>"
        return f"const {base}&" if by_ref else base

    def cpp_default(self):
        d = self.default
        if d is None:
            return None
        if d == "None":
            return "nullptr" if self.type == "Generator" else "std::nullopt"
        if d in ("True", "False"):
            return d.lower()
        if d.startswith("'") or d.startswith('"'):
            return '"' + d[1:-1] + '"'
        if d.startswith("["):
            return "DimVector{" + d[1:-1] + "}"
        if self.type == "Scalar":
            return f"Scalar(static_cast<int64_t>({d}))" if re.fullmatch(r"-?\d+", d) else f"Scalar({d})"
        if self.type == "ScalarType":
            return f"DType::{d}"
        return d


class Op:
    def __init__(self, entry, family):
        unknown = set(entry) - KNOWN_FIELDS
        if unknown:
            die(f"{entry.get('schema')}: unknown fields {sorted(unknown)}")
        self.entry = entry
        self.family = family
        self.schema = entry["schema"].strip()
        m = re.fullmatch(r"(\w+)\((.*)\)\s*->\s*(.+)", self.schema)
        if not m:
            die(f"bad schema: {self.schema}")
        self.name, params, ret = m.groups()
        self.args, kw = [], False
        for p in split_top(params):
            if p == "*":
                kw = True
                continue
            self.args.append(Arg(p, kw))
        ret = ret.strip()
        self.returns = [r.strip() for r in split_top(ret[1:-1])] if ret.startswith("(") else ([] if ret == "()" else [ret])
        self.variants = entry.get("variants", ["function"])
        self.kernels = entry.get("kernels", {})
        if not self.kernels:
            die(f"op {self.name} declares no kernels")
        for dev in self.kernels:
            if dev not in DEVICE_ENUM:
                die(f"op {self.name}: unknown device '{dev}'")
        if "inplace" in self.variants and not any(a.name == "out" for a in self.args):
            die(f"op {self.name}: inplace variant needs a 'Tensor? out' argument")
        self.writes = self.written_args()

    def written_args(self):
        by_name = {a.name: a for a in self.args}
        if "writes" in self.entry:
            names = self.entry["writes"]
        elif "out" in by_name:
            names = ["out"]
        elif self.name.endswith("_") and "self" in by_name:
            names = ["self"]
        else:
            names = []
        for n in names:
            if n not in by_name or by_name[n].type not in ("Tensor", "Tensor[]"):
                die(f"op {self.name}: writes names '{n}', which is not a Tensor or Tensor[] argument")
        return [by_name[n] for n in names]

    def read_args(self):
        """Tensor arguments the op reads, with whether an exact alias of a written tensor is harmless."""
        written = {a.name for a in self.writes}
        elementwise = self.entry.get("lowering") == "elementwise"
        return [(a, elementwise or (a.name == "self" and "inplace" in self.variants))
                for a in self.args if a.type in ("Tensor", "Tensor[]") and a.name not in written]

    def ret_cpp(self):
        conv = {"Tensor": "Tensor", "Tensor[]": "std::vector<Tensor>", "Scalar": "Scalar"}
        if not self.returns:
            return "void"
        if len(self.returns) == 1:
            return conv[self.returns[0]]
        return "std::tuple<" + ", ".join(conv[r] for r in self.returns) + ">"

    def params(self, with_defaults, skip=()):
        out = []
        for a in self.args:
            if a.name in skip:
                continue
            p = f"{a.cpp_type()} {a.name}"
            if with_defaults and a.cpp_default() is not None:
                p += " = " + a.cpp_default()
            out.append(p)
        return ", ".join(out)

    def fn_type(self):
        return f"{self.ret_cpp()} (*)({', '.join(a.cpp_type() for a in self.args)})"

    def dispatch_device(self):
        for a in self.args:
            if a.type == "Tensor" and not a.optional:
                return f"{a.name}.device()"
            if a.type == "Tensor[]":
                return f"({a.name}.empty() ? kCPU : {a.name}.front().device())"
        for a in self.args:
            if a.type == "Device":
                return f"{a.name}.value_or(kCPU)" if a.optional else a.name
        return "kCPU"

    def meta(self):
        m = {k: str(self.entry[k]) for k in META_FIELDS if k in self.entry}
        m["family"] = self.family
        m["variants"] = ",".join(self.variants)
        m["backward"] = json.dumps(self.entry.get("backward"))
        m["view"] = "true" if self.entry.get("view") else "false"
        m["autograd"] = getattr(self, "autograd", "none")
        m["writes"] = ",".join(a.name for a in self.writes)
        for dev, fn in self.kernels.items():
            m["kernel_" + dev] = fn
        return m


def cpp_str(s):
    return json.dumps(s)


def gen_header(ops):
    lines = ["// Generated by csrc/ops/gen_ops.py from csrc/ops/table/*.yaml. Do not edit.",
             "#pragma once", "#include <memory>", "#include <optional>", "#include <string>",
             "#include <tuple>", "#include <vector>", "",
             '#include "core/device.h"', '#include "core/dim_vector.h"', '#include "core/generator.h"',
             '#include "core/scalar.h"', '#include "core/tensor.h"', "", "namespace hy {",
             "class Registry;", "/// Define every op of the op table in `r` (called by register_all).",
             "void register_op_table(Registry& r);",
             "/// Register every kernel the op table names for the CPU.",
             "void register_kernels_cpu(Registry& r);", "", "namespace ops {"]
    for op in ops:
        doc = op.entry.get("doc", "")
        lines.append(f"/// {doc}" if doc else f"/// {op.schema}")
        lines.append(f"{op.ret_cpp()} {op.name}({op.params(True)});")
        if "inplace" in op.variants:
            lines.append(f"/// In-place {op.name}: writes the result into self.")
            lines.append(f"Tensor {op.name}_({op.params(True, skip=('out',))});")
    lines += ["}  // namespace ops", "}  // namespace hy", ""]
    return "\n".join(lines)


def overlap_guard(op):
    """C++ lines that make a writing op safe against memory overlap (see the module docstring): refuse a
    written tensor with internal overlap, then call the op again with copies of the overlapping inputs."""
    if not op.writes:
        return []
    L = ["  if (" + " || ".join(f"is_written({w.name})" for w in op.writes) + ") {"]
    for w in op.writes:
        L.append(f'    check_written_layout("{op.name}", "{w.name}", {w.name});')
    reads = op.read_args()
    if reads:
        for a, exact_ok in reads:
            clash = " || ".join(f"input_needs_copy({w.name}, {a.name}, {str(exact_ok).lower()})" for w in op.writes)
            L.append(f"    const bool copy_{a.name} = {clash};")
        copied = {a.name for a, _ in reads}
        def arg(a):
            if a.name not in copied:
                return a.name
            return f"copy_input({a.name})" if len(reads) == 1 else f"copy_{a.name} ? copy_input({a.name}) : {a.name}"
        args = ", ".join(arg(a) for a in op.args)
        L.append("    if (" + " || ".join(f"copy_{a.name}" for a, _ in reads) + f") return {op.name}({args});")
    L.append("  }")
    return L


def gen_impl(ops, autograd_decls, recorded):
    L = ["// Generated by csrc/ops/gen_ops.py from csrc/ops/table/*.yaml. Do not edit.",
         '#include "hyflow/ops/ops_generated.h"', "",
         '#include "autograd/record_internal.h"', '#include "core/memory_overlap.h"',
         '#include "dispatch/capture_hook.h"', '#include "dispatch/registry.h"',
         "", "namespace hy {", "",
         "// Recording functions (autograd_generated.cpp): run the kernel and record a backward node.",
         autograd_decls, ""]
    # Kernel declarations, one namespace per device.
    for dev in ("cpu", "any"):
        decls = [op for op in ops if dev in op.kernels]
        if decls:
            L.append(f"namespace kernels::{dev} {{")
            for op in decls:
                L.append(f"{op.ret_cpp()} {op.kernels[dev]}({op.params(False)});")
            L.append(f"}}  // namespace kernels::{dev}")
            L.append("")
    L.append("namespace ops {")
    L += ["namespace {",
          "// An input the op must not read while writing its output: a copy made by an op, so autograd records it.",
          "Tensor copy_input(const Tensor& t) { return clone(t); }",
          "std::optional<Tensor> copy_input(const std::optional<Tensor>& t) {",
          "  return t && t->defined() ? std::optional<Tensor>(clone(*t)) : t;",
          "}",
          "std::vector<Tensor> copy_input(const std::vector<Tensor>& ts) {",
          "  std::vector<Tensor> r;",
          "  r.reserve(ts.size());",
          "  for (const Tensor& t : ts) r.push_back(t.defined() ? clone(t) : t);",
          "  return r;",
          "}",
          "}  // namespace", ""]
    for op in ops:
        call_args = ", ".join(a.name for a in op.args)
        L.append(f"{op.ret_cpp()} {op.name}({op.params(False)}) {{")
        L.append(f'  static const OpEntry& op = Registry::global().get("{op.name}");')
        # A capture (dispatch/capture_hook.h) sees the outermost call: it runs this function again with
        # the hook hidden and records the call. Without one, this is one thread-local load.
        L.append(f"  if (capture::CaptureHook* hook = capture::active_hook())")
        L.append(f"    return capture::record_call(*hook, op, static_cast<{op.fn_type()}>(&::hy::ops::{op.name})"
                 + (f", {call_args}" if call_args else "") + ");")
        L.append(f"  using Fn = {op.fn_type()};")
        ret = "return " if op.returns else ""
        L.append(f"  auto fn = reinterpret_cast<Fn>(op.typed_kernel({op.dispatch_device()}));")
        L += overlap_guard(op)
        cond = front_check(op)
        # The front function is autograd's recording point; while a kernel runs, recording is off so the
        # ops it calls internally are not recorded a second time.
        # An op without results still has to leave after its one call (`return;`), or it would run twice.
        done = "" if op.returns else " return;"
        if cond and op.name in recorded:
            L.append(f"  if ({cond}) {{ {ret}autograd::generated::{op.name}_autograd(fn, {call_args});{done} }}")
        elif cond:
            L.append(f"  if ({cond}) {{ autograd::GradModeGuard no_record(false); {ret}fn({call_args});{done} }}")
        L.append(f"  {ret}fn({call_args});")
        L.append("}")
        if "inplace" in op.variants:
            inner = ", ".join(("self" if a.name == "out" else a.name) for a in op.args)
            L.append(f"Tensor {op.name}_({op.params(False, skip=('out',))}) {{")
            L.append(f'  check_written_layout("{op.name}_", "self", self);  // the error names what was called')
            L.append(f"  return {op.name}({inner});")
            L.append("}")
    L.append("}  // namespace ops")
    L.append("")
    L.append("void register_op_table(Registry& r) {")
    for op in ops:
        meta = ", ".join(f"{{{cpp_str(k)}, {cpp_str(v)}}}" for k, v in op.meta().items())
        L.append(f"  r.define_builtin({cpp_str(op.schema)}, {{{meta}}},")
        L.append(f"                   typeid({op.fn_type()}), make_boxed(&ops::{op.name}));")
        for dev, fn in op.kernels.items():
            if dev == "any":
                L.append(f'  r.impl("{op.name}", kAnyDevice, &kernels::any::{fn});')
    L.append("}")
    L.append("")
    L.append("void register_kernels_cpu(Registry& r) {")
    for op in ops:
        if "cpu" in op.kernels:
            L.append(f'  r.impl("{op.name}", DeviceType::DeviceType_CPU, &kernels::cpu::{op.kernels["cpu"]});')
    L.append("}")
    L += ["", "}  // namespace hy", ""]
    return "\n".join(L)


def gen_cpu_variant(ops, families):
    """The registration an ISA variant library (cmake/cpu_variants.cmake) runs: every CPU kernel of the
    hot families, compiled into that library, replaces the baseline kernel of the same op."""
    chosen = [op for op in ops if op.family in families and "cpu" in op.kernels]
    L = ["// Generated by csrc/ops/gen_ops.py from csrc/ops/table/*.yaml. Do not edit.",
         f"// Families: {', '.join(sorted(families)) or '(none)'}.",
         '#include "hyflow/ops/ops_generated.h"', "", '#include "dispatch/registry.h"', "", "namespace hy {", ""]
    if chosen:
        L.append("namespace kernels::cpu {")
        for op in chosen:
            L.append(f"{op.ret_cpp()} {op.kernels['cpu']}({op.params(False)});")
        L += ["}  // namespace kernels::cpu", ""]
    L.append("void register_kernels_cpu_variant(Registry& r) {")
    for op in chosen:
        L.append(f'  r.impl_variant("{op.name}", DeviceType::DeviceType_CPU, &kernels::cpu::{op.kernels["cpu"]});')
    L += ["}", "", "}  // namespace hy", ""]
    return "\n".join(L)


def py_default(a):
    d = a.cpp_default()
    if a.default == "None":
        return "py::none()"
    return d


def gen_bindings(ops):
    L = ["// Generated by csrc/ops/gen_ops.py from csrc/ops/table/*.yaml. Do not edit.",
         '#include "bindings/pyconvert.h"', '#include "hyflow/ops/ops_generated.h"', "",
         "namespace hy {", "namespace py = pybind11;", "",
         "void bind_ops_generated(py::module_& ops, py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls) {"]
    for op in ops:
        doc = cpp_str(op.entry.get("doc", "") + "\n\n" + op.schema)
        def arg_specs(args, skip_first=False):
            specs, kw_done = [], False
            for i, a in enumerate(args):
                if skip_first and i == 0:
                    continue
                if a.kwarg_only and not kw_done:
                    specs.append("py::kw_only()")
                    kw_done = True
                s = f'py::arg("{a.name}")'
                if a.optional or a.type == "Generator":
                    s += ".none(true)"
                if a.default is not None:
                    s += f" = {py_default(a)}"
                specs.append(s)
            return specs
        fn_ptr = f"static_cast<{op.fn_type().replace('(*)', '(*)')}>(&ops::{op.name})"
        if True:  # every op is reachable as hyflow.ops.<name>; `function` also exports hyflow.<name>
            specs = ", ".join(arg_specs(op.args))
            L.append(f'  ops.def("{op.name}", {fn_ptr}, {specs + ", " if specs else ""}{doc});')
        if "method" in op.variants:
            method = op.entry.get("python_method", op.name)
            specs = ", ".join(arg_specs(op.args, skip_first=True))
            L.append(f'  cls.def("{method}", {fn_ptr}, {specs + ", " if specs else ""}{doc});')
        if "inplace" in op.variants:
            args = [a for a in op.args if a.name != "out"]
            sig = f"Tensor (*)({', '.join(a.cpp_type() for a in args)})"
            specs = ", ".join(arg_specs(args, skip_first=True))
            L.append(f'  cls.def("{op.name}_", static_cast<{sig}>(&ops::{op.name}_), '
                     f'{specs + ", " if specs else ""}"In-place {op.name}.");')
    L += ["}", "", "}  // namespace hy", ""]
    return "\n".join(L)


def gen_autograd_file(body):
    return "\n".join([
        "// Generated by csrc/ops/gen_ops.py (gen_autograd.py) from the op table's backward formulas. Do not edit.",
        '#include "autograd/backward_math_internal.h"', '#include "autograd/record_internal.h"', "",
        "namespace hy::autograd::generated {", "namespace bw = ::hy::autograd::backward;",
        "using namespace ::hy::autograd::backward::operators;", "", body, "",
        "}  // namespace hy::autograd::generated", ""])


def write_if_changed(path, text):
    # Rewriting identical output would make every dependent translation unit recompile.
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def load_ops(paths):
    ops, seen = [], {}
    for path in sorted(paths):
        family = os.path.splitext(os.path.basename(path))[0]
        with open(path) as f:
            entries = yaml.safe_load(f) or []
        for e in entries:
            op = Op(e, family)
            if op.name in seen:
                die(f"op '{op.name}' is declared twice ({seen[op.name]} and {path})")
            seen[op.name] = path
            ops.append(op)
    return ops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--variant-families", default="",
                    help="op-table families (';' or ',' separated) whose CPU kernels have ISA variants")
    ap.add_argument("tables", nargs="+")
    ns = ap.parse_args()
    variant_families = {f for f in re.split(r"[;,\s]+", ns.variant_families) if f}
    ops = load_ops(ns.tables)
    autograd_decls, autograd_body, recorded = gen_autograd(ops)
    for op in ops:
        op.autograd = "recorded" if op.name in recorded else "none"
    write_if_changed(os.path.join(ns.out, "hyflow/ops/ops_generated.h"), gen_header(ops))
    write_if_changed(os.path.join(ns.out, "ops_generated.cpp"), gen_impl(ops, autograd_decls, recorded))
    write_if_changed(os.path.join(ns.out, "autograd_generated.cpp"), gen_autograd_file(autograd_body))
    write_if_changed(os.path.join(ns.out, "bind_ops_generated.cpp"), gen_bindings(ops))
    unknown = variant_families - {op.family for op in ops}
    if unknown:
        die(f"--variant-families names no op-table family: {', '.join(sorted(unknown))}")
    write_if_changed(os.path.join(ns.out, "cpu_variant_generated.cpp"), gen_cpu_variant(ops, variant_families))


if __name__ == "__main__":
    main()
