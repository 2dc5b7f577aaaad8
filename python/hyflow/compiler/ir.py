"""The compiler's IR: an SSA graph of op-table calls.

A :class:`Graph` is what one traced call of a function did, as data:

* ``inputs`` — the function's tensor arguments (one :class:`Value` per distinct tensor object);
* ``captured`` — tensors the code used but neither received nor made: module parameters, globals, Python
  numbers wrapped for an op call. Held by reference, never copied, so an optimizer step is seen by the next
  call;
* ``nodes`` — one :class:`Node` per op call, in execution order. Each produces new Values (SSA): an in-place
  op (``x.add_(1)``) yields a new Value for ``x``, and later uses of ``x`` refer to it;
* ``outputs`` — the returned pytree (tuples, lists, dicts) with Values at its tensor leaves.

A node carries its op's table entry (``lowering``, ``dtype_rule``, ``shape_rule``, ``backward``, ``writes``),
read from the registry, so passes and the future code generator decide from the same declaration as eager.
"""
import functools

from .. import _C

__all__ = ["TensorMeta", "Value", "Node", "Graph", "op_entry"]


class TensorMeta:
    """What a traced tensor looked like: the facts code generation and guards need."""

    __slots__ = ("shape", "strides", "dtype", "device", "requires_grad")

    def __init__(self, shape, strides, dtype, device, requires_grad):
        self.shape, self.strides, self.dtype = tuple(shape), tuple(strides), dtype
        self.device, self.requires_grad = device, requires_grad

    @classmethod
    def of(cls, t):
        return cls(t.shape, t.stride(), t.dtype, t.device, t.requires_grad)

    def __eq__(self, other):
        return isinstance(other, TensorMeta) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def key(self):
        return (self.shape, self.strides, str(self.dtype), str(self.device), self.requires_grad)

    def short(self):
        dt = str(self.dtype).replace("hyflow.", "")
        contiguous = self.strides == contiguous_strides(self.shape)
        return f"{dt}{list(self.shape)}" + ("" if contiguous else f"/s{list(self.strides)}")


def contiguous_strides(shape):
    """Row-major strides (in elements) of a dense tensor of ``shape``."""
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(strides))


class Value:
    """One SSA value. ``kind`` is "input", "captured", "constant" (folded) or "node" (an op's result)."""

    __slots__ = ("id", "kind", "meta", "producer", "tensor", "storage", "__weakref__")

    def __init__(self, vid, kind, meta, producer=None, tensor=None, storage=None):
        self.id, self.kind, self.meta = vid, kind, meta
        self.producer = producer  # the Node of a "node" value
        self.tensor = tensor      # the referenced tensor of a "captured" or "constant" value
        # Address of the memory block the traced tensor lived in: values with equal `storage` alias each
        # other (views, ops that return an input). Every traced tensor is alive until the graph is built,
        # so addresses are unique; None when unknown (a value made by a pass).
        self.storage = storage

    @property
    def name(self):
        return {"input": "in", "captured": "cap", "constant": "const"}.get(self.kind, "v") + str(self.id)

    def is_literal_number(self):
        """A Python number wrapped for an op call (``x * 2``): a constant of the program text."""
        return self.kind == "captured" and _C._compiler.is_wrapped_number(self.tensor)

    def __repr__(self):
        return f"%{self.name}"


@functools.lru_cache(maxsize=None)
def op_entry(name):
    """The registry's entry of op ``name`` (schema args and every op-table field) plus derived facts."""
    info = dict(_C._op_info(name))
    info["writes_list"] = tuple(w for w in info.get("writes", "").split(",") if w)
    info["uses_rng"] = any(a["type"] == "Generator" for a in info["args"])
    info["is_view"] = info.get("view") == "true" or info.get("lowering") == "view"
    return info


class Node:
    """One op call. ``args`` follow the schema: a Value per Tensor argument, a list of Values per Tensor[]
    argument, None for a missing optional, the plain Python value of everything else. ``results`` follow the
    schema's returns the same way (a Value, or a list of Values for a Tensor[] result)."""

    __slots__ = ("op", "args", "results", "grad_enabled")

    def __init__(self, op, args, results, grad_enabled=True):
        self.op, self.args, self.results, self.grad_enabled = op, list(args), list(results), grad_enabled

    # ---- op-table facts -----------------------------------------------------------------------------
    @property
    def entry(self):
        return op_entry(self.op)

    @property
    def lowering(self):
        """elementwise | reduction | gemm | view | stencil | opaque; "opaque" for a user-defined op."""
        return self.entry.get("lowering", "opaque") if self.entry.get("builtin") else "opaque"

    def entry_stencil(self):
        """The op table's ``stencil:`` of a ``lowering: stencil`` op ({kind, input, boundary}), else None."""
        from ..ops.metadata import metadata
        return metadata(self.op).get("stencil") if self.lowering == "stencil" else None

    @property
    def arg_names(self):
        return [a["name"] for a in self.entry["args"]]

    def arg(self, name):
        return self.args[self.arg_names.index(name)]

    def written_values(self):
        """The Values this node writes into (its ``writes`` arguments that were given)."""
        out = []
        for name in self.entry["writes_list"]:
            a = self.arg(name)
            out.extend(a if isinstance(a, list) else ([a] if isinstance(a, Value) else []))
        return out

    def has_side_effects(self):
        """Writes memory, draws random numbers (advances a generator) or is a user-defined op (whose kernel
        the compiler cannot see into). Built-in opaque ops (zeros, nonzero, cat) are pure: the op table
        declares every write."""
        return bool(self.written_values()) or self.entry["uses_rng"] or not self.entry.get("builtin")

    def is_pure(self):
        return not self.has_side_effects()

    # ---- values ---------------------------------------------------------------------------------------
    def input_values(self):
        out = []
        for a in self.args:
            if isinstance(a, Value):
                out.append(a)
            elif isinstance(a, list):
                out.extend(x for x in a if isinstance(x, Value))
        return out

    def output_values(self):
        out = []
        for r in self.results:
            out.extend(r if isinstance(r, list) else [r])
        return out

    def replace_input(self, old, new):
        def swap(a):
            if a is old:
                return new
            if isinstance(a, list):
                return [new if x is old else x for x in a]
            return a
        self.args = [swap(a) for a in self.args]

    def key(self):
        """Identity for common-subexpression elimination: op, inputs by Value, other arguments by value."""
        def k(a):
            if isinstance(a, Value):
                return ("v", a.id)
            if isinstance(a, list):
                return ("l",) + tuple(k(x) for x in a)
            if isinstance(a, float) and a != a:
                return ("nan",)
            return (type(a).__name__, repr(a))
        return (self.op, self.grad_enabled) + tuple(k(a) for a in self.args)

    def format(self):
        outs = ", ".join(f"{v!r}: {v.meta.short()}" for v in self.output_values()) or "()"
        parts = []
        for name, a in zip(self.arg_names, self.args):
            if a is None and name == "out":
                continue
            if isinstance(a, list):
                text = "[" + ", ".join(_arg_text(x) for x in a) + "]"
            else:
                text = _arg_text(a)
            parts.append(text if isinstance(a, (Value, list)) else f"{name}={text}")
        grad = "" if self.grad_enabled else "  # no_grad"
        return f"{outs} = {self.op}({', '.join(parts)})  [{self.lowering}]{grad}"


def _arg_text(a):
    if isinstance(a, Value):
        if a.is_literal_number():
            return repr(a.tensor.item())
        return repr(a)
    return repr(a)


class Graph:
    """An SSA graph; see the module docstring. Build it with :mod:`hyflow.compiler.capture`."""

    def __init__(self):
        self.inputs, self.captured, self.nodes = [], [], []
        self.outputs = None  # pytree with Values at tensor leaves
        self._next_id = 0

    # ---- construction --------------------------------------------------------------------------------
    def new_value(self, kind, meta, producer=None, tensor=None, storage=None):
        v = Value(self._next_id, kind, meta, producer, tensor, storage)
        self._next_id += 1
        return v

    def add_input(self, meta, storage=None):
        v = self.new_value("input", meta, storage=storage)
        self.inputs.append(v)
        return v

    def add_captured(self, tensor):
        v = self.new_value("captured", TensorMeta.of(tensor), tensor=tensor, storage=tensor.untyped_storage_ptr())
        self.captured.append(v)
        return v

    def add_constant(self, tensor):
        v = self.new_value("constant", TensorMeta.of(tensor), tensor=tensor, storage=tensor.untyped_storage_ptr())
        self.captured.append(v)
        return v

    # ---- queries -------------------------------------------------------------------------------------
    def output_values(self):
        return list(_leaves(self.outputs))

    def users(self):
        """{Value id: [Node, ...]} of every node reading each value."""
        users = {}
        for n in self.nodes:
            for v in n.input_values():
                users.setdefault(v.id, []).append(n)
        return users

    def replace_all_uses(self, old, new):
        """Make every reader of ``old`` (nodes and outputs) read ``new``."""
        for n in self.nodes:
            n.replace_input(old, new)
        self.outputs = _map_leaves(self.outputs, lambda v: new if v is old else v)

    def remove_unused_captured(self):
        used = {v.id for n in self.nodes for v in n.input_values()} | {v.id for v in self.output_values()}
        self.captured = [v for v in self.captured if v.id in used]

    def op_counts(self):
        counts = {}
        for n in self.nodes:
            counts[n.op] = counts.get(n.op, 0) + 1
        return counts

    # ---- printing ------------------------------------------------------------------------------------
    def format(self):
        lines = ["graph(" + ", ".join(f"{v!r}: {v.meta.short()}" for v in self.inputs) + "):"]
        for v in self.captured:
            if v.is_literal_number():
                continue
            what = "constant" if v.kind == "constant" else "captured"
            lines.append(f"    {v!r}: {v.meta.short()} = {what}")
        for n in self.nodes:
            lines.append("    " + n.format())
        lines.append(f"    return {_format_tree(self.outputs)}")
        return "\n".join(lines)

    def __str__(self):
        return self.format()

    def __repr__(self):
        return f"<Graph {len(self.inputs)} inputs, {len(self.nodes)} nodes>"


def _leaves(tree):
    if isinstance(tree, Value):
        yield tree
    elif isinstance(tree, (list, tuple)):
        for x in tree:
            yield from _leaves(x)
    elif isinstance(tree, dict):
        for x in tree.values():
            yield from _leaves(x)


def _map_leaves(tree, f):
    if isinstance(tree, Value):
        return f(tree)
    if isinstance(tree, _C.Size):  # a shape read in the trace: ints only, kept a Size
        return tree
    if isinstance(tree, list):
        return [_map_leaves(x, f) for x in tree]
    if isinstance(tree, tuple):
        return tuple(_map_leaves(x, f) for x in tree)
    if isinstance(tree, dict):
        return {k: _map_leaves(x, f) for k, x in tree.items()}
    return tree


def _format_tree(tree):
    if isinstance(tree, list):
        return "[" + ", ".join(_format_tree(x) for x in tree) + "]"
    if isinstance(tree, tuple):
        return "(" + ", ".join(_format_tree(x) for x in tree) + ("," if len(tree) == 1 else "") + ")"
    if isinstance(tree, dict):
        return "{" + ", ".join(f"{k!r}: {_format_tree(x)}" for k, x in tree.items()) + "}"
    return repr(tree)
