"""The op table is validated at build time (csrc/ops/validate_table.py, run by gen_ops.py): each kind of bad
field fails with a message naming the file, the op and the field, and all problems are reported at once.
Also: the generator's per-device kernel registration, the structured onnx/autocast fields as Python
reads them, and the OpInfo dtypes against the table's `dtypes`."""
import importlib
import os
import pkgutil
import subprocess
import sys
import textwrap

import pytest

import hyflow as hy

OPS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "csrc", "ops")
TABLE_DIR = os.path.join(OPS_DIR, "table")
yaml = pytest.importorskip("yaml")  # the generator's own dependency
if not os.path.isfile(os.path.join(OPS_DIR, "validate_table.py")):
    pytest.skip("the source tree (csrc/ops) is not beside the tests", allow_module_level=True)
sys.path.insert(0, OPS_DIR)
import validate_table  # noqa: E402  (imported by path, as gen_ops.py does)

GOOD = """\
- schema: twice(Tensor self, int dim=0, bool keepdim=False, *, Tensor? out=None) -> Tensor
  variants: [function, method, inplace]
  kernels: {cpu: twice}
  dtypes: numeric,bool
  dtype_rule: same
  shape_rule: same
  backward: {self: "grad * 2"}
  autocast: promote
  onnx: Mul
  lowering: elementwise
  scalar: "self * 2"
  doc: Two times self.
"""


def write_table(tmp_path, text, name="fam.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def problems_of(tmp_path, text, name="fam.yaml"):
    return validate_table.check_tables(validate_table.load_tables([write_table(tmp_path, text, name)]))


def with_field(field_line, drop=None):
    """GOOD with one field line replaced (or added), and optionally one field removed."""
    key = field_line.split(":", 1)[0].strip()
    lines = [ln for ln in GOOD.splitlines() if not ln.strip().startswith((key + ":", f"{drop}:") if drop else key + ":")]
    return "\n".join(lines + ["  " + field_line]) + "\n"


def assert_one_problem(problems, field, *words):
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"fam.yaml: op twice: {field}: "), problems
    for w in words:
        assert w in problems[0], problems


def test_good_entry_has_no_problems(tmp_path):
    assert problems_of(tmp_path, GOOD) == []


def test_the_real_table_is_valid():
    paths = [os.path.join(TABLE_DIR, f) for f in os.listdir(TABLE_DIR) if f.endswith(".yaml")]
    assert validate_table.check_tables(validate_table.load_tables(paths)) == []


def test_unknown_field(tmp_path):
    assert_one_problem(problems_of(tmp_path, with_field("precision: high")), "precision", "unknown field")


def test_missing_required_field(tmp_path):
    assert_one_problem(problems_of(tmp_path, GOOD.replace("  lowering: elementwise\n", "")), "lowering", "missing")


@pytest.mark.parametrize("field,value,word", [
    ("dtype_rule", "promote_int", "promote_int"),
    ("shape_rule", "broadcasts", "broadcasts"),
    ("lowering", "fused", "fused"),
    ("autocast", "fp16", "fp16"),
    ("dtypes", "numeric,complex32", "complex32"),
    ("variants", "[function, static]", "static"),
])
def test_unknown_values(tmp_path, field, value, word):
    assert_one_problem(problems_of(tmp_path, with_field(f"{field}: {value}")), field, word, "known:")


def test_inplace_variant_needs_out(tmp_path):
    text = GOOD.replace(", *, Tensor? out=None", "")
    assert_one_problem(problems_of(tmp_path, text), "variants", "Tensor? out")


@pytest.mark.parametrize("value,word", [
    ("reduce_sum", "not an ONNX operator name"),
    ("{op: ReduceSum, attrs: {keepdims: keep}}", "'keep', which is not an argument"),
    ("{op: ReduceSum, inputs: [self, axes]}", "input 'axes'"),
    ("{op: ReduceSum, since: 0}", "opset"),
    ("{op: ReduceSum, opset: 13}", "unknown keys"),
    ("{op: Gelu, domain: Com.Microsoft}", "domain"),
])
def test_bad_onnx(tmp_path, value, word):
    assert_one_problem(problems_of(tmp_path, with_field(f"onnx: {value}")), "onnx", word)


def test_structured_onnx_and_autocast_are_accepted_and_normalized(tmp_path):
    text = with_field("onnx: {op: ReduceSum, inputs: [self, dim, null], attrs: {keepdims: keepdim, "
                      "noop_with_empty_axes: 0, mode: \"'sum'\"}, since: 13}")
    assert problems_of(tmp_path, text) == []
    spec = validate_table.onnx_spec(yaml.safe_load(text)[0]["onnx"], {"self", "dim", "keepdim", "out"})
    assert spec == {"op": "ReduceSum", "domain": "", "since": 13, "inputs": ["self", "dim", None],
                    "attrs": {"keepdims": "keepdim", "noop_with_empty_axes": 0, "mode": "'sum'"}}
    for form in ("lower", "lower:bfloat16", "{policy: lower, dtype: float16}"):
        assert problems_of(tmp_path, with_field(f"autocast: {form}")) == [], form
    assert validate_table.autocast_spec("lower:bfloat16") == {"policy": "lower", "dtype": "bfloat16"}
    assert validate_table.autocast_spec("lower") == {"policy": "lower", "dtype": None}


@pytest.mark.parametrize("value,word", [
    ("lower:float32", "unknown lower dtype"),
    ("fp32:bfloat16", "only meaningful for policy 'lower'"),
    ("{policy: lower, type: float16}", "unknown keys"),
])
def test_bad_autocast(tmp_path, value, word):
    assert_one_problem(problems_of(tmp_path, with_field(f"autocast: {value}")), "autocast", word)


def test_unknown_device_key(tmp_path):
    assert_one_problem(problems_of(tmp_path, with_field("kernels: {cpu: twice, tpu: twice_tpu}")),
                       "kernels", "unknown device key 'tpu'")


def test_untranslatable_backward_formula(tmp_path):
    # Before validation this op silently recorded a node that raises only when backward reaches it.
    text = with_field('backward: {self: "grad * no_such_helper(self)"}')
    assert_one_problem(problems_of(tmp_path, text), "backward", "unknown function 'no_such_helper'")


@pytest.mark.parametrize("value,word", [
    ('{self: "grad *"}', "not supported: invalid syntax"),
    ('{dim: "grad"}', "not a Tensor"),
    ("[self]", "expected null"),
])
def test_bad_backward_structure(tmp_path, value, word):
    problems = problems_of(tmp_path, with_field(f"backward: {value}"))
    assert problems and all(p.startswith("fam.yaml: op twice: backward: ") for p in problems), problems
    assert any(word in p for p in problems), problems


def test_declared_not_implemented_gradient_is_accepted(tmp_path):
    text = with_field("backward: {self: \"not_implemented('needs a scatter')\"}")
    assert problems_of(tmp_path, text) == []


def test_backward_on_an_op_without_tensor_results(tmp_path):
    text = GOOD.replace("-> Tensor", "-> ()").replace("variants: [function, method, inplace]", "variants: [function]")
    assert_one_problem(problems_of(tmp_path, text), "backward", "never run")


def test_scalar_field_is_an_expression_or_a_mapping_of_variants(tmp_path):
    assert problems_of(tmp_path, with_field('scalar: "x * 2"')) == []
    assert problems_of(tmp_path, with_field('scalar: {none: "self * 2", fast: "self + self"}')) == []
    assert_one_problem(problems_of(tmp_path, with_field("scalar: [x]")), "scalar", "string")
    assert_one_problem(problems_of(tmp_path, with_field('scalar: {none: ""}')), "scalar", "expression")


def test_elementwise_op_without_scalar_expression(tmp_path):
    text = GOOD.replace('  scalar: "self * 2"\n', "")
    assert_one_problem(problems_of(tmp_path, text), "scalar", "missing", "elementwise")
    assert problems_of(tmp_path, text.replace("lowering: elementwise", "lowering: opaque")) == []


def test_all_problems_are_collected(tmp_path):
    text = GOOD.replace("dtype_rule: same", "dtype_rule: nope").replace("lowering: elementwise", "lowering: nope")
    text += GOOD.replace("twice", "thrice").replace("kernels: {cpu: thrice}", "kernels: {gpu: thrice}")
    problems = problems_of(tmp_path, text)
    assert sorted(p.split(": ")[1:3] for p in problems) == [
        ["op thrice", "kernels"], ["op twice", "dtype_rule"], ["op twice", "lowering"]], problems


def test_op_declared_twice_across_files(tmp_path):
    paths = [write_table(tmp_path, GOOD, "a.yaml"), write_table(tmp_path, GOOD, "b.yaml")]
    problems = validate_table.check_tables(validate_table.load_tables(paths))
    assert problems == ["b.yaml: op twice: schema: declared twice (also in a.yaml)"]


def test_bad_schema_names_the_entry(tmp_path):
    problems = problems_of(tmp_path, GOOD.replace("int dim=0", "integer dim=0"))
    assert len(problems) == 1, problems
    assert problems[0].startswith("fam.yaml: op entry #1: schema: argument 'dim' has unknown type 'integer'")


def run_tool(script, *args):
    return subprocess.run([sys.executable, os.path.join(OPS_DIR, script), *args], capture_output=True, text=True)


def test_command_line_and_generator_fail_with_every_problem(tmp_path):
    bad = write_table(tmp_path, GOOD.replace("shape_rule: same", "shape_rule: nope")
                      .replace("kernels: {cpu: twice}", "kernels: {cpu: twice, npu: x}"))
    r = run_tool("validate_table.py", bad)
    assert r.returncode == 1
    assert "fam.yaml: op twice: shape_rule: unknown value 'nope'" in r.stderr
    assert "fam.yaml: op twice: kernels: unknown device key 'npu'" in r.stderr
    out = tmp_path / "gen"
    r = run_tool("gen_ops.py", "--out", str(out), bad)
    assert r.returncode != 0 and "2 problem(s)" in r.stderr, r.stderr
    assert not out.exists(), "the generator wrote output for an invalid table"


CUDA_TABLE = GOOD.replace("kernels: {cpu: twice}", "kernels: {cpu: twice, cuda: twice_cuda}") + """
- schema: only_here(Tensor self) -> Tensor
  kernels: {cpu: only_here}
  dtypes: float
  dtype_rule: same
  shape_rule: same
  backward: null
  lowering: opaque
  doc: Has no CUDA kernel.
"""


def test_generator_emits_the_cuda_registration_in_its_own_file(tmp_path):
    out = tmp_path / "gen"
    r = run_tool("gen_ops.py", "--out", str(out), write_table(tmp_path, CUDA_TABLE, "mini.yaml"))
    assert r.returncode == 0, r.stderr
    cuda = (out / "kernels_cuda_generated.cpp").read_text()
    assert "namespace kernels::cuda {" in cuda
    assert ("Tensor twice_cuda(const Tensor& self, int64_t dim, bool keepdim, "
            "const std::optional<Tensor>& out);") in cuda
    assert "void register_kernels_cuda(Registry& r) {" in cuda
    assert 'r.impl("twice", DeviceType::DeviceType_CUDA, &kernels::cuda::twice_cuda);' in cuda
    assert "only_here" not in cuda
    core = (out / "ops_generated.cpp").read_text()
    assert "kernels::cuda" not in core and "DeviceType_CUDA" not in core  # the core library does not link them
    assert 'r.impl("twice", DeviceType::DeviceType_CPU, &kernels::cpu::twice);' in core
    # One header per family, an umbrella that includes them, and the registration declared for every device.
    assert "Tensor twice(const Tensor& self" in (out / "hyflow/ops/mini.h").read_text()
    assert '#include "hyflow/ops/mini.h"' in (out / "hyflow/ops/ops_generated.h").read_text()
    assert "void register_kernels_cuda(Registry& r);" in (out / "hyflow/ops/ops_common.h").read_text()


def test_generator_writes_an_empty_cuda_registration_without_cuda_kernels(tmp_path):
    out = tmp_path / "gen"
    r = run_tool("gen_ops.py", "--out", str(out), write_table(tmp_path, GOOD, "mini.yaml"))
    assert r.returncode == 0, r.stderr
    cuda = (out / "kernels_cuda_generated.cpp").read_text()
    assert "void register_kernels_cuda(Registry& r) {" in cuda and "r.impl(" not in cuda


def test_generator_leaves_unchanged_outputs_alone(tmp_path):
    out = tmp_path / "gen"
    table = write_table(tmp_path, GOOD + CUDA_TABLE.split("\n\n")[-1], "mini.yaml")
    assert run_tool("gen_ops.py", "--out", str(out), table).returncode == 0
    header = out / "hyflow/ops/mini.h"
    stamp = header.stat().st_mtime_ns
    os.utime(header, ns=(stamp - 10**9, stamp - 10**9))
    text = (tmp_path / "mini.yaml").read_text().replace("Has no CUDA kernel.", "Still no CUDA kernel.")
    (tmp_path / "mini.yaml").write_text(text)
    assert run_tool("gen_ops.py", "--out", str(out), table).returncode == 0
    assert header.stat().st_mtime_ns != stamp - 10**9  # the doc line is in this header: rewritten
    common = out / "hyflow/ops/ops_common.h"
    os.utime(common, ns=(1, 1))
    (tmp_path / "mini.yaml").write_text(text.replace("Still no", "No"))
    assert run_tool("gen_ops.py", "--out", str(out), table).returncode == 0
    assert common.stat().st_mtime_ns == 1  # nothing in it depends on an op: never rewritten


# --- structured metadata as Python reads it (python/hyflow/ops/metadata.py) ---

def test_onnx_spec_from_python():
    assert hy.ops.onnx_spec("sum") == {"op": "ReduceSum", "domain": "", "since": 13,
                                       "attrs": {"keepdims": "keepdim"}, "inputs": ["self", "dim"]}
    assert hy.ops.onnx_spec("add") == {"op": "Add", "domain": "", "since": None, "attrs": {}, "inputs": None}
    assert hy.ops.schema("sum")["onnx"] == "ReduceSum"  # the text form keeps the operator name
    assert hy.ops.onnx_spec("var") is None


def test_autocast_spec_from_python():
    assert hy.ops.autocast_spec("matmul") == {"policy": "lower", "dtype": None}
    assert hy.ops.autocast_spec("exp") == {"policy": "fp32", "dtype": None}
    assert hy.ops.schema("matmul")["autocast"] == "lower"


def test_metadata_parses_every_structured_field():
    m = hy.ops.metadata("add")
    assert m["backward"] == {"self": "grad_like(sum_to(grad, self.shape), self.dtype)",
                             "other": "grad_like(sum_to(grad * alpha, other.shape), other.dtype)"}
    assert m["variants"] == ["function", "method", "inplace"] and m["writes"] == ["out"]
    assert m["view"] is False and m["onnx"]["op"] == "Add" and m["autocast"]["policy"] == "promote"
    assert hy.ops.backward_formulas("argmax") is None
    assert hy.ops.metadata("transpose")["view"] is True


def test_metadata_of_a_user_defined_op_parses_its_short_forms():
    hy.ops.define("meta_probe_op(Tensor x) -> Tensor", autocast="lower:bfloat16", onnx="Identity")
    assert hy.ops.autocast_spec("meta_probe_op") == {"policy": "lower", "dtype": "bfloat16"}
    assert hy.ops.onnx_spec("meta_probe_op")["op"] == "Identity"


def test_metadata_rejects_a_non_string_name():
    with pytest.raises(TypeError, match="op name"):
        hy.ops.metadata(3)


# --- OpInfo dtypes (tests/python/opinfo) against the table's `dtypes` ---

# Dtypes the table accepts that no OpInfo tests, each with why. Keep it short: a new entry needs a reason.
# Complex: the OpInfo harness builds real inputs only; these ops' complex paths are checked against NumPy and
# torch (values and gradients) in test_complex.py and test_fft.py.
_COMPLEX_ELSEWHERE = ("complex64", "complex128")
UNTESTED_TABLE_DTYPES = {name: _COMPLEX_ELSEWHERE for name in (
    "add", "sub", "mul", "div", "neg", "eq", "ne", "sum", "mean", "cat", "stack", "split", "chunk", "flip", "roll")}


def _opinfos():
    import opinfo
    infos = []
    for mod in pkgutil.iter_modules(opinfo.__path__):
        infos += importlib.import_module(f"opinfo.{mod.name}").OPS
    return infos


def test_opinfo_dtypes_agree_with_the_table():
    tested = {}
    for info in _opinfos():
        tested.setdefault(info.name, set()).update(info.dtypes)
    problems = []
    for name, dtypes in sorted(tested.items()):
        accepted = set(validate_table.expand_dtypes(hy.ops.schema(name)["dtypes"]))
        rejected = dtypes - accepted
        if rejected:
            problems.append(f"{name}: OpInfo tests {sorted(rejected)}, which the table's dtypes reject")
        untested = accepted - dtypes - set(UNTESTED_TABLE_DTYPES.get(name, ()))
        if untested:
            problems.append(f"{name}: the table accepts {sorted(untested)}, which no OpInfo tests")
    assert not problems, "\n".join(problems)


STENCIL = GOOD.replace('  lowering: elementwise\n  scalar: "self * 2"\n',
                       "  lowering: stencil\n  stencil: {kind: shift, input: self, boundary: [periodic]}\n")


def test_stencil_description_is_validated(tmp_path):
    assert problems_of(tmp_path, STENCIL) == []
    assert_one_problem(problems_of(tmp_path, STENCIL.replace("  stencil: {kind: shift, input: self, boundary: [periodic]}\n",
                                                             "")), "stencil", "missing")
    assert_one_problem(problems_of(tmp_path, STENCIL.replace("kind: shift", "kind: blur")), "stencil", "blur")
    assert_one_problem(problems_of(tmp_path, STENCIL.replace("input: self", "input: dim")), "stencil", "dim")
    assert_one_problem(problems_of(tmp_path, STENCIL.replace("[periodic]", "[mirror]")), "stencil", "mirror")
    assert_one_problem(problems_of(tmp_path, STENCIL.replace("boundary: [periodic]", "radius: 1")), "stencil",
                       "expected")
    assert_one_problem(problems_of(tmp_path, STENCIL.replace("lowering: stencil", "lowering: opaque")), "stencil",
                       "only a `lowering: stencil` op")


ROW = GOOD.replace('  lowering: elementwise\n  scalar: "self * 2"\n',
                   "  lowering: reduction\n  row: {kind: softmax, input: self, dim: dim}\n")


def test_row_description_is_validated(tmp_path):
    assert problems_of(tmp_path, ROW) == []
    assert_one_problem(problems_of(tmp_path, ROW.replace("kind: softmax", "kind: cumsum")), "row", "cumsum")
    assert_one_problem(problems_of(tmp_path, ROW.replace("input: self", "input: dim")), "row", "input", "dim")
    assert_one_problem(problems_of(tmp_path, ROW.replace("dim: dim}", "dim: keepdim}")), "row", "keepdim",
                       "not an int")
    assert_one_problem(problems_of(tmp_path, ROW.replace("dim: dim}", "axis: dim}")), "row", "expected")
    assert_one_problem(problems_of(tmp_path, ROW.replace("lowering: reduction", "lowering: opaque")), "row",
                       "only a `lowering: reduction` op")


def test_layer_norm_row_takes_an_int_list(tmp_path):
    # row kind layer_norm reduces the trailing len(normalized_shape) dims: its `dim` is an int[] argument
    text = ROW.replace("kind: softmax", "kind: layer_norm")
    assert_one_problem(problems_of(tmp_path, text), "row", "dim", "not an int[]")
    ok = text.replace("int dim=0", "int[] dim=[0]")
    assert problems_of(tmp_path, ok) == []


def test_backward_key_naming_several_inputs(tmp_path):
    # one formula for several inputs ("self, other": a tuple of gradients) names tensor arguments only
    two = GOOD.replace("Tensor self, int dim=0", "Tensor self, Tensor other, int dim=0")
    assert problems_of(tmp_path, two.replace('{self: "grad * 2"}', '{"self, other": "twice(grad)"}')) == []
    bad = two.replace('{self: "grad * 2"}', '{"self, dim": "twice(grad)"}')
    assert_one_problem(problems_of(tmp_path, bad), "backward", "'dim'", "not a Tensor")
    assert hy.ops.backward_formulas("layer_norm") == {
        "input, weight, bias": "layer_norm_backward_all(grad, input, result1, result2, weight, bias, "
                               "normalized_shape, eps)"}


def test_row_ops_export_their_description():
    assert hy.ops.metadata("softmax")["row"] == {"kind": "softmax", "input": "self", "dim": "dim"}
    assert hy.ops.metadata("log_softmax")["row"]["kind"] == "log_softmax"
    assert hy.ops.metadata("layer_norm")["row"] == {"kind": "layer_norm", "input": "input", "dim": "normalized_shape"}
    assert "row" not in hy.ops.metadata("sum")


def test_stencil_ops_export_their_description():
    assert hy.ops.metadata("roll")["stencil"] == {"kind": "shift", "input": "self", "boundary": ["periodic"]}
    assert hy.ops.metadata("laplacian")["stencil"]["kind"] == "second_difference"
    assert hy.ops.metadata("roll")["lowering"] == "stencil"
