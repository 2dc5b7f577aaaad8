#!/usr/bin/env python3
"""Generate hyflow's op layer from the op table (csrc/ops/table/*.yaml).

One YAML entry per op is the single source of truth. The tables are first validated
(validate_table.py: every problem is printed, and any fails the build); from them this script writes:
  hyflow/ops/<family>.h        typed C++ front functions `hy::ops::<name>(...)` (+ in-place variants) of
                               one table file; a source file includes only the families it calls
  hyflow/ops/ops_common.h      what every family header needs (signature types, registration entry
                               points); independent of the ops, so it never changes
  hyflow/ops/ops_generated.h   umbrella including every family (out-of-tree extensions use it)
  ops_generated.cpp            front-function definitions (dispatch by device to the registered kernel),
                               the op-table registration with every metadata field, and the explicit
                               registration of each declared CPU kernel (`register_kernels_cpu`)
  kernels_<device>_generated.cpp  `register_kernels_<device>` of a device built outside the core
                               library (cuda: compiled by the CUDA backend's library)
  autograd_generated.cpp       the backward nodes of the `backward` formulas (gen_autograd.py)
  bind_ops_generated.cpp       pybind11 bindings: `hyflow._C.ops.<name>` and Tensor methods
  cpu_variant_generated.cpp    `register_kernels_cpu_variant`: the CPU kernels of the --variant-families,
                               registered by an ISA variant library over the baseline ones
  hyflow/ops/scalar_ops_generated.h, hyflow/ops/scalar_ops_eigen_generated.h
                               the eager functors of every elementwise op, from its `scalar:` expression
                               (gen_scalar.py; the language is python/hyflow/ops/scalar_expr.py)
Each output is rewritten only when its text changes, so a table edit recompiles only its dependents.

Entry fields (accepted values: validate_table.py; see docs/design.md, "The op table"):
  schema      signature text, e.g. "add(Tensor self, Tensor other, *, Scalar alpha=1, Tensor? out=None) -> Tensor"
  variants    any of function, method, inplace (inplace needs a `Tensor? out` argument)
  kernels     {cpu: fn, cuda: fn, any: fn}: C++ functions in hy::kernels::<device> with the op's signature
  dtypes      which input dtypes the kernels accept: all | numeric | float | int | dtype names, comma list
  dtype_rule  how the result dtype follows the inputs: promote | promote_float | same | bool | int64 | arg | custom
  shape_rule  same | broadcast | reduce | matmul | view | custom
  backward    {input: formula} read by autograd (null = not differentiable; "not_implemented('why')" =
              differentiable, but the gradient is not written yet: backward raises)
  autocast    fp32 | lower | promote | none, read by the mixed-precision scheduler; `lower:bfloat16` or
              {policy: lower, dtype: float16} names the dtype (default: the autocast region's)
  onnx        ONNX operator the exporter maps to, or {op, attrs, inputs, since, domain}
  lowering    how the graph compiler lowers the op (elementwise | reduction | gemm | view | stencil | opaque)
  stencil     (stencil ops, required) {kind: shift | second_difference, input: grid argument, boundary:
              [the boundaries the compiler lowers]}: read as index arithmetic inside fused loops
  row         (reductions computed per row, optional) {kind: softmax | log_softmax | layer_norm, input: its
              Tensor argument, dim: its int dim argument (layer_norm: its int[] normalized_shape)}: the
              compiler expands it into a row-reduction group
  scalar      (elementwise ops, required) one element's math in the scalar expression language, e.g.
              "self + alpha * other", or {variant: expression} when the kernel picks a formula
  writes      the arguments the op writes; default `out` when the schema has one, else `self` for an op
              whose name ends in `_` (fill_, index_put_). Declare it for other writers (_fused_adam_).
  doc         one line of user documentation
Structured fields reach the registry twice: the short value under the field's name and the normal form
as JSON under `<field>_spec` (python/hyflow/ops/metadata.py parses them).

Capture (docs/compiler.md): every front function first checks the thread's capture hook
(dispatch/capture_hook.h); with one installed it re-runs itself with the hook hidden and reports the call.

Memory overlap (docs/tensors.md, "In-place operations, out= and memory overlap"): the front function of
an op that writes refuses a written tensor whose elements share memory (an expanded view) and copies
every input that overlaps a written tensor before the kernel runs. An input that is exactly the written
tensor's elements is left alone when the op reads each position only to write that same position:
every input of a `lowering: elementwise` op, and `self` of an op with an `inplace` variant.
"""
import argparse
import ast
import json
import os
import re
import sys

import yaml

from gen_autograd import front_check, gen_autograd
from op_schema import parse_schema
from gen_scalar import gen_scalar_headers
from validate_table import COMPLEX_DTYPES, autocast_spec, check_tables, expand_dtypes, load_tables, onnx_spec, report

META_FIELDS = ["dtypes", "dtype_rule", "shape_rule", "autocast", "onnx", "lowering", "doc"]
# DeviceType enumerators of the kernel device keys (validate_table.DEVICES) that have a registration
# function; `any` kernels are registered with the op's definition.
DEVICE_TYPES = {"cpu": "DeviceType::DeviceType_CPU", "cuda": "DeviceType::DeviceType_CUDA"}
# Devices whose kernels live outside libhyflow_core: their registration goes to its own file,
# kernels_<device>_generated.cpp, compiled by that backend's library (libhyflow_cuda, issue 12).
SEPARATE_DEVICES = ("cuda",)
# Generated headers in hyflow/ops/ that are not a family's; a table file may not take these names.
RESERVED_HEADERS = ("ops_generated", "ops_common", "scalar_ops_generated", "scalar_ops_eigen_generated")


def die(msg):
    sys.exit("gen_ops.py: " + msg)


class Op:
    def __init__(self, entry, family):
        # The entry passed validate_table.check_tables: fields and their values are known.
        self.entry = entry
        self.family = family
        self.schema = entry["schema"].strip()
        try:
            self.name, self.args, self.returns = parse_schema(self.schema)
        except ValueError as e:
            die(str(e))
        self.variants = entry.get("variants", ["function"])
        self.kernels = entry.get("kernels", {})
        if not self.kernels:
            die(f"op {self.name} declares no kernels")
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
        # Structured fields: the plain name under the field (what the short form spelled), the full
        # normal form as JSON under <field>_spec (read by python/hyflow/ops/metadata.py).
        if "autocast" in self.entry:
            spec = autocast_spec(self.entry["autocast"])
            m["autocast"], m["autocast_spec"] = spec["policy"], json.dumps(spec, sort_keys=True)
        if "onnx" in self.entry:
            spec = onnx_spec(self.entry["onnx"], {a.name for a in self.args})
            m["onnx"], m["onnx_spec"] = spec["op"], json.dumps(spec, sort_keys=True)
        m["family"] = self.family
        m["variants"] = ",".join(self.variants)
        m["backward"] = json.dumps(self.entry.get("backward"))
        m["view"] = "true" if self.entry.get("view") else "false"
        m["autograd"] = getattr(self, "autograd", "none")
        m["writes"] = ",".join(a.name for a in self.writes)
        if "scalar" in self.entry:
            m["scalar"] = json.dumps(self.entry["scalar"])  # a string, or {variant: string}
        if "stencil" in self.entry:
            m["stencil"] = json.dumps(self.entry["stencil"], sort_keys=True)
        if "row" in self.entry:
            m["row"] = json.dumps(self.entry["row"], sort_keys=True)
        for dev, fn in self.kernels.items():
            m["kernel_" + dev] = fn
        return m


def cpp_str(s):
    return json.dumps(s)


GENERATED_NOTE = "// Generated by csrc/ops/gen_ops.py from csrc/ops/table/*.yaml. Do not edit."


def gen_common_header():
    """hyflow/ops/ops_common.h: what every family header needs (the types of front-function signatures)
    and the registration entry points. Its text does not depend on any op, so it never changes."""
    lines = [GENERATED_NOTE, "// The types of the front functions' signatures and the registration entry points.",
             "#pragma once", "#include <memory>", "#include <optional>", "#include <string>",
             "#include <tuple>", "#include <vector>", "",
             '#include "core/device.h"', '#include "core/dim_vector.h"', '#include "core/generator.h"',
             '#include "core/scalar.h"', '#include "core/tensor.h"', "", "namespace hy {",
             "class Registry;", "/// Define every op of the op table in `r` (called by register_all).",
             "void register_op_table(Registry& r);"]
    for dev in DEVICE_TYPES:
        where = "" if dev not in SEPARATE_DEVICES else f" (kernels_{dev}_generated.cpp, built with that backend)"
        lines += [f"/// Register every kernel the op table names for {dev}{where}.",
                  f"void register_kernels_{dev}(Registry& r);"]
    lines += ["}  // namespace hy", ""]
    return "\n".join(lines)


def gen_family_header(family, ops):
    """hyflow/ops/<family>.h: the front functions of one table file, so a translation unit that calls
    only these recompiles only when this family changes."""
    lines = [GENERATED_NOTE, f"// Front functions of csrc/ops/table/{family}.yaml.", "#pragma once",
             '#include "hyflow/ops/ops_common.h"', "", "namespace hy::ops {"]
    for op in ops:
        if op.family != family:
            continue
        doc = op.entry.get("doc", "")
        lines.append(f"/// {doc}" if doc else f"/// {op.schema}")
        lines.append(f"{op.ret_cpp()} {op.name}({op.params(True)});")
        if "inplace" in op.variants:
            lines.append(f"/// In-place {op.name}: writes the result into self.")
            lines.append(f"Tensor {op.name}_({op.params(True, skip=('out',))});")
    lines += ["}  // namespace hy::ops", ""]
    return "\n".join(lines)


def gen_umbrella_header(families):
    """hyflow/ops/ops_generated.h: every family's front functions (out-of-tree extensions include this;
    hyflow's own files include only the families they call)."""
    return "\n".join([GENERATED_NOTE, "// Every op's front function: one header per op-table family.",
                      "#pragma once", '#include "hyflow/ops/ops_common.h"']
                     + [f'#include "hyflow/ops/{f}.h"' for f in families] + [""])


def gen_kernel_registration(ops, dev):
    """Declarations of the `dev` kernels (namespace hy::kernels::<dev>, exactly the schema's signature)
    and `register_kernels_<dev>`, which registers each of them. Lines inside namespace hy."""
    chosen = [op for op in ops if dev in op.kernels]
    L = []
    if chosen:
        L.append(f"namespace kernels::{dev} {{")
        L += [f"{op.ret_cpp()} {op.kernels[dev]}({op.params(False)});" for op in chosen]
        L += [f"}}  // namespace kernels::{dev}", ""]
    L.append(f"void register_kernels_{dev}(Registry& r) {{")
    if not chosen:
        L.append(f"  (void)r;  // no op of the table has a {dev} kernel yet")
    L += [f'  r.impl("{op.name}", {DEVICE_TYPES[dev]}, &kernels::{dev}::{op.kernels[dev]});' for op in chosen]
    L += ["}", ""]
    return L


def gen_device_file(ops, dev):
    """kernels_<dev>_generated.cpp: the registration of a device whose kernels are compiled outside the
    core library (SEPARATE_DEVICES); that backend's library compiles this file."""
    return "\n".join([GENERATED_NOTE, '#include "hyflow/ops/ops_common.h"', "", '#include "dispatch/registry.h"',
                      "", "namespace hy {", ""] + gen_kernel_registration(ops, dev) + ["}  // namespace hy", ""])


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


AUTOCAST_POLICY_ENUM = {"lower": "amp::Policy::Lower", "fp32": "amp::Policy::Fp32", "promote": "amp::Policy::Promote"}
DTYPE_ENUM = {"float16": "DType::Float16", "bfloat16": "DType::BFloat16"}


def autocast_block(op, call_args):
    """Front-function lines applying the op's `autocast` policy inside an autocast region (amp/autocast.h):
    its tensor inputs are cast, then the op is called again with autocast suspended. Ops that write an
    argument other than an optional `out` are left alone; a call given `out=` keeps its dtypes (the
    result's dtype is the caller's)."""
    spec = autocast_spec(op.entry.get("autocast", "none"))
    if spec["policy"] == "none":
        return []
    written = {a.name for a in op.writes}
    if any(not (a.optional and a.type == "Tensor") for a in op.writes):
        return []
    read = [a for a in op.args if a.type in ("Tensor", "Tensor[]") and a.name not in written]
    if not read:
        return []
    dtype = DTYPE_ENUM[spec["dtype"]] if spec["dtype"] else "std::nullopt"
    skip = " && ".join(f"!({a.name} && {a.name}->defined())" for a in op.writes)
    cond = "autocast::active()" + (f" && {skip}" if skip else "")
    casted = ", ".join(f"ac.cast({a.name})" if a in read else a.name for a in op.args)
    lines = [f"  if ({cond}) {{",
             f"    amp::AutocastCall ac({AUTOCAST_POLICY_ENUM[spec['policy']]}, {dtype});"]
    if spec["policy"] == "promote":
        lines.append("    " + " ".join(f"ac.consider({a.name});" for a in read))
    ret = "return " if op.returns else ""
    done = "" if op.returns else " return;"
    lines += [f"    {ret}::hy::ops::{op.name}({casted});{done}", "  }"]
    return lines


def device_check(op):
    """All tensor arguments on the kernel's device (core/device_check.h): only ops with two or more."""
    tensors = [a for a in op.args if a.type in ("Tensor", "Tensor[]")]
    if len(tensors) < 2 and not any(a.type == "Tensor[]" for a in tensors):
        return []
    listed = ", ".join(f'device_arg("{a.name}", {a.name})' for a in tensors)
    return [f'  check_devices("{op.name}", {op.dispatch_device()}, {{{listed}}});']


def complex_guard(op):
    """Front-function lines refusing complex tensors (and a complex `dtype=`) for an op whose `dtypes`
    names no complex dtype: its kernels were written for the real dtypes, and a dtype switch or a
    float/int test could otherwise take a complex tensor for something else (docs/tensors.md)."""
    if set(COMPLEX_DTYPES) & set(expand_dtypes(op.entry["dtypes"])):
        return []
    checked = [a for a in op.args if a.type in ("Tensor", "Tensor[]", "ScalarType")]
    return [f'  if (complex_arg({a.name})) reject_complex("{op.name}", "{a.name}", {a.name});' for a in checked]


def gen_impl(ops, autograd_decls, recorded):
    L = ["// Generated by csrc/ops/gen_ops.py from csrc/ops/table/*.yaml. Do not edit.",
         '#include "hyflow/ops/ops_generated.h"', "",
         '#include "autograd/record_internal.h"', '#include "core/device_check.h"', '#include "core/memory_overlap.h"',
         '#include "amp/autocast.h"', '#include "dispatch/capture_hook.h"', '#include "dispatch/complex_guard.h"',
         '#include "dispatch/registry.h"',
         "", "namespace hy {", "",
         "// Recording functions (autograd_generated.cpp): run the kernel and record a backward node.",
         autograd_decls, ""]
    # Device-independent kernels, registered with the op definitions below.
    decls = [op for op in ops if "any" in op.kernels]
    if decls:
        L.append("namespace kernels::any {")
        L += [f"{op.ret_cpp()} {op.kernels['any']}({op.params(False)});" for op in decls]
        L += ["}  // namespace kernels::any", ""]
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
        L += complex_guard(op)
        L += autocast_block(op, call_args)
        # A capture (dispatch/capture_hook.h) sees the outermost call: it runs this function again with
        # the hook hidden and records the call. Without one, this is one thread-local load.
        L.append(f"  if (capture::CaptureHook* hook = capture::active_hook())")
        L.append(f"    return capture::record_call(*hook, op, static_cast<{op.fn_type()}>(&::hy::ops::{op.name})"
                 + (f", {call_args}" if call_args else "") + ");")
        L.append(f"  using Fn = {op.fn_type()};")
        ret = "return " if op.returns else ""
        # Mixed devices are refused before a kernel is even looked up (that error is the more useful one).
        L += device_check(op)
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
    # The kernels compiled into the core library; other devices get their own file (gen_device_file).
    for dev in DEVICE_TYPES:
        if dev not in SEPARATE_DEVICES:
            L += gen_kernel_registration(ops, dev)
    L += ["}  // namespace hy", ""]
    return "\n".join(L)


def gen_cpu_variant(ops, families):
    """The registration an ISA variant library (cmake/cpu_variants.cmake) runs: every CPU kernel of the
    hot families, compiled into that library, replaces the baseline kernel of the same op."""
    chosen = [op for op in ops if op.family in families and "cpu" in op.kernels]
    L = ["// Generated by csrc/ops/gen_ops.py from csrc/ops/table/*.yaml. Do not edit.",
         f"// Families: {', '.join(sorted(families)) or '(none)'}.",
         '#include "hyflow/ops/ops_common.h"', "", '#include "dispatch/registry.h"', "", "namespace hy {", ""]
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


def text_signature(name, args):
    """`name(a, b, *, c=1)`: the first line CPython reads as a builtin's __text_signature__ when the
    docstring goes on after a `--` line, so inspect.signature(hy.add) works (pybind11's own signature
    line carries annotations, which CPython does not parse)."""
    params, kw_done = [], False
    for a in args:
        if a.kwarg_only and not kw_done:
            params.append("*")
            kw_done = True
        if a.default is None:
            params.append(a.name)
            continue
        try:
            ast.literal_eval(a.default)
        except (ValueError, SyntaxError):
            die(f"op {name}: default {a.default!r} of '{a.name}' is not a Python literal")
        params.append(f"{a.name}={a.default}")
    return f"{name}({', '.join(params)})\n--\n\n"


def gen_bindings(ops):
    L = ["// Generated by csrc/ops/gen_ops.py from csrc/ops/table/*.yaml. Do not edit.",
         '#include "bindings/pyconvert.h"', '#include "bindings/op_call_fallback.h"',
         '#include "hyflow/ops/ops_generated.h"', "",
         "namespace hy {", "namespace py = pybind11;", "",
         "void bind_ops_generated(py::module_& ops, py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls) {",
         "  // Docstrings start with a text signature (see gen_ops.py's text_signature), not pybind11's line.",
         "  py::options options;",
         "  options.disable_function_signatures();"]
    # name -> ops bound under it, in overload order; each name's fallback comes after all of them
    fallbacks = {"function": {}, "method": {}, "inplace": {}}
    for op in ops:
        doc_text = op.entry.get("doc", "") + "\n\n" + op.schema
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
            doc = cpp_str(text_signature(op.name, op.args) + doc_text)
            L.append(f'  ops.def("{op.name}", {fn_ptr}, {specs + ", " if specs else ""}{doc});')
            fallbacks["function"].setdefault(op.name, []).append(op.name)
        if "method" in op.variants:
            method = op.entry.get("python_method", op.name)
            specs = ", ".join(arg_specs(op.args, skip_first=True))
            doc = cpp_str(text_signature(method, op.args) + doc_text)
            L.append(f'  cls.def("{method}", {fn_ptr}, {specs + ", " if specs else ""}{doc});')
            fallbacks["method"].setdefault(method, []).append(op.name)
        if "inplace" in op.variants:
            args = [a for a in op.args if a.name != "out"]
            sig = f"Tensor (*)({', '.join(a.cpp_type() for a in args)})"
            specs = ", ".join(arg_specs(args, skip_first=True))
            doc = cpp_str(text_signature(f"{op.name}_", args) + f"In-place {op.name}.")
            L.append(f'  cls.def("{op.name}_", static_cast<{sig}>(&ops::{op.name}_), '
                     f'{specs + ", " if specs else ""}{doc});')
            fallbacks["inplace"].setdefault(f"{op.name}_", []).append(op.name)
    L.append("  // Last overloads: a call none of the above took gets a TypeError naming the bad argument.")
    for kind, names in fallbacks.items():
        for name, bound in names.items():
            op_list = "{" + ", ".join(f'"{o}"' for o in bound) + "}"
            if kind == "function":
                L.append(f'  def_op_call_fallback(ops, "{name}", {op_list});')
            else:
                L.append(f'  def_method_call_fallback(cls, "{name}", {op_list}, {str(kind == "inplace").lower()});')
    L += ["}", "", "}  // namespace hy", ""]
    return "\n".join(L)


def gen_autograd_file(body):
    return "\n".join([
        "// Generated by csrc/ops/gen_ops.py (gen_autograd.py) from the op table's backward formulas. Do not edit.",
        '#include "autograd/backward_math_internal.h"', '#include "autograd/record_internal.h"',
        '#include "hyflow/ops/ops_generated.h"  // formulas may call any op', "",
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
    """The ops of the given table files, in file order; every problem of the tables (validate_table.py)
    is printed and fails the generator before anything is written."""
    tables = load_tables(paths)
    report(check_tables(tables))
    ops = []
    for path, entries in tables:
        family = os.path.splitext(os.path.basename(path))[0]
        if family in RESERVED_HEADERS:
            die(f"{path}: '{family}' is the name of a generated header; name the family differently")
        ops += [Op(e, family) for e in entries]
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
    families = sorted({op.family for op in ops})
    write_if_changed(os.path.join(ns.out, "hyflow/ops/ops_common.h"), gen_common_header())
    for family in families:
        write_if_changed(os.path.join(ns.out, f"hyflow/ops/{family}.h"), gen_family_header(family, ops))
    write_if_changed(os.path.join(ns.out, "hyflow/ops/ops_generated.h"), gen_umbrella_header(families))
    write_if_changed(os.path.join(ns.out, "ops_generated.cpp"), gen_impl(ops, autograd_decls, recorded))
    write_if_changed(os.path.join(ns.out, "autograd_generated.cpp"), gen_autograd_file(autograd_body))
    write_if_changed(os.path.join(ns.out, "bind_ops_generated.cpp"), gen_bindings(ops))
    scalar_light, scalar_eigen = gen_scalar_headers(ops)
    write_if_changed(os.path.join(ns.out, "hyflow/ops/scalar_ops_generated.h"), scalar_light)
    write_if_changed(os.path.join(ns.out, "hyflow/ops/scalar_ops_eigen_generated.h"), scalar_eigen)
    unknown = variant_families - {op.family for op in ops}
    if unknown:
        die(f"--variant-families names no op-table family: {', '.join(sorted(unknown))}")
    write_if_changed(os.path.join(ns.out, "cpu_variant_generated.cpp"), gen_cpu_variant(ops, variant_families))
    for dev in SEPARATE_DEVICES:
        write_if_changed(os.path.join(ns.out, f"kernels_{dev}_generated.cpp"), gen_device_file(ops, dev))


if __name__ == "__main__":
    main()
