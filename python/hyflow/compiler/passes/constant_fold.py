"""Constant folding: a pure node whose tensor inputs are all constants is computed once, at compile time,
and becomes a constant of the graph.

Constants are Python numbers wrapped for an op call (``x * 2``), values folded before, and the results of
pure ops with no tensor input (``zeros``, ``arange``, ``full``): inputs that are the same on every call.
A result is not folded when its memory is written later or returned (the caller must get a fresh tensor on
each call, as eagerly), when it requires grad, or when it is large (over ``MAX_FOLD_ELEMENTS``: a folded
constant lives as long as the compiled function).
"""
from ... import _C
from ..ir import Value
from ._alias import is_written, output_storages, written_storages

__all__ = ["fold_constants", "MAX_FOLD_ELEMENTS"]

MAX_FOLD_ELEMENTS = 1 << 16


def _numel(meta):
    n = 1
    for d in meta.shape:
        n *= d
    return n


def fold_constants(graph):
    written, escaping = written_storages(graph), output_storages(graph)
    constant = {v.id for v in graph.captured if v.kind == "constant" or v.is_literal_number()}
    kept = []
    for n in graph.nodes:
        outs = n.output_values()
        foldable = (n.is_pure() and outs and all(v.id in constant for v in n.input_values())
                    and not any(is_written(v, written) or v.storage in escaping or v.meta.requires_grad
                                or _numel(v.meta) > MAX_FOLD_ELEMENTS for v in outs))
        if not foldable:
            kept.append(n)
            continue
        tensors = _evaluate(n)
        for old, t in zip(outs, tensors):
            new = graph.add_constant(t)
            constant.add(new.id)
            graph.replace_all_uses(old, new)
    graph.nodes = kept
    graph.remove_unused_captured()
    return graph


def _evaluate(node):
    args, kwargs = [], {}
    for spec, a in zip(node.entry["args"], node.args):
        x = a.tensor if isinstance(a, Value) else ([v.tensor for v in a] if isinstance(a, list) else a)
        if spec["kwarg_only"]:
            kwargs[spec["name"]] = x
        else:
            args.append(x)
    prev = _C._autograd.is_grad_enabled()
    _C._autograd.set_grad_enabled(False)
    try:
        res = getattr(_C.ops, node.op)(*args, **kwargs)
    finally:
        _C._autograd.set_grad_enabled(prev)
    if not isinstance(res, tuple):
        res = (res,)
    flat = []
    for r in res:
        flat.extend(r if isinstance(r, list) else [r])
    return flat
