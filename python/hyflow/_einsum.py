"""hy.einsum and hy.meshgrid, written with existing ops (index, sum, permute, reshape, expand, bmm), so
autograd differentiates them with no backward code of their own.

einsum contracts left to right, as torch does: each operand first takes the diagonals of repeated
subscripts (an index gather) and sums the subscripts no later term needs; then each pair becomes one
batched matrix product, [batch, left-only, contracted] @ [batch, contracted, right-only].
"""
import string

from . import _C
from ._C import Tensor

__all__ = ["einsum", "meshgrid"]

_ops = _C.ops
_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # ASCII order: the implicit output's order


def _parse_term(term, offset, equation):
    """Subscripts of one term: letters, and "..." as the marker None. offset: the term's index in the
    equation, for error messages."""
    labels, i = [], 0
    while i < len(term):
        c = term[i]
        if c == ".":
            if term[i:i + 3] != "..." or None in labels:
                what = "a second ellipsis" if term[i:i + 3] == "..." else "'.' that is not part of an ellipsis '...'"
                raise ValueError(f"einsum(): {what} at index {offset + i} in the equation {equation!r}")
            labels.append(None)
            i += 3
            continue
        if c not in _LETTERS:
            raise ValueError(f"einsum(): invalid subscript {c!r} at index {offset + i} in the equation {equation!r}; "
                             "subscripts must be letters in [a-zA-Z]")
        labels.append(c)
        i += 1
    return labels


def _sublists_to_equation(args):
    """torch's sublist form einsum(a, [0, 1], b, [1, 2], [0, 2]): integers 0-51 name the subscripts."""
    def letters(sub):
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, int) and 0 <= s < 52:
                out.append(string.ascii_letters[s])
            else:
                raise ValueError(f"einsum(): sublist subscripts must be integers in [0, 52) or ..., got {s!r}")
        return "".join(out)
    output = letters(args[-1]) if len(args) % 2 else None  # (op, sublist)* [, output sublist]
    pairs = args[:-1] if len(args) % 2 else args
    operands, terms = list(pairs[0::2]), [letters(s) for s in pairs[1::2]]
    return ",".join(terms) + ("" if output is None else "->" + output), operands


def einsum(equation, *operands):
    """Einstein summation, like torch.einsum: einsum("bij,bjk->bik", a, b), implicit output ("ij,jk"),
    ellipsis ("...ij,...jk->...ik"), repeated subscripts (diagonals: "ii->i"), size-1 broadcasting, the
    operands as one list, and the sublist form einsum(a, [0, 1], b, [1, 2]). Spaces are ignored."""
    if not isinstance(equation, str):
        equation, operands = _sublists_to_equation((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): operand {i} must be a Tensor, got {type(t).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms, offset = [], 0
    for term in lhs.split(","):
        terms.append(_parse_term(term, offset, equation))
        offset += len(term) + 1
    if len(terms) != len(operands):
        raise ValueError(f"einsum(): the equation {equation!r} has {len(terms)} operand term(s) but "
                         f"{len(operands)} operand(s) were given")

    # Subscripts per dim: letters, and for ellipsis dims the ints 0..n_ell-1 (right-aligned across operands).
    n_ell = 0
    for i, (labels, t) in enumerate(zip(terms, operands)):
        named = sum(1 for l in labels if l is not None)
        if (None in labels and t.dim() < named) or (None not in labels and t.dim() != named):
            raise ValueError(f"einsum(): the number of subscripts in term {i} ({''.join(l or '...' for l in labels)!r}: "
                             f"{named}) does not match the {t.dim()} dims of operand {i}"
                             + ("" if None in labels else " and no ellipsis was given"))
        if None in labels:
            n_ell = max(n_ell, t.dim() - named)
    dims_of = []
    for labels, t in zip(terms, operands):
        out = []
        for l in labels:
            if l is None:
                k = t.dim() - (len(labels) - 1)
                out.extend(range(n_ell - k, n_ell))
            else:
                out.append(l)
        dims_of.append(out)

    sizes = {}
    for i, (labels, t) in enumerate(zip(dims_of, operands)):
        own = {}
        for l, n in zip(labels, t.shape):
            if own.setdefault(l, n) != n:
                raise ValueError(f"einsum(): subscript {l} is repeated for operand {i} but the sizes don't match, "
                                 f"{n} != {own[l]}")
        for l, n in zip(labels, t.shape):
            seen = sizes.get(l)
            if seen is not None and seen != n and 1 not in (seen, n):
                name = f"subscript {l}" if isinstance(l, str) else f"ellipsis dim {l - n_ell}"
                raise ValueError(f"einsum(): {name} has size {n} for operand {i} which does not broadcast with "
                                 f"previously seen size {seen}")
            sizes[l] = n if seen is None or seen == 1 else seen

    ellipsis_dims = list(range(n_ell))
    if arrow:
        out_terms = _parse_term(rhs, len(lhs) + 2, equation)
        output = []
        for l in out_terms:
            if l is None:
                output.extend(ellipsis_dims)
            elif l in output:
                raise ValueError(f"einsum(): output subscript {l} appears more than once in the output")
            elif l not in sizes:
                raise ValueError(f"einsum(): output subscript {l} does not appear in the equation for any input operand")
            else:
                output.append(l)
    else:
        counts = {}
        for labels in terms:
            for l in labels:
                if l is not None:
                    counts[l] = counts.get(l, 0) + 1
        output = ellipsis_dims + sorted((l for l, c in counts.items() if c == 1), key=_LETTERS.index)

    tensors = [_take_diagonals(t, list(labels)) for t, labels in zip(operands, dims_of)]
    result, labels = tensors[0]
    for j in range(1, len(tensors)):
        later = set(output).union(*(set(l) for _, l in tensors[j + 1:]))  # needed after this contraction
        result, labels = _sum_unneeded(result, labels, later | set(tensors[j][1]))
        other, other_labels = _sum_unneeded(*tensors[j], later | set(labels))
        result, labels = _contract(result, labels, other, other_labels, later, sizes)
    result, labels = _sum_unneeded(result, labels, set(output))
    result = result.permute([labels.index(l) for l in output]) if len(output) > 1 else result
    return result


def _take_diagonals(t, labels):
    """Operand t with each subscript repeated in its term replaced by the diagonal over those dims."""
    while len(set(labels)) < len(labels):
        first = next(l for l in labels if labels.count(l) > 1)
        p = labels.index(first)
        q = labels.index(first, p + 1)
        rest = [k for k in range(len(labels)) if k not in (p, q)]
        index = _ops.arange(0, t.shape[p], 1, dtype=_C.int64)
        t = _ops.index(t.permute([p, q] + rest), [index, index])
        labels = [first] + [labels[k] for k in rest]
    return t, labels


def _sum_unneeded(t, labels, needed):
    drop = [k for k, l in enumerate(labels) if l not in needed]
    if not drop:
        return t, labels
    return t.sum(drop), [l for l in labels if l in needed]


def _contract(a, la, b, lb, later, sizes):
    """a (subscripts la) times b (lb), summed over the shared subscripts no later term needs."""
    batch = [l for l in la if l in lb and l in later]
    summed = [l for l in la if l in lb and l not in later]
    a_only = [l for l in la if l not in lb]
    b_only = [l for l in lb if l not in la]
    shared = batch + summed

    def arrange(t, labels, order):
        t = t.permute([labels.index(l) for l in order]) if len(order) > 1 else t
        # A shared subscript of size 1 on one side broadcasts against the other side.
        shape = [sizes[l] if l in shared else t.shape[k] for k, l in enumerate(order)]
        return t.expand(shape) if list(t.shape) != shape else t

    def numel(labels, t, order):
        n = 1
        for l in labels:
            n *= t.shape[order.index(l)]
        return n

    a = arrange(a, la, batch + a_only + summed)
    b = arrange(b, lb, batch + summed + b_only)
    a_order, b_order = batch + a_only + summed, batch + summed + b_only
    nb, m = numel(batch, a, a_order), numel(a_only, a, a_order)
    k, n = numel(summed, a, a_order), numel(b_only, b, b_order)
    out = _ops.bmm(a.reshape(nb, m, k), b.reshape(nb, k, n))
    shape = ([a.shape[a_order.index(l)] for l in batch + a_only] + [b.shape[b_order.index(l)] for l in b_only])
    return out.reshape(shape), batch + a_only + b_only


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 0-D or 1-D tensors, like torch.meshgrid: with indexing="ij" (the default)
    output i varies along dim i; "xy" swaps the first two dims (Cartesian, as NumPy's default). The
    results are expanded views of the inputs."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise ValueError("meshgrid(): expects a non-empty list of tensors")
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid(): indexing must be 'ij' or 'xy', got {indexing!r}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"meshgrid(): tensor {i} must be a Tensor, got {type(t).__name__}")
        if t.dim() > 1:
            raise ValueError(f"meshgrid(): expects 0-D or 1-D tensors, but tensor {i} has shape {tuple(t.shape)}")
        if t.dtype != tensors[0].dtype:
            raise RuntimeError(f"meshgrid(): expects all tensors to have the same dtype, but tensor {i} is "
                               f"{t.dtype} and tensor 0 is {tensors[0].dtype}")
    where = list(range(len(tensors)))  # the output dim each input varies along
    if indexing == "xy" and len(tensors) >= 2:
        where[0], where[1] = 1, 0
    shape = [0] * len(tensors)
    for i, t in enumerate(tensors):
        shape[where[i]] = t.numel()
    grids = []
    for i, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[where[i]] = t.numel()
        grids.append(t.reshape(view).expand(shape))
    return tuple(grids)
