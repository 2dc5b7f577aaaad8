"""The op table's scalar expression language (python/hyflow/ops/scalar_expr.py): parsing, validation,
the C++ it emits, and that every elementwise op of the table declares a valid expression."""
import json

import pytest

from hyflow.ops import scalar_expr as se


def parse(text, tensors=("self", "other"), params=("alpha",)):
    return se.parse("myop", text, tensors, params)


def test_plain_cpp_uses_the_shared_primitives():
    e = parse("self + alpha * other")
    assert e.cpp() == "hy::scalar::add(self, hy::scalar::mul(static_cast<T>(alpha), other))"
    assert e.arg_kinds == {"self": "value", "other": "value"}
    assert e.params == ["alpha"]


def test_cpp_renames_arguments_for_generated_loops():
    e = parse("exp(self) / other")
    assert e.cpp(names={"self": "a[i]", "other": "b[i]"}, type_name="float") == \
        "hy::scalar::div(hy::scalar::exp(a[i]), b[i])"


def test_bool_kinds_follow_use():
    e = parse("where(self > 0, self, other)")
    assert e.arg_kinds == {"self": "value", "other": "value"} and e.root.result == "value"
    e = se.parse("w", "where(condition, self, other)", ["condition", "self", "other"], [])
    assert e.arg_kinds == {"condition": "bool", "self": "value", "other": "value"}
    e = parse("self and not other")
    assert e.arg_kinds == {"self": "bool", "other": "bool"} and e.root.result == "bool"
    assert e.cpp() == "hy::scalar::logical_and(self, hy::scalar::logical_not(other))"


def test_comparison_used_as_number_is_cast():
    e = parse("(0 < self) - (self < 0)")
    assert e.cpp() == ("hy::scalar::sub(static_cast<T>(hy::scalar::lt(static_cast<T>(0), self)), "
                       "static_cast<T>(hy::scalar::lt(self, static_cast<T>(0))))")
    assert not e.packet_ok()  # a packet comparison is a lane mask, not 0/1


def test_operators_map_to_primitives():
    assert parse("self // other").cpp() == "hy::scalar::floor_divide(self, other)"
    assert parse("self % other").cpp() == "hy::scalar::remainder(self, other)"
    assert parse("~self").cpp() == "hy::scalar::bitwise_not(self)"
    assert parse("-self").cpp() == "hy::scalar::neg(self)"
    assert parse("self * -0.5").cpp() == "hy::scalar::mul(self, static_cast<T>(-0.5))"


def test_parameter_only_calls_are_hoisted():
    e = se.parse("round", "rint(self * exp10(decimals)) / exp10(decimals)", ["self"], ["decimals"])
    hoisted = e.hoisted()
    assert len(hoisted) == 1 and hoisted[0].name == "exp10"
    assert e.cpp(hoisted_names=[(hoisted[0], "h0")]) == \
        "hy::scalar::div(hy::scalar::rint(hy::scalar::mul(self, static_cast<T>(h0))), static_cast<T>(h0))"


def test_packet_form_uses_eigen_functors_and_select():
    e = se.parse("softplus", "where(self * beta > threshold, self, log1p(exp(self * beta)) / beta)",
                 ["self"], ["beta", "threshold"])
    assert e.packet_ok()
    packet = e.eigen_cpp(True, [])
    assert packet.startswith("pselect(pcmp_lt(pset1<Packet>(threshold), pmul(self, pset1<Packet>(beta))), self")
    assert "scalar_log1p_op<T>().packetOp(hy::eigen_packet::exp_op<T>().packetOp(" in packet
    assert "Eigen::internal::functor_traits<hy::eigen_packet::exp_op<T>>::PacketAccess" in e.packet_traits()
    assert "Eigen::internal::packet_traits<T>::HasCmp" in e.packet_traits()
    # Integer-only primitives have no packet form: such ops get only the scalar functor.
    assert not parse("self // other").packet_ok()


@pytest.mark.parametrize("text, token", [
    ("self + beta", "beta"),                 # not an argument of the op
    ("foo(self)", "foo"),                    # not in the vocabulary
    ("self.exp()", "self.exp"),              # attribute calls are not the language
    ("self ** 2", "self ** 2"),              # operator not in the language
    ("exp(self, other)", "exp(self, other)"),  # arity
    ("0 < self < 1", "0 < self < 1"),        # chained comparison
    ("'a'", "'a'"),                          # string literal
    ("self if other else 0", "self if other else 0"),
    ("where(self, self, other)", "self"),    # self both a bool and a number
    ("where(self + 1, self, other)", "self + 1"),  # a number where a bool is needed
])
def test_bad_expressions_name_the_op_and_token(text, token):
    with pytest.raises(se.ScalarExprError) as info:
        parse(text)
    msg = str(info.value)
    assert "op myop" in msg and token in msg


def test_syntax_error_and_empty_are_rejected():
    with pytest.raises(se.ScalarExprError, match="myop.*not valid syntax"):
        parse("self +")
    with pytest.raises(se.ScalarExprError, match="myop.*non-empty"):
        parse("  ")


def test_every_elementwise_op_declares_a_valid_expression():
    import hyflow as hy
    seen = 0
    for name in hy.ops.list_ops():
        info = hy.ops.schema(name)
        if info.get("lowering") != "elementwise":
            continue
        assert "scalar" in info, f"elementwise op {name} has no scalar expression"
        spec = json.loads(info["scalar"])
        texts = spec.values() if isinstance(spec, dict) else [spec]
        schema = info["schema"]
        args = schema[schema.index("(") + 1:schema.rindex(")")].split(",")
        decls = [a.split("=")[0].strip().split() for a in args if a.strip() not in ("*", "")]
        written = info.get("writes", "").split(",")
        tensors = [n for t, n in decls if t.rstrip("?") == "Tensor" and n not in written]
        params = [n for t, n in decls if t.rstrip("?") in ("Scalar", "float", "int", "bool")]
        for text in texts:
            se.parse(name, text, tensors, params)
        seen += 1
    assert seen >= 60


def _entry(schema, scalar=None):
    """A complete op-table entry (the validator rejects partial ones before the scalar generator runs)."""
    text = (f"- schema: {schema}\n  kernels: {{cpu: myneg}}\n  dtypes: float\n  dtype_rule: same\n"
            f"  shape_rule: same\n  backward: null\n  lowering: elementwise\n  doc: Test op.\n")
    return text + (f"  scalar: \"{scalar}\"\n" if scalar is not None else "")


def _run_generator(tmp_path, entry):
    import os
    import subprocess
    import sys
    gen = os.path.join(os.path.dirname(__file__), "..", "..", "csrc", "ops", "gen_ops.py")
    table = tmp_path / "unary.yaml"
    table.write_text(entry)
    return subprocess.run([sys.executable, gen, "--out", str(tmp_path / "out"), str(table)],
                          capture_output=True, text=True)


def test_build_fails_for_elementwise_op_without_scalar(tmp_path):
    r = _run_generator(tmp_path, _entry("myneg(Tensor self) -> Tensor"))
    assert r.returncode != 0 and "myneg" in r.stderr and "scalar" in r.stderr


def test_build_fails_for_bad_scalar_naming_op_and_token(tmp_path):
    r = _run_generator(tmp_path, _entry("myneg(Tensor self) -> Tensor", "negate(self)"))
    assert r.returncode != 0 and "op myneg" in r.stderr and "negate" in r.stderr


def test_generator_writes_functors_from_the_table(tmp_path):
    r = _run_generator(tmp_path, _entry("myneg(Tensor self, float k=1.0) -> Tensor", "-(self * k)"))
    assert r.returncode == 0, r.stderr
    light = (tmp_path / "out" / "hyflow" / "ops" / "scalar_ops_generated.h").read_text()
    assert "struct myneg {" in light
    assert "hy::scalar::neg(hy::scalar::mul(self, static_cast<T>(k)))" in light
    eigen = (tmp_path / "out" / "hyflow" / "ops" / "scalar_ops_eigen_generated.h").read_text()
    assert "struct myneg_packet {" in eigen and "pnegate(pmul(self, pset1<Packet>(k)))" in eigen
    # One element runs the packet code too (broadcast, first lane), so both forms give the same bits.
    assert "return pfirst(packetOp(pset1<P>(self)));" in eigen
