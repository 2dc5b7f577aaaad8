"""Symbolic sizes for dynamic axes: which integer arguments of a trace depend on a dynamic input size.

Record-and-execute sees Python ints: ``x.reshape(b * 4, -1)`` with ``b = x.shape[0]`` records ``8`` for a
batch of 2. With dynamic axes the exporter traces once more per symbol, that one dynamic size grown by one
(every input axis carrying the symbol), and compares the two traces node by node: an int argument that
changed is a function of that size. Each is fitted as ``v = c * s`` (exactly proportional, e.g. a batch
folded into a dim: b * heads) or else ``v = v0 + k * (s - s0)`` (an offset, e.g. s - 1); the sizes then
come from the ONNX graph at run time (Shape of the input). A second trace with another structure (Python
control flow on the size) leaves the arguments static, as without this."""
import hyflow as hy

from ..compiler import _pytree


def _grow(t, axis):
    """``t`` one longer along ``axis``, the new slice a copy of the first one (realistic values)."""
    if t.shape[axis] == 0:
        shape = list(t.shape)
        shape[axis] = 1
        return hy.zeros(shape, dtype=t.dtype)
    return hy.cat([t, hy.ops.slice(t, axis, 0, 1)], axis)


def _int_args(node):
    """{(arg name, element index or None): value} of a node's int and int-list arguments."""
    out = {}
    for name, a in zip(node.arg_names, node.args):
        if isinstance(a, bool):
            continue
        if isinstance(a, int):
            out[(name, None)] = a
        elif isinstance(a, (list, tuple)) and a and all(isinstance(x, int) and not isinstance(x, bool) for x in a):
            for i, x in enumerate(a):
                out[(name, i)] = x
    return out


def find(trace_fn, args, graph, input_names, dynamic):
    """{id(node): {(arg, index): expr}} for the arguments of ``graph`` (traced from ``args``) that follow a
    dynamic input size, and {symbol: (input name, axis, traced size)}. ``trace_fn(args)`` traces again."""
    leaves, structure = _pytree.flatten(args)
    tensor_leaves, seen = [], set()
    for x in leaves:
        if _pytree.is_tensor(x) and id(x) not in seen:
            seen.add(id(x))
            tensor_leaves.append(x)
    by_name = dict(zip(input_names, tensor_leaves))
    symbols = {}
    for name, axes in dynamic.items():
        if name in by_name:
            for axis, sym in axes.items():
                symbols.setdefault(sym, (name, axis, by_name[name].shape[axis]))
    exprs = {}
    base = [(n, _int_args(n)) for n in graph.nodes]
    for sym, (_, _, size) in symbols.items():
        grown = {}
        for name, axes in dynamic.items():
            if name in by_name:
                t = by_name[name]
                for axis, s in axes.items():
                    if s == sym:
                        t = _grow(t, axis)
                grown[id(by_name[name])] = t
        new_args = _pytree.unflatten(structure, [grown.get(id(x), x) if _pytree.is_tensor(x) else x for x in leaves])
        try:
            other = trace_fn(new_args)
        except Exception:  # noqa: BLE001 - the model refuses the other size: keep the sizes static
            continue
        if other is None or len(other.nodes) != len(graph.nodes) or any(
                a.op != b.op for a, b in zip(graph.nodes, other.nodes)):
            continue
        for (node, ints), onode in zip(base, other.nodes):
            oints = _int_args(onode)
            for key, v0 in ints.items():
                v1 = oints.get(key, v0)
                if v1 == v0:
                    continue
                e = exprs.setdefault(id(node), {}).setdefault(key, {"base": v0, "factors": [], "offsets": []})
                if size and v0 * (size + 1) == v1 * size:
                    e["factors"].append((sym, size))
                else:
                    e["offsets"].append((sym, v1 - v0, size))
    return exprs, symbols


def emit(cx, values, node_exprs, arg):
    """An int64 1-D tensor with ``values`` (the traced ints of argument ``arg``), each element that follows
    a dynamic size computed from the input's Shape at run time."""
    b = cx.b
    if not node_exprs or not any(k[0] == arg for k in node_exprs):
        return b.ints(values)
    parts = []
    for i, v in enumerate(values):
        e = node_exprs.get((arg, i))
        if e is None:
            parts.append(b.ints([v]))
            continue
        div = 1
        for _, s0 in e["factors"]:
            div *= s0
        t = b.ints([e["base"] // div if div else e["base"]])
        for sym, _ in e["factors"]:
            t = b.node("Mul", [t, cx.symbol(sym)])
        for sym, k, s0 in e["offsets"]:
            t = b.node("Add", [t, b.node("Mul", [b.node("Sub", [cx.symbol(sym), b.ints([s0])]), b.ints([k])])])
        parts.append(t)
    return b.node("Concat", parts, axis=0)
