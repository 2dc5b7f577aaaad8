"""The scalar expression language of the op table's `scalar:` field: one definition of an elementwise op's math.

An elementwise op declares what it computes for one element as a small, restricted Python expression:

    - schema: softplus(Tensor self, float beta=1.0, float threshold=20.0, *, Tensor? out=None) -> Tensor
      scalar: "where(self * beta > threshold, self, log1p(exp(self * beta)) / beta)"

Names are the op's schema arguments: Tensor arguments are the element values (inputs), Scalar/float/int
arguments are parameters, fixed for one call. Besides names there are numeric literals, True/False,
`+ - * / // %`, unary `-`, `~ & | ^` (integers and bools), one comparison at a time (`< <= > >= == !=`),
`and or not` (bools), and calls of the fixed VOCABULARY below. Anything else is an error naming the op and
the offending token. Integer `+ - *` and unary `-` wrap like NumPy; `/` of integers truncates.

This module has no hyflow imports: the build-time generator (csrc/ops/gen_scalar.py) loads it by path, and
the run-time compiler imports it as `hyflow.ops.scalar_expr`. It gives:
  parse(op, text, tensor_args, params)   -> Expr (validated: known names, known functions, arity, kinds)
  Expr.cpp(names)                        plain C++ over the Eigen-free header csrc/kernels/scalar_math.h
                                         (`hy::scalar::add(...)`), the compiler's generated loops
  Expr.functor_cpp(name) / Expr.packet_functor_cpp(name)   the eager kernels' functors (gen_scalar.py)

Kinds: every value is either a number of the compute type `T` ("value") or a bool ("bool"). A tensor
argument used as a bool (where's condition, the operands of and/or/not) is read as bool.
"""
import ast
from dataclasses import dataclass, field

VALUE, BOOL = "value", "bool"


@dataclass(frozen=True)
class Fn:
    """One vocabulary function: argument kinds, result kind, and its Eigen packet form if it has one.

    `eigen` names the Eigen functor (Eigen::internal::scalar_<x>_op<T>) whose scalar and packet paths the
    eager kernels use; such a function has two implementations (Eigen's and scalar_math.h's) and
    tests/python/test_scalar_expr.py checks that they agree. `packet` is a packet expression template
    over {0}, {1}... for functions that are exact the same in both forms (floor, sqrt, select ...).
    """
    args: tuple
    result: str = VALUE
    eigen: str = None     # Eigen-style functor (Eigen::internal:: unless qualified): scalar form
                          # `F<T>()(x)`, packet form `F<T>().packetOp(x)`
    packet: str = None    # packet expression template, when not an Eigen functor
    scalar: str = None    # scalar form in the Eigen functor, when not the scalar_math.h one
    traits: tuple = ()    # Eigen packet_traits<T> flags the packet form needs


V, B = VALUE, BOOL
VOCABULARY = {
    # Transcendentals: eager uses vectorized functors, generated code scalar_math.h (libm). exp, expm1,
    # log and sigmoid are ours (kernels/cpu/packet_math.h: Eigen's are wrong at the range ends).
    "exp": Fn((V,), eigen="hy::eigen_packet::exp_op"),
    "expm1": Fn((V,), eigen="hy::eigen_packet::expm1_op"),
    "log": Fn((V,), eigen="hy::eigen_packet::log_op"),
    "log1p": Fn((V,), eigen="scalar_log1p_op"),
    "sin": Fn((V,), eigen="scalar_sin_op"),
    "cos": Fn((V,), eigen="scalar_cos_op"),
    "tan": Fn((V,), eigen="scalar_tan_op"),
    "tanh": Fn((V,), eigen="scalar_tanh_op"),
    "erf": Fn((V,), eigen="scalar_erf_op"),
    "sigmoid": Fn((V,), eigen="hy::eigen_packet::sigmoid_op"),
    # Exact in every form (correctly rounded or exact operations).
    "sqrt": Fn((V,), packet="hy::eigen_packet::sqrt_exact({0})", scalar="std::sqrt({0})",
               traits=("hy::eigen_packet::kHasSqrtExact",)),
    "floor": Fn((V,), packet="pfloor({0})", scalar="Eigen::numext::floor({0})", traits=("HasFloor",)),
    "ceil": Fn((V,), packet="pceil({0})", scalar="Eigen::numext::ceil({0})", traits=("HasCeil",)),
    "rint": Fn((V,), packet="print({0})", scalar="Eigen::numext::rint({0})", traits=("HasRint",)),
    "trunc": Fn((V,), packet="pselect(pcmp_lt({0}, pzero({0})), pceil({0}), pfloor({0}))",
                scalar="std::trunc({0})", traits=("HasFloor", "HasCeil", "HasCmp")),
    "abs": Fn((V,), packet="pabs({0})", scalar="std::abs({0})", traits=("HasAbs",)),
    "where": Fn((B, V, V), packet="pselect({0}, {1}, {2})", scalar="({0} ? {1} : {2})", traits=("HasCmp",)),
    # Dtype-subtle primitives (wrap, NumPy division rules, NaN propagation): scalar_math.h only.
    "minimum": Fn((V, V)),            # NaN-propagating
    "maximum": Fn((V, V)),
    "clamp_min": Fn((V, V)),          # max(x, lo) that propagates NaN from either side (clamp's rule)
    "clamp_max": Fn((V, V)),
    "floor_divide": Fn((V, V)),       # Python/NumPy floor division (ints and floats)
    "remainder": Fn((V, V)),          # Python/NumPy modulo: the sign follows the divisor
    "trunc_divide": Fn((V, V)),       # division rounded toward zero; INT_MIN / -1 wraps
    "pow": Fn((V, V)),                # integer powers by squaring (wrapping); floats std::pow
    "atan2": Fn((V, V)),
    "round_int_to": Fn((V, V)),       # integer x rounded to a multiple of p, ties to even
    "exp10": Fn((V,)),                # 10^x in double (parameters only, e.g. round's scale)
    "sign": Fn((V,)),                 # -1, 0 or 1; sign(NaN) is 0
    "isnan": Fn((V,), BOOL),
    "isinf": Fn((V,), BOOL),
    "isfinite": Fn((V,), BOOL),
}

# Operators map onto the same primitives (integer wrap, bool rules) as named calls do.
BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floor_divide",
          ast.Mod: "remainder", ast.BitAnd: "bitwise_and", ast.BitOr: "bitwise_or", ast.BitXor: "bitwise_xor"}
PACKET_BINOPS = {"add": "padd", "sub": "psub", "mul": "pmul", "div": "pdiv"}
CPP_BINOPS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
CPP_COMPARES = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "=="}
COMPARES = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}
# Packet comparisons: Eigen has lt/le/eq; > and >= swap the operands.
PACKET_COMPARES = {"lt": ("pcmp_lt", False), "le": ("pcmp_le", False), "gt": ("pcmp_lt", True),
                   "ge": ("pcmp_le", True), "eq": ("pcmp_eq", False)}
for _name in list(BINOPS.values()) + ["neg", "bitwise_not"]:
    VOCABULARY.setdefault(_name, Fn((V, V) if _name not in ("neg", "bitwise_not") else (V,)))
for _name in COMPARES.values():
    VOCABULARY[_name] = Fn((V, V), BOOL)
for _name in ("logical_and", "logical_or", "logical_xor"):
    VOCABULARY[_name] = Fn((B, B), BOOL)
VOCABULARY["logical_not"] = Fn((B,), BOOL)


class ScalarExprError(ValueError):
    """A `scalar:` expression the language does not accept; the message names the op and the token."""


@dataclass
class Node:
    kind: str                   # "arg" | "param" | "lit" | "call"
    name: str = ""              # argument/parameter/function name
    value: object = None        # literal value
    args: list = field(default_factory=list)
    result: str = VALUE         # VALUE or BOOL

    def param_only(self):
        return self.kind in ("param", "lit") or (self.kind == "call" and all(a.param_only() for a in self.args))


class Expr:
    """A parsed, validated scalar expression of one op."""

    def __init__(self, op, text, root, tensor_args, params):
        self.op, self.text, self.root = op, text, root
        self.arg_kinds = {}     # tensor argument -> VALUE / BOOL, in schema order, used ones only
        self.params = []        # parameters used, in schema order
        used = {}
        self._collect(root, used)
        for a in tensor_args:
            if a in used:
                self.arg_kinds[a] = used[a]
        self.params = [p for p in params if p in used]
        self.functions = sorted(self._functions(root))

    def _collect(self, n, used):
        if n.kind in ("arg", "param"):
            if n.kind == "arg" and used.get(n.name, n.result) != n.result:
                raise ScalarExprError(f"op {self.op}: '{n.name}' is used both as a number and as a bool")
            used[n.name] = n.result
        for a in n.args:
            self._collect(a, used)

    def _functions(self, n):
        out = {n.name} if n.kind == "call" else set()
        for a in n.args:
            out |= self._functions(a)
        return out

    @property
    def typed(self):
        """Whether the element function is a template over the compute type T (any number argument, or
        none at all, as for a constant)."""
        return any(k == VALUE for k in self.arg_kinds.values()) or not self.arg_kinds

    def hoisted(self):
        """Parameter-only calls (e.g. exp10(decimals)): computed once per call, not per element."""
        out = []

        def walk(n):
            if n.kind == "call" and n.param_only():
                if n not in out:
                    out.append(n)
                return
            for a in n.args:
                walk(a)
        walk(self.root)
        return out

    # ---- plain C++ (scalar_math.h), shared by the eager scalar functors and generated loops ----
    def cpp(self, names=None, type_name="T", hoisted_names=None):
        """C++ for one element: `names` maps arguments/parameters to C++ expressions (default: themselves);
        `hoisted_names` pairs hoisted parameter-only calls with the variables that hold them."""
        names = names or {}
        hoisted_names = hoisted_names or []

        def param_cpp(n):
            return param_only_cpp(n, names)

        def emit(n, want):
            if n.param_only():
                text = _lookup(hoisted_names, n) or param_cpp(n)
                if n.kind == "lit" and isinstance(n.value, bool):
                    return text
                return f"static_cast<{type_name}>({text})" if want == VALUE and self.typed else text
            if n.kind == "arg":
                text = names.get(n.name, n.name)
            else:
                fn = VOCABULARY[n.name]
                text = "hy::scalar::" + n.name + "(" + ", ".join(emit(a, k) for a, k in zip(n.args, fn.args)) + ")"
            if want == VALUE and n.result == BOOL:
                return f"static_cast<{type_name}>({text})"
            return text
        return emit(self.root, VALUE if self.root.result == VALUE else BOOL)

    # ---- Eigen packet form (eager vectorized kernels) ----
    def packet_ok(self):
        """True when every function has a packet form and every argument is a number (Eigen unaryExpr)."""
        if any(k != VALUE for k in self.arg_kinds.values()) or not 1 <= len(self.arg_kinds) <= 2:
            return False
        if self.root.result != VALUE or not _masks_only_select(self.root):
            return False
        return all(f in PACKET_BINOPS or f == "neg" or f in PACKET_COMPARES or f == "exp10"
                   or VOCABULARY[f].eigen or VOCABULARY[f].packet for f in self.functions)

    def packet_traits(self):
        traits = set()
        for f in self.functions:
            fn = VOCABULARY[f]
            if fn.eigen:
                functor = fn.eigen if "::" in fn.eigen else f"Eigen::internal::{fn.eigen}"
                traits.add(f"Eigen::internal::functor_traits<{functor}<T>>::PacketAccess")
            elif f in PACKET_COMPARES:
                traits.add("Eigen::internal::packet_traits<T>::HasCmp")
            elif f in PACKET_BINOPS or f == "neg":
                traits.add(f"Eigen::internal::packet_traits<T>::Has{f.capitalize() if f != 'neg' else 'Negate'}")
            for t in fn.traits:
                traits.add(t if "::" in t else f"Eigen::internal::packet_traits<T>::{t}")
        return sorted(traits)

    def eigen_cpp(self, packet, hoisted_names):
        """The Eigen functor's scalar (packet=False) or packet (True) body over T members."""
        def emit(n):
            if n.param_only():
                text = _lookup(hoisted_names, n) or (
                    n.name if n.kind == "param" else f"T({_literal(n.value)})")
                return f"pset1<Packet>({text})" if packet else text
            if n.kind == "arg":
                return n.name
            fn, a = VOCABULARY[n.name], [emit(x) for x in n.args]
            if n.name in PACKET_BINOPS:
                if packet:
                    return f"{PACKET_BINOPS[n.name]}({a[0]}, {a[1]})"
                return f"({a[0]} {CPP_BINOPS[n.name]} {a[1]})"
            if n.name == "neg":
                return f"pnegate({a[0]})" if packet else f"(-{a[0]})"
            if n.name in PACKET_COMPARES:
                pname, swap = PACKET_COMPARES[n.name]
                if packet:
                    return f"{pname}({a[1]}, {a[0]})" if swap else f"{pname}({a[0]}, {a[1]})"
                return f"({a[0]} {CPP_COMPARES[n.name]} {a[1]})"
            if fn.eigen:
                return f"{fn.eigen}<T>().packetOp({a[0]})" if packet else f"{fn.eigen}<T>()({a[0]})"
            if packet:
                return fn.packet.format(*a)
            if fn.scalar:
                return fn.scalar.format(*a)
            return "hy::scalar::" + n.name + "(" + ", ".join(a) + ")"
        return emit(self.root)


def _masks_only_select(n, as_condition=False):
    """A packet comparison is a lane mask, not a number: allow bool results only as where's condition."""
    if n.result == BOOL and not as_condition:
        return False
    return all(_masks_only_select(a, n.kind == "call" and n.name == "where" and i == 0)
               for i, a in enumerate(n.args))


def param_only_cpp(n, names):
    """C++ of a parameter-only subexpression: parameters and literals compute in double (cast to T at use)."""
    if n.kind == "lit":
        return _literal(n.value)
    if n.kind == "param":
        return names.get(n.name, n.name)
    return "hy::scalar::" + n.name + "(" + ", ".join(param_only_cpp(a, names) for a in n.args) + ")"


def _lookup(pairs, node):
    """The C++ name of a hoisted parameter-only call equal to `node` (pairs of (Node, name)), else None."""
    return next((name for h, name in pairs if h == node), None)


def _literal(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"int64_t({v})" if abs(v) >= 2**31 else str(v)
    r = repr(float(v))
    return r if ("." in r or "e" in r or "n" in r) else r + ".0"


def parse(op, text, tensor_args, params):
    """Parse and validate `text`, the `scalar:` expression of `op` whose Tensor arguments are `tensor_args`
    and non-Tensor arguments `params`. Raises ScalarExprError naming the op and the offending token."""
    if not isinstance(text, str) or not text.strip():
        raise ScalarExprError(f"op {op}: scalar must be a non-empty expression string, got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ScalarExprError(f"op {op}: scalar expression {text!r} is not valid syntax: {e.msg}") from None
    tensor_args, params = list(tensor_args), list(params)

    def bad(node, what):
        token = ast.get_source_segment(text.strip(), node) or type(node).__name__
        raise ScalarExprError(f"op {op}: {what} '{token}' in scalar expression {text!r}")

    def call(name, args, node):
        fn = VOCABULARY[name]
        if len(args) != len(fn.args):
            bad(node, f"{name} takes {len(fn.args)} argument(s), got {len(args)}:")
        for a, kind in zip(args, fn.args):
            if kind == BOOL and a.kind == "arg":
                a.result = BOOL   # a tensor argument read as a bool (where's condition, logical ops)
            elif kind == BOOL and a.result != BOOL:
                bad(node, f"{name} needs a bool (a comparison or a bool argument) in")
        return Node("call", name, args=args, result=fn.result)

    def conv(n):
        if isinstance(n, ast.Name):
            if n.id in tensor_args:
                return Node("arg", n.id)
            if n.id in params:
                return Node("param", n.id)
            bad(n, "unknown name")
        if isinstance(n, ast.Constant):
            if isinstance(n.value, (bool, int, float)):
                return Node("lit", value=n.value, result=BOOL if isinstance(n.value, bool) else VALUE)
            bad(n, "unsupported literal")
        if isinstance(n, ast.BinOp):
            if type(n.op) not in BINOPS:
                bad(n, "unsupported operator in")
            return call(BINOPS[type(n.op)], [conv(n.left), conv(n.right)], n)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub) and isinstance(n.operand, ast.Constant) \
                and type(n.operand.value) in (int, float):
            return Node("lit", value=-n.operand.value)  # a negative literal, not neg() of one
        if isinstance(n, ast.UnaryOp):
            name = {ast.USub: "neg", ast.Not: "logical_not", ast.Invert: "bitwise_not"}.get(type(n.op))
            if name is None:
                bad(n, "unsupported operator in")
            return call(name, [conv(n.operand)], n)
        if isinstance(n, ast.Compare):
            if len(n.ops) != 1 or type(n.ops[0]) not in COMPARES:
                bad(n, "unsupported comparison (one of < <= > >= == != at a time)")
            return call(COMPARES[type(n.ops[0])], [conv(n.left), conv(n.comparators[0])], n)
        if isinstance(n, ast.BoolOp):
            name = "logical_and" if isinstance(n.op, ast.And) else "logical_or"
            out = conv(n.values[0])
            for v in n.values[1:]:
                out = call(name, [out, conv(v)], n)
            return out
        if isinstance(n, ast.Call):
            if not isinstance(n.func, ast.Name) or n.func.id not in VOCABULARY or n.keywords:
                bad(n.func, "unknown function")
            return call(n.func.id, [conv(a) for a in n.args], n)
        bad(n, "unsupported syntax")

    return Expr(op, text.strip(), conv(tree.body), tensor_args, params)
