"""Parsing of op-table schema text ("add(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor").

Shared by the generator (gen_ops.py) and the table validator (validate_table.py), so both read a
signature the same way.
"""
import re

# Argument types a schema may use (each maps to one C++ parameter type in Arg.cpp_type).
ARG_TYPES = ("Tensor", "Tensor[]", "Scalar", "int", "int[]", "float", "bool", "str", "ScalarType", "Device",
             "Generator")
RETURN_TYPES = ("Tensor", "Tensor[]", "Scalar")


def split_top(s):
    """Split at the commas outside brackets and quotes."""
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
    """One schema argument: its type (without '?'), name, default text, optional and kwarg-only flags."""

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



def parse_schema(text):
    """(name, [Arg], [return type]) of a schema; raises ValueError naming what is malformed."""
    m = re.fullmatch(r"(\w+)\((.*)\)\s*->\s*(.+)", text.strip())
    if not m:
        raise ValueError(f"bad schema '{text.strip()}' (expected 'name(args) -> returns')")
    name, params, ret = m.groups()
    args, kw = [], False
    for p in split_top(params):
        if p == "*":
            kw = True
            continue
        try:
            arg = Arg(p, kw)
        except ValueError:
            raise ValueError(f"bad argument '{p}' (expected 'Type name' or 'Type name=default')") from None
        if arg.type not in ARG_TYPES:
            raise ValueError(f"argument '{arg.name}' has unknown type '{arg.type}' (known: {', '.join(ARG_TYPES)})")
        args.append(arg)
    ret = ret.strip()
    returns = [r.strip() for r in split_top(ret[1:-1])] if ret.startswith("(") else ([] if ret == "()" else [ret])
    for r in returns:
        if r not in RETURN_TYPES:
            raise ValueError(f"unknown return type '{r}' (known: {', '.join(RETURN_TYPES)})")
    return name, args, returns
