"""Guards of entries compiled with symbolic sizes (docs/compiler.md, "Symbolic sizes").

A static entry is keyed by the exact signature (guards.py). An entry with symbolic sizes is keyed by the
signature's *shape class*: the same structure, dtypes, devices, requires_grad, aliasing and other
arguments, but for each contiguous tensor its rank and, per dim, either a fixed size or a symbol:

    (64, 10), (64,)  ->  (s0, s1), (s0,)      # duck sizing: equal sizes share a symbol (torch does too)

Sizes 0 and 1 are never symbolic (broadcasting and empty loops depend on them), equal sizes share one
symbol (so "these two dims are equal", which broadcasting relies on, is guarded), and a non-contiguous
tensor keeps its exact sizes and strides. ``mask`` limits which dims may be symbolic (automatic dynamic:
only the dims that changed between two calls). The symbol values of the call are returned with the key;
an entry may further fix some symbols to values (``Symbolization.constraints``), checked by
:func:`constraints_hold`.
"""
from .ir import contiguous_strides

__all__ = ["shape_class", "changed_dims", "constraints_hold", "describe_class"]


def shape_class(key, mask=None):
    """(class key, symbol values, {tensor index: dims}) of a signature ``key`` (guards.call_key's). ``dims``
    per tensor: a tuple of ints and ("s", k) symbols, or None for a tensor kept static (non-contiguous).
    ``mask``: a set of (tensor index, dim) that may be symbolic; None: every dim."""
    structure, leaves, modes = key
    value_to_sym, values, dims_of, out = {}, [], {}, []
    for k in leaves:
        if k[0] != "T":
            out.append(k)
            continue
        _, dtype, device, shape, strides, rg, idx = k
        if idx not in dims_of:
            if tuple(strides) != contiguous_strides(shape):
                dims_of[idx] = None
            else:
                pattern = []
                for d, n in enumerate(shape):
                    if n in (0, 1) or (mask is not None and (idx, d) not in mask):
                        pattern.append(n)
                        continue
                    s = value_to_sym.get(n)
                    if s is None:
                        s = value_to_sym[n] = len(values)
                        values.append(n)
                    pattern.append(("s", s))
                dims_of[idx] = tuple(pattern)
        dims = dims_of[idx]
        out.append(k if dims is None else ("T", dtype, device, dims, "contiguous", rg, idx))
    return (structure, tuple(out), modes), values, dims_of


def changed_dims(old, new):
    """{(tensor index, dim)} whose sizes differ between two signatures that differ in nothing else (same
    structure, ranks, dtypes, contiguity ...); None when they differ otherwise."""
    (s0, k0, m0), (s1, k1, m1) = old, new
    if s0 != s1 or m0 != m1 or len(k0) != len(k1):
        return None
    changed = set()
    for a, b in zip(k0, k1):
        if a == b:
            continue
        if a[0] != "T" or b[0] != "T" or a[1:3] != b[1:3] or a[5:] != b[5:] or len(a[3]) != len(b[3]):
            return None
        if tuple(a[4]) != contiguous_strides(a[3]) or tuple(b[4]) != contiguous_strides(b[3]):
            return None
        changed |= {(a[6], d) for d, (x, y) in enumerate(zip(a[3], b[3])) if x != y}
    return changed or None


def constraints_hold(constraints, values, bounds=None):
    """Whether the call's symbol ``values`` meet an entry's fixed symbols ({symbol: value}) and lower
    bounds ({symbol: least size}, from stencil offsets)."""
    for s, v in constraints.items():
        if s >= len(values) or values[s] != v:
            return False
    for s, least in (bounds or {}).items():
        if s >= len(values) or values[s] < least:
            return False
    return True


def describe_class(dims_of):
    """Sentences for explain: each tensor's symbolic sizes."""
    lines = []
    for idx in sorted(dims_of):
        dims = dims_of[idx]
        if dims is None:
            lines.append(f"tensor {idx}: static (not contiguous)")
        else:
            text = ", ".join(f"s{d[1]}" if isinstance(d, tuple) else str(d) for d in dims)
            lines.append(f"tensor {idx}: sizes ({text})")
    return lines
