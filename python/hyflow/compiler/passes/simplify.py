"""Algebraic simplification: rewrites that are exact in floating point, NaN, infinities and -0 included.

    x * 1 -> x      x / 1 -> x      x - 0 -> x      -(-x) -> x
    x + 0 -> x      only for integers, or when the 0 is -0.0 (in floating point -0.0 + 0.0 is +0.0)
    permute/transpose of a permute/transpose whose dims compose to the identity -> x

The last one is what a compiled backward is full of: a linear layer's weight gradient is traced as
``mm(...).t()`` and handed back through the forward's ``permute`` as ``permute(transpose(mm(...)))``; each
such pair is two replay steps (Python calls) that give back ``x``'s own layout.

Not done because they are not exact: ``x * 0 -> 0`` (NaN and inf times 0 are NaN), ``x - x -> 0``,
``x + 0.0 -> x`` for floats. A rewrite happens only when the result has the dtype and shape of ``x`` (``i32 *
1.0`` is float32; ``x * ones(3)`` may broadcast), its memory is not written later, and it is not returned
(the caller gets a new tensor, as eagerly, never its own argument back).
"""
import math

from ..ir import Value
from ._alias import is_written, written_storages

__all__ = ["simplify_algebra"]


def _scalar(v):
    """The number a 0-d constant value holds, else None."""
    if not isinstance(v, Value) or v.meta.shape != () or v.tensor is None:
        return None
    if v.kind != "constant" and not v.is_literal_number():
        return None
    return v.tensor.item()


def _is_integer(meta):
    return not (meta.dtype.is_floating_point)


def _candidate(n):
    """The value ``n``'s result equals, by the identities above, or None."""
    op = n.op
    if op in ("mul", "div", "add", "sub") and n.arg("out") is None:
        a, b = n.arg("self"), n.arg("other")
        cb, ca = _scalar(b), _scalar(a)
        if op == "mul":
            return a if cb == 1 else (b if ca == 1 else None)
        if op == "div":
            return a if cb == 1 and n.arg("rounding_mode") is None else None
        if n.arg("alpha") != 1:
            return None
        if op == "sub":
            return a if cb == 0 else None
        for x, c, cval in ((a, b, cb), (b, a, ca)):
            if cval == 0 and (_is_integer(x.meta) or (isinstance(cval, float) and math.copysign(1.0, cval) < 0)):
                return x
        return None
    if op in _PERMUTES:
        inner = n.arg("self").producer
        if inner is not None and inner.op in _PERMUTES:
            x = inner.arg("self")
            rank = len(x.meta.shape)
            outer_dims, inner_dims = _dims_of(n, rank), _dims_of(inner, rank)
            if outer_dims is not None and inner_dims is not None and \
                    [inner_dims[d] for d in outer_dims] == list(range(rank)):
                return x
        return None
    if op == "neg" and n.arg("out") is None:
        inner = n.arg("self").producer
        if inner is not None and inner.op == "neg" and inner.arg("out") is None:
            return inner.arg("self")
    return None


_PERMUTES = ("permute", "transpose")


def _dims_of(n, rank):
    """The source dim of each result dim of a permute/transpose node (dims normalized), or None."""
    try:
        if n.op == "permute":
            dims = [int(d) % rank for d in n.arg("dims")]
            return dims if sorted(dims) == list(range(rank)) else None
        d0, d1 = int(n.arg("dim0")) % rank, int(n.arg("dim1")) % rank
    except (TypeError, ValueError, ZeroDivisionError):   # symbolic or odd arguments: leave the node
        return None
    dims = list(range(rank))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return dims


def _returnable(x, out, returned):
    """A returned view chain may hand back ``x`` itself when ``x`` is a tensor this graph made and returns
    nowhere else: the caller still gets a new tensor, in the layout the chain had."""
    return x.kind == "node" and x.id not in returned and tuple(x.meta.strides) == tuple(out.meta.strides)


def _only_no_grad_readers(out, graph):
    """Every node reading ``out`` runs with grad mode off (a compiled backward's nodes, a no_grad region):
    whether the value it reads requires grad makes no difference to them."""
    return all(not u.grad_enabled for u in graph.users().get(out.id, []))   # now: earlier rewrites count


def simplify_algebra(graph):
    written = written_storages(graph)
    returned = {v.id for v in graph.output_values()}
    for n in graph.nodes:
        if len(n.output_values()) != 1:
            continue
        out = n.output_values()[0]
        x = _candidate(n)
        if x is None or is_written(out, written) or is_written(x, written):
            continue
        if out.id in returned and not (n.op in _PERMUTES and _returnable(x, out, returned)):
            continue
        if x.meta.dtype != out.meta.dtype or x.meta.shape != out.meta.shape:
            continue
        if out.meta.requires_grad != x.meta.requires_grad and not (
                n.op in _PERMUTES and out.id not in returned and _only_no_grad_readers(out, graph)):
            continue
        graph.replace_all_uses(out, x)
    return graph
