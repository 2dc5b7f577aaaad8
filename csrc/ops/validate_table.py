#!/usr/bin/env python3
"""Build-time validation of the op table (csrc/ops/table/*.yaml), run by gen_ops.py before it generates.

The graph compiler, AMP, the ONNX exporter and the device backends all read the table, so every field
has a known set of values or a checked structure. All problems are collected and reported together, one
line each, naming the file, the op and the field; any problem fails the build.

    python csrc/ops/validate_table.py csrc/ops/table/*.yaml     # exit status 1 and the problems

Fields and their accepted values (docs/design.md, "The op table"):
  schema       "name(Type arg, ..., *, Type kw=default) -> Ret" (types in op_schema.ARG_TYPES)
  variants     list of function | method | inplace (inplace needs a `Tensor? out` argument)
  kernels      {device: C++ function name}, device one of DEVICES
  dtypes       comma list of dtype names and groups (DTYPE_GROUPS), e.g. "numeric,float16,bfloat16";
               `all` is the real dtypes, complex ones must be named ("all_and_complex", "float,complex")
  dtype_rule   DTYPE_RULES;  shape_rule  SHAPE_RULES;  lowering  LOWERINGS
  backward     null, or {tensor argument: formula or null}; every formula must translate to C++. A key
               naming several arguments ("input, weight, bias") has one formula returning their gradients
               as a tuple (computed together)
               (gen_autograd.py), or say `not_implemented('why')` on purpose
  autocast     AUTOCAST_POLICIES, or "lower:<dtype>", or {policy: lower, dtype: <dtype>} (LOWER_DTYPES)
  onnx         an ONNX operator name ("ReduceSum"), or {op, attrs, inputs, since, domain} (see onnx_spec)
  view         true | false;  python_method  identifier;  writes  list of Tensor / Tensor[] arguments
  scalar       the scalar expression of an elementwise op (required there): a string, or {variant: string}
               (parsed by gen_scalar.py)
  doc          one line of text
"""
import os
import re
import sys

import yaml

from op_schema import parse_schema

REQUIRED = ("schema", "kernels", "dtypes", "dtype_rule", "shape_rule", "backward", "lowering", "doc")
OPTIONAL = ("variants", "autocast", "onnx", "view", "python_method", "writes", "scalar", "stencil", "row")
VARIANTS = ("function", "method", "inplace")
# Device keys of `kernels`: each device type the dispatcher has a slot for (core/device.h), plus `any`
# (one device-independent kernel, e.g. a view).
DEVICES = ("cpu", "cuda", "any")
# "all" means the real dtypes: an op accepts complex64/complex128 only when its entry names them
# (the group "complex" or "all_and_complex"); the generated front function refuses them otherwise.
REAL_DTYPES = ("bool", "int32", "int64", "float16", "bfloat16", "float32", "float64")
COMPLEX_DTYPES = ("complex64", "complex128")
DTYPES = REAL_DTYPES + COMPLEX_DTYPES
DTYPE_GROUPS = {
    "all": REAL_DTYPES,
    "all_and_complex": DTYPES,
    "complex": COMPLEX_DTYPES,
    "numeric": ("int32", "int64", "float16", "bfloat16", "float32", "float64"),
    "float": ("float16", "bfloat16", "float32", "float64"),
    "int": ("int32", "int64"),
}
DTYPE_RULES = ("promote", "promote_float", "same", "bool", "int64", "arg", "custom")
SHAPE_RULES = ("same", "broadcast", "reduce", "matmul", "view", "custom")
LOWERINGS = ("elementwise", "reduction", "gemm", "view", "stencil", "opaque")
# `stencil:` of a `lowering: stencil` op: which neighbourhood formula the compiler reads it as
# (python/hyflow/compiler/codegen/stencil_kernel.py implements each), its grid input, and the
# boundaries it lowers (others run eagerly).
STENCIL_KINDS = ("shift", "second_difference")
STENCIL_KEYS = ("kind", "input", "boundary")
BOUNDARIES = ("periodic", "dirichlet", "neumann")
# `row:` of a `lowering: reduction` op computed per row from reductions over its last dim (softmax): which
# composition the compiler expands it into (python/hyflow/compiler/codegen/row_ops.py implements each),
# its input and the int argument naming the reduced dim.
ROW_KINDS = ("softmax", "log_softmax", "layer_norm")
# The type of `dim` per row kind: the int dim softmax normalizes, or layer_norm's normalized_shape (an
# int[] whose length is the count of trailing dims normalized; the compiler reads weight/bias/eps too).
ROW_DIM_TYPES = {"softmax": "int", "log_softmax": "int", "layer_norm": "int[]"}
ROW_KEYS = ("kind", "input", "dim")
AUTOCAST_POLICIES = ("fp32", "lower", "promote", "none")
LOWER_DTYPES = ("float16", "bfloat16")
ONNX_KEYS = ("op", "attrs", "inputs", "since", "domain")
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
ONNX_OP = re.compile(r"[A-Z][A-Za-z0-9]*")        # ONNX operator names are CamelCase identifiers
ONNX_DOMAIN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


def expand_dtypes(text):
    """The dtype names a `dtypes` value accepts, in DTYPES order; raises ValueError for unknown names."""
    names = set()
    for token in str(text).split(","):
        token = token.strip()
        if token in DTYPE_GROUPS:
            names.update(DTYPE_GROUPS[token])
        elif token in DTYPES:
            names.add(token)
        else:
            raise ValueError(f"unknown dtype or group '{token}' (known: {', '.join(list(DTYPE_GROUPS) + list(DTYPES))})")
    return [d for d in DTYPES if d in names]


def autocast_spec(value):
    """{"policy": ..., "dtype": ...} of an `autocast` value; raises ValueError. dtype is only given for
    `lower`; None there means the autocast region's own lower-precision dtype."""
    if isinstance(value, str):
        policy, _, dtype = value.partition(":")
        value = {"policy": policy.strip(), **({"dtype": dtype.strip()} if dtype else {})}
    if not isinstance(value, dict):
        raise ValueError(f"expected a policy name or {{policy, dtype}}, got {type(value).__name__}")
    unknown = set(value) - {"policy", "dtype"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (known: policy, dtype)")
    policy, dtype = value.get("policy"), value.get("dtype")
    if policy not in AUTOCAST_POLICIES:
        raise ValueError(f"unknown policy {policy!r} (known: {', '.join(AUTOCAST_POLICIES)})")
    if dtype is not None and policy != "lower":
        raise ValueError(f"a dtype is only meaningful for policy 'lower', not '{policy}'")
    if dtype is not None and dtype not in LOWER_DTYPES:
        raise ValueError(f"unknown lower dtype {dtype!r} (known: {', '.join(LOWER_DTYPES)})")
    return {"policy": policy, "dtype": dtype}


def onnx_spec(value, arg_names):
    """The normal form {"op", "domain", "since", "attrs", "inputs"} of an `onnx` value; raises ValueError.

    `op` is the ONNX operator (CamelCase). `attrs` maps an ONNX attribute name to the op argument whose
    value it takes (a string naming an argument) or to a constant (number, bool, list of numbers, or a
    quoted string such as "'constant'"). `inputs` lists the op arguments fed to the ONNX inputs in order
    (null skips an optional input); None means the op's tensor arguments in schema order. `since` is the
    first opset the mapping is valid for (None: any); `domain` defaults to "" (ai.onnx)."""
    if isinstance(value, str):
        value = {"op": value}
    if not isinstance(value, dict):
        raise ValueError(f"expected an operator name or a mapping, got {type(value).__name__}")
    unknown = set(value) - set(ONNX_KEYS)
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (known: {', '.join(ONNX_KEYS)})")
    op = value.get("op")
    if not isinstance(op, str) or not ONNX_OP.fullmatch(op):
        raise ValueError(f"op {op!r} is not an ONNX operator name (CamelCase, e.g. ReduceSum)")
    domain = value.get("domain", "")
    if not isinstance(domain, str) or (domain and not ONNX_DOMAIN.fullmatch(domain)):
        raise ValueError(f"domain {domain!r} is not a dotted lower-case name (e.g. com.microsoft)")
    since = value.get("since")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 1):
        raise ValueError(f"since {since!r} is not an opset number (an integer >= 1)")
    attrs = value.get("attrs") or {}
    if not isinstance(attrs, dict):
        raise ValueError("attrs must map ONNX attribute names to argument names or constants")
    for name, source in attrs.items():
        if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
            raise ValueError(f"attribute name {name!r} is not an identifier")
        if isinstance(source, str):
            quoted = len(source) >= 2 and source[0] == source[-1] and source[0] in "'\""
            if not quoted and source not in arg_names:
                raise ValueError(f"attribute '{name}' takes '{source}', which is not an argument of the op "
                                 "(quote a string constant: \"'text'\")")
        elif not _is_constant(source):
            raise ValueError(f"attribute '{name}' must name an argument or be a constant, got {source!r}")
    inputs = value.get("inputs")
    if inputs is not None:
        if not isinstance(inputs, list):
            raise ValueError("inputs must be a list of argument names")
        for name in inputs:
            if name is not None and name not in arg_names:
                raise ValueError(f"input '{name}' is not an argument of the op")
    return {"op": op, "domain": domain, "since": since, "attrs": dict(attrs), "inputs": inputs}


def _is_constant(v):
    if isinstance(v, (bool, int, float)):
        return True
    return isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)


class EntryChecker:
    """Checks one entry; `problems` collects "field: message" strings."""

    def __init__(self, entry):
        self.entry = entry
        self.problems = []
        self.args = {}
        self.name = None

    def problem(self, field, message):
        self.problems.append((field, message))

    def run(self):
        e = self.entry
        try:
            self.name, args, self.returns = parse_schema(str(e["schema"]))
            self.args = {a.name: a for a in args}
        except ValueError as err:
            self.problem("schema", str(err))
        for key in sorted(set(e) - set(REQUIRED) - set(OPTIONAL), key=str):
            self.problem(key, f"unknown field (known: {', '.join(REQUIRED + OPTIONAL)})")
        for key in REQUIRED:
            if key not in e:
                self.problem(key, "missing (every entry declares it; see docs/design.md)")
        if e.get("lowering") == "stencil" and "stencil" not in e:
            self.problem("stencil", "missing: a `lowering: stencil` op declares its stencil "
                                    "({kind, input, boundary})")
        if e.get("lowering") == "elementwise" and "scalar" not in e:
            self.problem("scalar", "missing: an elementwise op declares its element math (or is `lowering: opaque` "
                                   "with a comment saying why)")
        for key in e:
            check = getattr(self, "check_" + str(key), None)
            if check is not None and key != "schema":
                check(e[key])

    def tensor_args(self):
        return {n for n, a in self.args.items() if a.type in ("Tensor", "Tensor[]")}

    def check_variants(self, v):
        if not isinstance(v, list) or not v:
            return self.problem("variants", f"expected a non-empty list of {', '.join(VARIANTS)}")
        for x in v:
            if x not in VARIANTS:
                self.problem("variants", f"unknown variant {x!r} (known: {', '.join(VARIANTS)})")
        if len(set(map(str, v))) != len(v):
            self.problem("variants", "a variant is listed twice")
        out = self.args.get("out")
        if "inplace" in v and self.args and not (out and out.type == "Tensor" and out.optional):
            self.problem("variants", "the inplace variant needs a 'Tensor? out' argument")

    def check_kernels(self, v):
        if not isinstance(v, dict) or not v:
            return self.problem("kernels", "expected {device: kernel function}, with at least one device")
        for dev, fn in v.items():
            if dev not in DEVICES:
                self.problem("kernels", f"unknown device key {dev!r} (known: {', '.join(DEVICES)})")
            if not isinstance(fn, str) or not IDENTIFIER.fullmatch(fn):
                self.problem("kernels", f"kernel for {dev!r} must be a C++ function name, got {fn!r}")

    def check_dtypes(self, v):
        try:
            expand_dtypes(v)
        except ValueError as err:
            self.problem("dtypes", str(err))

    def _enum(self, field, v, allowed):
        if v not in allowed:
            self.problem(field, f"unknown value {v!r} (known: {', '.join(allowed)})")

    def check_dtype_rule(self, v):
        self._enum("dtype_rule", v, DTYPE_RULES)

    def check_shape_rule(self, v):
        self._enum("shape_rule", v, SHAPE_RULES)

    def check_lowering(self, v):
        self._enum("lowering", v, LOWERINGS)

    def check_stencil(self, v):
        if not isinstance(v, dict) or set(v) != set(STENCIL_KEYS):
            return self.problem("stencil", f"expected {{{', '.join(STENCIL_KEYS)}}}, got {v!r}")
        if self.entry.get("lowering") != "stencil":
            self.problem("stencil", "only a `lowering: stencil` op declares a stencil")
        self._enum("stencil", v["kind"], STENCIL_KINDS)
        if self.args and (v["input"] not in self.args or self.args[v["input"]].type != "Tensor"):
            self.problem("stencil", f"input {v['input']!r} is not a Tensor argument")
        if not isinstance(v["boundary"], list) or not v["boundary"] or any(b not in BOUNDARIES for b in v["boundary"]):
            self.problem("stencil", f"boundary must be a non-empty list of {', '.join(BOUNDARIES)}, got {v['boundary']!r}")

    def check_row(self, v):
        if not isinstance(v, dict) or set(v) != set(ROW_KEYS):
            return self.problem("row", f"expected {{{', '.join(ROW_KEYS)}}}, got {v!r}")
        if self.entry.get("lowering") != "reduction":
            self.problem("row", "only a `lowering: reduction` op declares a row composition")
        self._enum("row", v["kind"], ROW_KINDS)
        if self.args and (v["input"] not in self.args or self.args[v["input"]].type != "Tensor"):
            self.problem("row", f"input {v['input']!r} is not a Tensor argument")
        want = ROW_DIM_TYPES.get(v["kind"], "int")
        if self.args and (v["dim"] not in self.args or self.args[v["dim"]].type != want):
            self.problem("row", f"dim {v['dim']!r} is not an {want} argument")

    def check_autocast(self, v):
        try:
            autocast_spec(v)
        except ValueError as err:
            self.problem("autocast", str(err))

    def check_onnx(self, v):
        try:
            onnx_spec(v, set(self.args))
        except ValueError as err:
            self.problem("onnx", str(err))

    def check_backward(self, v):
        if v is None:
            return
        if not isinstance(v, dict) or not v:
            return self.problem("backward", "expected null or {tensor argument: formula}")
        for key, formula in v.items():
            # "input, weight, bias": one formula returning a tuple of gradients, one per name (a kernel
            # that computes them in one pass, like layer_norm_backward)
            names = backward_key_names(key)
            for arg in names:
                if self.args and arg not in self.tensor_args():
                    self.problem("backward", f"names '{arg}', which is not a Tensor or Tensor[] argument")
                elif len(names) > 1 and self.args and self.args[arg].type != "Tensor":
                    self.problem("backward", f"a formula for several inputs cannot name the list '{arg}'")
            arg = key
            if formula is None:
                continue
            if not isinstance(formula, str):
                self.problem("backward", f"formula for '{arg}' must be a string, got {formula!r}")
            # Syntax and vocabulary are checked by translating the formula (check_tables).

    def check_view(self, v):
        if not isinstance(v, bool):
            self.problem("view", f"expected true or false, got {v!r}")

    def check_python_method(self, v):
        if not isinstance(v, str) or not IDENTIFIER.fullmatch(v):
            self.problem("python_method", f"expected a Python identifier, got {v!r}")

    def check_writes(self, v):
        if not isinstance(v, list) or not v:
            return self.problem("writes", "expected a non-empty list of argument names")
        for n in v:
            if self.args and n not in self.tensor_args():
                self.problem("writes", f"names {n!r}, which is not a Tensor or Tensor[] argument")

    def check_scalar(self, v):
        # One expression, or {variant: expression} when the kernel picks a formula from an argument
        # (gelu's approximate=, round's decimals=). The expressions themselves are parsed by gen_scalar.py.
        exprs = list(v.values()) if isinstance(v, dict) and v else [v]
        if isinstance(v, dict) and not all(isinstance(k, str) and k for k in v):
            self.problem("scalar", "expected variant names as non-empty strings")
        if not all(isinstance(e, str) and e.strip() for e in exprs):
            self.problem("scalar", "expected a non-empty expression string, or a mapping {variant: expression}")

    def check_doc(self, v):
        if not isinstance(v, str) or not v.strip() or "\n" in v.strip():
            self.problem("doc", "expected one non-empty line of text")


def check_entries(path, entries):
    """Problems of one table file's entries, as "file: op name: field: message" lines."""
    where = os.path.basename(path)
    if not isinstance(entries, list):
        return [f"{where}: the file must hold a list of op entries"]
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or "schema" not in e:
            out.append(f"{where}: entry #{i + 1}: schema: missing (each entry is a mapping with a schema)")
            continue
        checker = EntryChecker(e)
        checker.run()
        label = checker.name or f"entry #{i + 1}"
        out += [f"{where}: op {label}: {field}: {message}" for field, message in checker.problems]
    return out


def backward_key_names(key):
    """The inputs a backward key names: "self" -> ["self"], "input, weight, bias" -> three names."""
    return [n.strip() for n in str(key).split(",")]


def check_tables(tables):
    """Problems of all tables, [(path, entries)]: each file's entries, op names declared twice, and
    backward formulas the generator cannot translate to C++."""
    problems, seen, parsed = [], {}, []
    for path, entries in tables:
        problems += check_entries(path, entries)
        for e in entries if isinstance(entries, list) else []:
            if not isinstance(e, dict):
                continue
            try:
                name, args, returns = parse_schema(str(e.get("schema")))
            except ValueError:
                continue
            if name in seen:
                problems.append(f"{os.path.basename(path)}: op {name}: schema: declared twice "
                                f"(also in {os.path.basename(seen[name])})")
            seen.setdefault(name, path)
            parsed.append(ParsedOp(name, args, returns, e, path))
    from gen_autograd import translation_problems
    problems += [f"{os.path.basename(op.path)}: op {op.name}: backward: {message}"
                 for op, message in translation_problems(parsed)]
    return problems


class ParsedOp:
    """What the backward translator needs of an op (gen_ops.Op has the same attributes)."""

    def __init__(self, name, args, returns, entry, path):
        self.name, self.args, self.returns, self.entry, self.path = name, args, returns, entry, path


def load_tables(paths):
    tables = []
    for path in sorted(paths):
        with open(path) as f:
            tables.append((path, yaml.safe_load(f) or []))
    return tables


def report(problems):
    """Print every problem and exit with status 1 when there are any."""
    if problems:
        sys.stderr.write(f"op table: {len(problems)} problem(s):\n" + "".join(f"  {p}\n" for p in problems))
        sys.exit(1)


def main(paths):
    report(check_tables(load_tables(paths)))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main(sys.argv[1:])
