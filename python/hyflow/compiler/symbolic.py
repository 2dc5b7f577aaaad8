"""Symbolic sizes (docs/compiler.md, "Symbolic sizes"): sizes as products of symbols, and shape propagation
over the IR.

A trace with symbolic sizes names every dynamic input dim by a symbol ``s0, s1, ...`` (*duck sizing*, as
torch does: dims of equal size share a symbol, so equalities the compiled code may rely on, such as two
operands broadcasting, are part of the guard; dims of size 0 or 1 are never symbolic). :func:`symbolize`
then computes each Value's sizes and strides as :class:`Dim` expressions from the op table's
``shape_rule`` (same, broadcast, reduce, matmul, and the views whose rule only moves dims), checks every
result against what the trace saw, and *specializes* (fixes to the traced value, a guard on the value) each
symbol the compiled graph could not otherwise stand for:

* the sizes of a tensor Python read during the trace (``x.shape``, ``size()``, ``len()``: Python may compute
  with them, e.g. ``x.view(x.shape[0], -1)``, or branch on them);
* a symbol whose value occurs as an integer argument of a node (``zeros(64)``, ``reshape(x, [-1, 64])``:
  the number may stand for the size);
* the input dims of a node whose output shape is not derived here (``custom`` shape rules, slicing,
  whatever disagrees with the trace);
* a symbolic dim broadcast against a fixed size (a parameter's): they must be equal.

A stencil (``roll``, the periodic Laplacian) reading at offset o along a symbolic dim adds a *bound*
``s >= 2|o| + 1`` (the generated kernel wraps indices by one period and keeps the offset as traced); a
traced size below the bound specializes the symbol instead.

Everything else is symbolic: generated kernels read such sizes at run time, the replay allocates outputs
from them.
"""
from .ir import TensorMeta, contiguous_strides

__all__ = ["Dim", "SymMeta", "Symbolization", "symbolize", "evaluate", "describe_dims"]


class Dim:
    """``c * s_i * s_j * ...``: a size or stride that depends on symbols (a plain int when it does not).
    Equality is structural (``s0 == s0``, ``s0 != 64`` even when s0 was 64 in the trace); ordering compares
    the traced values (``hint``), which the guards keep on the same side (symbols are >= 2)."""

    __slots__ = ("c", "syms", "hint")

    def __init__(self, c, syms, hint):
        self.c, self.syms, self.hint = c, tuple(sorted(syms)), hint

    @staticmethod
    def symbol(k, hint):
        return Dim(1, (k,), hint)

    def __mul__(self, other):
        if isinstance(other, Dim):
            return _make(self.c * other.c, self.syms + other.syms, self.hint * other.hint)
        if isinstance(other, int) and not isinstance(other, bool):
            return _make(self.c * other, self.syms, self.hint * other)
        return NotImplemented

    __rmul__ = __mul__

    def __eq__(self, other):
        if isinstance(other, Dim):
            return self.c == other.c and self.syms == other.syms
        return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((self.c, self.syms))

    def __lt__(self, other):
        return self.hint < _hint(other)

    def __le__(self, other):
        return self.hint <= _hint(other)

    def __gt__(self, other):
        return self.hint > _hint(other)

    def __ge__(self, other):
        return self.hint >= _hint(other)

    def value(self, env):
        v = self.c
        for s in self.syms:
            v *= env[s]
        return v

    def divide(self, other):
        """self / other as a Dim or int when it divides exactly as a monomial, else None."""
        oc, osyms = (other.c, list(other.syms)) if isinstance(other, Dim) else (other, [])
        syms = list(self.syms)
        for s in osyms:
            if s not in syms:
                return None
            syms.remove(s)
        if oc == 0 or self.c % oc:
            return None
        return _make(self.c // oc, syms, self.hint // _hint(other))

    def __str__(self):
        parts = ([str(self.c)] if self.c != 1 else []) + [f"s{s}" for s in self.syms]
        return "*".join(parts)

    __repr__ = __str__


def _make(c, syms, hint):
    return c if not syms or c == 0 else Dim(c, syms, hint)


def _hint(x):
    return x.hint if isinstance(x, Dim) else x


def evaluate(x, env):
    """The value of a size (int or Dim) for the symbol values ``env``."""
    return x.value(env) if isinstance(x, Dim) else x


def symbols_of(dims):
    out = set()
    for d in dims:
        if isinstance(d, Dim):
            out.update(d.syms)
    return out


class SymMeta(TensorMeta):
    """A TensorMeta whose sizes and strides may be :class:`Dim` expressions; ``short()`` prints them
    (``float32[s0, 10]``)."""

    __slots__ = ()

    def short(self):
        dt = str(self.dtype).replace("hyflow.", "")
        contiguous = tuple(self.strides) == sym_contiguous_strides(self.shape)
        text = lambda t: "[" + ", ".join(str(x) for x in t) + "]"  # noqa: E731
        return f"{dt}{text(self.shape)}" + ("" if contiguous else f"/s{text(self.strides)}")

    def at(self, env):
        """A TensorMeta with this call's sizes."""
        return TensorMeta([evaluate(n, env) for n in self.shape], [evaluate(s, env) for s in self.strides],
                          self.dtype, self.device, self.requires_grad)

    def is_symbolic(self):
        return bool(symbols_of(self.shape) or symbols_of(self.strides))


def sym_contiguous_strides(shape):
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc = acc * (n if isinstance(n, Dim) else max(n, 1))
    return tuple(reversed(strides))


def describe_dims(pattern):
    """The sizes of a dynamic key's tensor as text: ``(s0, 10)``."""
    return "(" + ", ".join(f"s{d[1]}" if isinstance(d, tuple) else str(d) for d in pattern) + ")"


class Symbolization:
    """The outcome of :func:`symbolize`: ``metas`` ({Value id: SymMeta}), ``specialized`` ({symbol: (value,
    reason)}), ``values`` (traced value per symbol) and ``ok`` (False: the graph could not be made
    symbolic at all; ``reason`` says why, and every symbol is specialized)."""

    def __init__(self, values):
        self.values = list(values)
        self.metas = {}
        self.specialized = {}
        self.bounds = {}     # {symbol: smallest size the entry serves} (stencil offsets)
        self.ok, self.reason = True, None

    def specialize(self, syms, reason):
        for s in syms:
            self.specialized.setdefault(s, (self.values[s], reason))

    def bound(self, dim, least, reason):
        """Require ``dim >= least`` for every call of the entry (or specialize it when it cannot be)."""
        if not isinstance(dim, Dim):
            return
        if dim.c != 1 or len(dim.syms) != 1 or dim.hint < least:
            self.specialize(dim.syms, reason)
            return
        s = dim.syms[0]
        self.bounds[s] = max(self.bounds.get(s, 2), least)

    def dynamic_symbols(self):
        return [s for s in range(len(self.values)) if s not in self.specialized]

    def constraints(self):
        """{symbol: value} the entry's guard checks."""
        return {s: v for s, (v, _) in self.specialized.items()}

    def lower_bounds(self):
        """{symbol: least size} the entry's guard checks (specialized symbols excluded)."""
        return {s: b for s, b in self.bounds.items() if s not in self.specialized}


# Argument names that hold dim indices, not sizes: never read as a size.
_DIM_ARGS = frozenset({"dim", "dims", "dim0", "dim1", "start_dim", "end_dim", "keepdim", "grid_dims"})


def _int_args(node):
    out = []

    def walk(a):
        if isinstance(a, bool):
            return
        if isinstance(a, int):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            for x in a:
                walk(x)
    for name, a in zip(node.arg_names, node.args):
        if name not in _DIM_ARGS:
            walk(a)
    return out


def _tensor_inputs(node):
    return [v for v in node.input_values()]


def _broadcast_dims(shapes, sym):
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        for k, n in enumerate(s):
            d = nd - len(s) + k
            if n == 1:
                continue
            if out[d] == 1:
                out[d] = n
            elif out[d] != n:
                # A symbol against a fixed size (or another symbol: impossible by duck sizing): both were
                # equal in the trace, and the compiled code relies on it.
                sym.specialize(symbols_of([out[d], n]), "broadcast against a fixed size")
                out[d] = out[d] if not isinstance(out[d], Dim) else n
    return out


def _reduce_shape(node, shape):
    names = node.arg_names
    if node.op in ("max", "min"):
        return []
    dim = node.arg("dim") if "dim" in names else None
    keepdim = bool(node.arg("keepdim")) if "keepdim" in names else False
    nd = len(shape)
    if dim is None or (isinstance(dim, (list, tuple)) and not dim):
        dims = set(range(nd))
    else:
        dims = {d % max(nd, 1) for d in ([dim] if isinstance(dim, int) else dim)}
    return [1 if d in dims else n for d, n in enumerate(shape) if keepdim or d not in dims]


def _matmul_shape(node, ins):
    op = node.op
    if op == "addmm":
        a, b = ins[1], ins[2]
        return [a[0], b[1]] if len(a) == 2 and len(b) == 2 else None
    a, b = ins[0], ins[1]
    if op == "mv" and len(a) == 2:
        return [a[0]]
    if op in ("mm", "matmul") and len(a) == 2 and len(b) == 2:
        return [a[0], b[1]]
    if op in ("bmm", "matmul") and len(a) >= 2 and len(b) == 2:
        return list(a[:-1]) + [b[1]]
    if op == "bmm" and len(a) == 3 and len(b) == 3:
        return [a[0], a[1], b[2]]
    return None


def _view_meta(node, shape, strides, sym):
    """(shape, strides) of a view op's result, or None when this op is not derived here."""
    op, nd = node.op, len(shape)
    if op == "transpose":
        d0, d1 = node.arg("dim0") % nd, node.arg("dim1") % nd
        p = list(range(nd))
        p[d0], p[d1] = p[d1], p[d0]
        return [shape[i] for i in p], [strides[i] for i in p]
    if op == "permute":
        p = [d % nd for d in node.arg("dims")]
        return [shape[i] for i in p], [strides[i] for i in p]
    if op in ("view", "reshape"):
        target = list(node.arg("shape"))
        if target.count(-1) > 1:
            return None
        numel = 1
        for n in shape:
            numel = numel * n
        known = 1
        for n in target:
            if n != -1:
                known *= n
        if -1 in target:
            if isinstance(numel, Dim):
                rest = numel.divide(known)
            else:
                rest = numel // known if known and numel % known == 0 else None
            if rest is None:
                return None
            target[target.index(-1)] = rest
        return target, None      # strides: contiguous when the trace's are (checked by the caller)
    if op == "flatten":
        if nd == 0:
            return None
        s, e = node.arg("start_dim") % nd, node.arg("end_dim") % nd
        merged = 1
        for n in shape[s:e + 1]:
            merged = merged * n
        return list(shape[:s]) + [merged] + list(shape[e + 1:]), None
    if op == "unsqueeze":
        d = node.arg("dim") % (nd + 1)
        return list(shape[:d]) + [1] + list(shape[d:]), None
    if op in ("expand", "broadcast_to"):
        target = list(node.arg("shape"))
        lead = len(target) - nd
        if lead < 0:
            return None
        out_shape, out_strides = [], []
        for k, n in enumerate(target):
            if k < lead:
                out_shape.append(n)
                out_strides.append(0)
                continue
            d = k - lead
            size = shape[d] if (isinstance(n, int) and n == -1) else n
            out_shape.append(size)
            out_strides.append(strides[d] if size == shape[d] else 0)
        return out_shape, out_strides
    return None


def _stencil_shape(node, sym, metas, fixed):
    """A stencil's output has its input's shape; each offset it reads at bounds the dim's size."""
    spec = node.entry_stencil()
    x = node.arg(spec["input"])
    shape = [_subst(d, fixed) for d in metas[x.id].shape]
    nd = len(shape)
    if nd == 0:
        return None
    if spec["kind"] == "shift":
        shifts, dims = node.arg("shifts"), node.arg("dims")
        if not dims or len(shifts) != len(dims):
            return None
        raw = [0] * nd
        for sh, d in zip(shifts, dims):
            raw[d % nd] -= sh
        reach = {d: abs(o) for d, o in enumerate(raw) if o}
    elif spec["kind"] == "second_difference":
        g = node.arg("grid_dims")
        g = nd if g == -1 else g
        reach = {d: 1 for d in range(max(0, nd - g), nd)}
    else:
        return None
    for d, r in reach.items():
        sym.bound(shape[d], 2 * r + 1, f"{node.op} reads {r} away along a dim of fewer than {2 * r + 1}")
    return [shape]


def _node_shapes(node, sym, metas):
    """Output shapes (one list per output Value, strides left to the caller) or None: not derived here."""
    rule = node.entry.get("shape_rule")
    fixed = sym.constraints()
    ins = [[_subst(d, fixed) for d in metas[v.id].shape] for v in _tensor_inputs(node)]
    outs = node.output_values()
    if not ins:
        return None
    if node.lowering == "stencil":
        return _stencil_shape(node, sym, metas, fixed)
    if rule == "same":
        return [ins[0]] * len(outs)
    if rule == "broadcast":
        return [_broadcast_dims(ins, sym)] * len(outs)
    if rule == "reduce":
        return [_reduce_shape(node, ins[0])] * len(outs)
    if rule == "matmul":
        r = _matmul_shape(node, ins)
        return None if r is None else [r]
    if rule == "view" and len(outs) == 1:
        x = metas[node.input_values()[0].id]
        r = _view_meta(node, ins[0], [_subst(d, fixed) for d in x.strides], sym)
        if r is None:
            return None
        return [(r[0], r[1])]
    return None


#: View ops whose ``shape`` argument, in a backward graph, is a forward tensor's shape (autograd formulas
#: write ``grad.expand(self.shape)``, never a literal): there such an argument becomes symbolic.
_SHAPE_ARG_OPS = frozenset({"expand", "broadcast_to", "view", "reshape"})


def _derive_shape_args(node, shape_pool):
    """In a backward graph: replace ``node``'s ``shape`` argument by the symbolic shape of the one forward
    value whose traced shape it equals (the replay evaluates it per call); False when none or several."""
    if node.op not in _SHAPE_ARG_OPS or shape_pool is None:
        return False
    k = node.arg_names.index("shape")
    target = tuple(node.args[k])
    candidates = shape_pool.get(target, set())
    if len(candidates) != 1:
        return False
    (sym_shape,) = candidates
    if not symbols_of(sym_shape):
        return False
    node.args[k] = list(sym_shape)
    return True


def symbolize(graph, values, input_dims, size_reads=(), input_metas=None, fixed=None, shape_pool=None):
    """Symbolic metas for every Value of ``graph`` (traced with concrete sizes).

    ``values``: the traced value of each symbol; ``input_dims``: per graph input its dims (an int, or a
    symbol index) — None for an input kept fully static (a non-contiguous one); ``size_reads``: ids of
    the graph Values whose sizes Python read during the trace. ``input_metas`` (SymMetas, one per input)
    replace ``input_dims`` for a graph fed by another one's values (the compiled backward); ``fixed``
    ({symbol: (value, reason)}) are symbols already specialized. ``shape_pool`` ({traced shape: {symbolic
    shapes}}, the forward graph's) makes the shape arguments of a backward graph's views symbolic (they
    are rewritten in the nodes). Returns a :class:`Symbolization`; the graph's metas are not modified
    (see :func:`apply`)."""
    sym = Symbolization(values)
    sym.specialized.update(fixed or {})
    metas = sym.metas
    for k, (v, dims) in enumerate(zip(graph.inputs, input_dims)):
        if input_metas is not None:
            metas[v.id] = input_metas[k]
            continue
        if dims is None:
            metas[v.id] = _static(v.meta)
            continue
        shape = [Dim.symbol(d[1], values[d[1]]) if isinstance(d, tuple) else d for d in dims]
        metas[v.id] = SymMeta(shape, sym_contiguous_strides(shape), v.meta.dtype, v.meta.device,
                              v.meta.requires_grad)
    for v in graph.captured:
        metas[v.id] = _static(v.meta)
    value_to_sym = {}
    for k, x in enumerate(values):
        value_to_sym.setdefault(x, k)
    for n in graph.nodes:
        _derive_shape_args(n, shape_pool)
        hits = {value_to_sym[a] for a in _int_args(n) if a in value_to_sym}
        if hits:
            sym.specialize(hits, f"an argument of {n.op} equals the size")
        shapes = None
        try:
            shapes = _node_shapes(n, sym, metas)
        except (TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError):
            shapes = None
        outs = n.output_values()
        done = shapes is not None and len(shapes) == len(outs)
        if done:
            for v, s in zip(outs, shapes):
                shape, strides = (s if isinstance(s, tuple) else (s, None))
                if strides is None:
                    if tuple(v.meta.strides) != contiguous_strides(v.meta.shape):
                        ins = [metas[u.id] for u in n.input_values()]
                        like = next((m for m in ins if list(m.shape) == list(shape)), None)
                        strides = like.strides if like is not None else None
                    else:
                        strides = sym_contiguous_strides(shape)
                if strides is None or not _matches(shape, strides, v.meta, values):
                    done = False
                    break
                metas[v.id] = SymMeta(shape, strides, v.meta.dtype, v.meta.device, v.meta.requires_grad)
        if not done:
            ins = set()
            for u in n.input_values():
                ins |= symbols_of(metas[u.id].shape) | symbols_of(metas[u.id].strides)
            sym.specialize(ins, f"{n.op}'s output sizes are not derived symbolically")
            for v in outs:
                metas[v.id] = _static(v.meta)
    if shape_pool is not None:
        _size_literals(graph, sym, shape_pool)
    for vid in size_reads:
        m = metas.get(vid)
        if m is not None:
            sym.specialize(symbols_of(m.shape) | symbols_of(m.strides), "its sizes were read in Python")
    # Substitute the specialized symbols (their dims become plain numbers).
    fixed = sym.constraints()
    if fixed:
        for vid, m in list(metas.items()):
            metas[vid] = SymMeta([_subst(n, fixed) for n in m.shape], [_subst(s, fixed) for s in m.strides],
                                 m.dtype, m.device, m.requires_grad)
    return sym


def _size_literals(graph, sym, pool):
    """Backward graphs: autograd formulas may compute with sizes as plain numbers (mean's gradient divides
    by the element count, var's by count - correction), which the trace records as literals. A literal
    equal to a product of a value's symbolic dims (or one less) may be such a number, so its symbols are
    specialized (a genuine constant that happens to be equal only costs a recompile)."""
    candidates = {}
    for shapes in pool.values():
        for shape in shapes:
            dims = [d for d in shape if isinstance(d, Dim)]
            for mask in range(1, 1 << min(len(dims), 6)):
                m = 1
                for k, d in enumerate(dims):
                    if mask >> k & 1:
                        m = m * d
                for value in (m.hint, m.hint - 1):
                    candidates.setdefault(value, set()).update(m.syms)
    for v in graph.captured:
        if v.is_literal_number():
            x = v.tensor.item()
            if isinstance(x, (int, float)) and float(x).is_integer() and int(x) in candidates:
                sym.specialize(candidates[int(x)], "a number in the backward formulas equals a size")


def shape_pool(sym):
    """{traced shape: {symbolic shapes}} of a Symbolization's values (for a backward graph's views)."""
    pool = {}
    for m in sym.metas.values():
        pool.setdefault(tuple(evaluate(n, sym.values) for n in m.shape), set()).add(tuple(m.shape))
    return pool


def restrict(sym, specialized):
    """Specialize further symbols of ``sym`` ({symbol: (value, reason)}) and substitute them in its metas."""
    for s, item in specialized.items():
        sym.specialized.setdefault(s, item)
    fixed = sym.constraints()
    for vid, m in list(sym.metas.items()):
        sym.metas[vid] = SymMeta([_subst(n, fixed) for n in m.shape], [_subst(x, fixed) for x in m.strides],
                                 m.dtype, m.device, m.requires_grad)


def _subst(x, fixed):
    if not isinstance(x, Dim) or not any(s in fixed for s in x.syms):
        return x
    c, rest = x.c, []
    for s in x.syms:
        if s in fixed:
            c *= fixed[s]
        else:
            rest.append(s)
    return _make(c, rest, x.hint)


def _matches(shape, strides, meta, values):
    return ([evaluate(n, values) for n in shape] == list(meta.shape)
            and [evaluate(s, values) for s in strides] == list(meta.strides))


def _static(meta):
    return SymMeta(meta.shape, meta.strides, meta.dtype, meta.device, meta.requires_grad)


def apply(graph, sym):
    """Give every Value of ``graph`` its symbolic meta (the graph then describes every call of its entry)."""
    seen = set()
    for v in list(graph.inputs) + list(graph.captured) + [v for n in graph.nodes for v in n.output_values()]:
        if v.id in sym.metas and v.id not in seen:
            seen.add(v.id)
            v.meta = sym.metas[v.id]
