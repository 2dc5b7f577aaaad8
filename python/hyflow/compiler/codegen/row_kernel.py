"""Row-reduction kernels: a group of passes/fusion.py's ``partition_row_groups`` as one loop nest per row.

The group's iteration space is its *full shape* F = O + I, reduced over the trailing dims I (one row per
index of the outer dims O). Members are elementwise nodes of shape F (*full-level*: one value per element)
or of the row shape O + (1,)*len(I) (*row-level*: one value per row), and reductions (sum, mean, amax,
amin) over I. Per row the kernel runs

* one loop over the row per *phase*: a phase holds the reductions whose inputs depend only on row-level
  values already known (softmax: phase 1 max, phase 2 sum of exp(x - max); layer norm: mean, then the
  mean of the centred square). Each loop recomputes the full-level chain feeding its reductions from the
  inputs (an exp recomputed costs less than a trip through memory). The loop is an ``#pragma omp simd
  reduction(...)`` loop (compiled with ``-fopenmp-simd``: no OpenMP runtime), which lets GCC keep one
  partial result per vector lane without ``-ffast-math``; blocks of 4096 elements are reduced that way
  and added in order, bounding the error growth of long rows. The summation order differs from eager's
  Eigen redux (pairwise), so sums agree within the op tolerance, not bit for bit. max/min keep NaN: a
  NaN seen in the row makes the result NaN (eager's PropagateNaN);
* the row-level statements as soon as their inputs exist (``rsqrt(var + eps)`` once per row);
* a final loop computing and storing the materialized full-level values (softmax's ``e / s``), and the
  stores of row-level outputs. A value the last reduction loop computed with a transcendental function
  and the final loop needs again (softmax's ``exp(x - max)``) is kept in a scratch row on the stack
  (rows up to 128 KiB) instead of being recomputed.

Rows run in parallel (the launch's work items are rows, its grain 32K elements' worth of rows).
Accumulation is in the reduction's dtype (float32 sums accumulate in float32, as eager's do).

    extern "C" void hyk_1(int64_t begin, int64_t end, char** ptrs, const int64_t* meta)   // rows [begin, end)
"""
from ...ops import scalar_expr
from ..ir import Value
from .kernel_source import KernelSpec, group_operands, _broadcast_strides, _collapse, node_statement
from .lowering import C_TYPES, NotLowerable, dtype_name
from .sizes import KernelSizes, is_static

__all__ = ["RowReduction", "lower_reduction", "emit_row_kernel", "ROW_REDUCTIONS", "BLOCK"]

#: Reductions a row kernel computes, with how partial results combine.
ROW_REDUCTIONS = {"sum": "sum", "mean": "sum", "amax": "max", "amin": "min"}
#: Elements per block: a block is reduced in vector lanes, block results are added in order, which bounds
#: the error growth of long rows the way eager's cascade does.
BLOCK = 4096
#: Bytes of scratch rows a kernel may keep on the stack (no allocation, nothing that can throw inside the
#: kernel; L2-resident): rows up to 32K floats / 16K doubles.
_STASH_BYTES = 128 << 10
#: Functions worth a scratch row rather than a recomputation.
_TRANSCENDENTAL = {f for f, fn in scalar_expr.VOCABULARY.items() if fn.eigen}
#: Elements a launch work item should cover at least (the elementwise grain of core/parallel.h).
_GRAIN_ELEMENTS = 32768


class RowReduction:
    """One reduction a row kernel computes: ``node``, ``kind`` ("sum"/"max"/"min"), ``mean``, ``input``
    (the Value reduced), ``full`` (its shape), ``k`` (trailing dims reduced), ``keepdim``, ``result`` (the
    C++ type of the result and accumulator)."""

    __slots__ = ("node", "kind", "mean", "input", "full", "k", "keepdim", "result", "leading")

    def __init__(self, node, kind, mean, x, full, k, keepdim, result):
        self.node, self.kind, self.mean, self.input = node, kind, mean, x
        self.full, self.k, self.keepdim, self.result = full, k, keepdim, result
        self.leading = False   # over leading dims, not trailing ones (column_reduction_kernel.py)

    @property
    def whole(self):
        """A reduction over every dim (one row): run by full_reduction_kernel.py, not as rows."""
        return self.k == len(self.full)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def lower_reduction(node):
    """A :class:`RowReduction` for ``node``, or raise :class:`NotLowerable` naming why it runs eagerly."""
    if node.op not in ROW_REDUCTIONS or not node.is_pure():
        raise NotLowerable(f"{node.op} is not a row reduction (sum, mean, amax, amin)")
    x = node.arg("self")
    outs = node.output_values()
    if not isinstance(x, Value) or len(outs) != 1:
        raise NotLowerable(f"{node.op}: unexpected arguments")
    out = outs[0]
    dt = dtype_name(x.meta.dtype)
    if dt not in ("float32", "float64") or dtype_name(out.meta.dtype) != dt:
        raise NotLowerable(f"{node.op}: row kernels reduce float32/float64 into the same dtype, got {dt} -> "
                           f"{dtype_name(out.meta.dtype)}")
    for v in (x, out):
        if v.meta.device is not None and str(v.meta.device) != "cpu":
            raise NotLowerable(f"{node.op}: device {v.meta.device}")
    if node.grad_enabled and (out.meta.requires_grad or x.meta.requires_grad):
        raise NotLowerable(f"{node.op}: autograd records it (an input requires grad)")
    shape = tuple(x.meta.shape)
    nd = len(shape)
    dim = node.arg("dim")
    if nd == 0:
        raise NotLowerable(f"{node.op} of a 0-d tensor")
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        dims = list(range(nd))
    else:
        dims = sorted({d % nd for d in ([dim] if isinstance(dim, int) else dim)})
    k = len(dims)
    leading = k < nd and dims == list(range(k))
    if dims != list(range(nd - k, nd)) and not leading:
        raise NotLowerable(f"{node.op} over dims {dims} of a {nd}-d tensor: generated kernels reduce trailing "
                           "dims, leading dims or every dim")
    if leading:  # a column reduction: rows in order per block of columns
        if _numel(shape) < 1:
            raise NotLowerable(f"{node.op} of an empty tensor")
    elif k == nd:  # a full reduction (full_reduction_kernel.py): blocks across threads, not rows
        if _numel(shape) < 1:
            raise NotLowerable(f"{node.op} of an empty tensor")
    elif _numel(shape[nd - k:]) < 2 or _numel(shape[:nd - k]) < 1:
        raise NotLowerable(f"{node.op}: rows of fewer than 2 elements, or no rows")
    r = RowReduction(node, ROW_REDUCTIONS[node.op], node.op == "mean", x, shape, k,
                     bool(node.arg("keepdim")), C_TYPES[dt])
    r.leading = leading
    return r


def _init(kind, t):
    if kind == "sum":
        return f"{t}(0)"
    inf = f"std::numeric_limits<{t}>::infinity()"
    return f"-{inf}" if kind == "max" else inf


def emit_row_kernel(name, members, lowerings, reductions, outputs, full, k):
    """A :class:`KernelSpec` for a row group: ``members`` (graph order), ``lowerings`` {id(node):
    NodeLowering} for the elementwise ones, ``reductions`` {id(node): RowReduction}, materialized
    ``outputs`` (Values of shape F, the row shape, or O for a reduction without keepdim), full shape F and
    ``k`` reduced trailing dims. Raises NotLowerable when the layout does not fit one row stride."""
    full = tuple(full)
    nd = len(full)
    no = nd - k
    produced, level, upstream = {}, {}, {}
    for n in members:
        v = n.output_values()[0]
        produced[v.id] = lowerings.get(id(n)) or reductions[id(n)]
        level[v.id] = "full" if tuple(v.meta.shape) == full else "row"
    # Reads of each member: (Value, ...); a reduction reads its input.
    def reads(n):
        if id(n) in reductions:
            return [reductions[id(n)].input]
        return [v for _, v in lowerings[id(n)].tensor_args]

    inputs, literals = group_operands((v for n in members for v in reads(n)), produced)
    operands = inputs + list(outputs)
    def strides_of(v):
        if level.get(v.id) == "row" and len(v.meta.shape) == no:
            # A reduction without keepdim: its dims are the outer dims (they do not right-align with F).
            return list(v.meta.strides) + [0] * k
        return _broadcast_strides(v.meta, full)

    all_strides = [strides_of(v) for v in operands]
    outer_sizes, outer_strides = _collapse(full[:no], [s[:no] for s in all_strides])
    inner_sizes, inner_strides = _collapse(full[no:], [s[no:] for s in all_strides])
    if len(inner_sizes) != 1:
        raise NotLowerable("the reduced dims are not one regular stride in every operand")
    length = inner_sizes[0]
    rows = _numel(full[:no])
    rs = KernelSizes()     # sizes.py: symbolic sizes become meta slots, fixed ones literals
    L = rs.cpp(length)
    inner = [s[0] for s in inner_strides]

    # Phases: a reduction runs in the loop after the reductions its input depends on.
    phase_of = {}
    for n in members:
        v = n.output_values()[0]
        ups = set()
        for x in reads(n):
            if x.id in produced:
                ups |= upstream[x.id]
                if id(produced[x.id].node) in reductions:
                    ups.add(x.id)
        upstream[v.id] = ups
        base = max((phase_of[u] for u in ups), default=0)
        phase_of[v.id] = base + 1 if id(n) in reductions else base
    # A full-level value's phase is the one whose row-level values it needs: it is recomputed in any
    # later loop that needs it. A reduction's own phase number is the loop that computes it.
    n_phases = max((phase_of[n.output_values()[0].id] for n in members if id(n) in reductions), default=0)

    ctype = {}
    lines = [f'extern "C" __attribute__((visibility("default"))) void {name}(int64_t begin, int64_t end, '
             'char** ptrs, const int64_t* meta) {', "  (void)meta;"]
    for i, v in enumerate(operands):
        t = C_TYPES[dtype_name(v.meta.dtype)]
        ctype[v.id] = t
        const = "const " if i < len(inputs) else ""
        lines.append(f"  {const}{t}* __restrict p{i} = reinterpret_cast<{const}{t}*>(ptrs[{i}]);")
    lines.append("  for (int64_t row = begin; row < end; ++row) {")
    lines.append("    int64_t rest = row;")
    for i in range(len(operands)):
        lines.append(f"    int64_t o{i} = 0;")
    for d in reversed(range(len(outer_sizes))):
        upd = " ".join(f"o{i} += c * {rs.cpp(outer_strides[i][d])};" for i in range(len(operands))
                       if outer_strides[i][d] != 0)
        n = rs.cpp(outer_sizes[d])
        lines.append(f"    {{ const int64_t c = rest % {n}; rest /= {n}; {upd} }}")
    lines.append("    (void)rest;")

    row_names = {}
    input_index = {v.id: i for i, v in enumerate(inputs)}

    def read(i, j):
        s = inner[i]
        return f"p{i}[o{i}]" if s == 0 or j is None else (
            f"p{i}[o{i} + {j}]" if s == 1 else f"p{i}[o{i} + {j} * {rs.cpp(s)}]")

    stashed = {}  # value id -> C++ type of its scratch row (see below)

    def needed(values, stop=()):
        """Full-level members (graph order) needed to compute ``values`` at one index (not looking past
        the values in ``stop``)."""
        want, stack = set(), [v for v in values]
        while stack:
            v = stack.pop()
            if v.id not in produced or level[v.id] != "full" or v.id in want or v.id in stop:
                continue
            want.add(v.id)
            stack.extend(reads(produced[v.id].node))
        return [n for n in members if n.output_values()[0].id in want]

    def body(values, j, indent, stash=None):
        """Statements computing ``values`` at index ``j``; returns (lines, names). ``stash``: "store" writes
        the stashed values computed here to their scratch rows, "load" reads them instead of recomputing."""
        nodes = needed(values, stop=stashed if stash == "load" else ())
        names = dict(row_names)
        out, seen = [], set()
        if stash == "load":
            for vid, t in stashed.items():
                if any(x.id == vid for n in nodes for x in reads(n)) or any(v.id == vid for v in values):
                    out.append(f"const {t} v{vid} = s{vid}[{j}];")
                    names[vid] = f"v{vid}"
        for n in nodes:
            for x in reads(n):
                if x.id in input_index and x.id not in seen and x.id not in names:
                    seen.add(x.id)
                    i = input_index[x.id]
                    out.append(f"const {ctype[x.id]} a{i} = {read(i, j)};")
                    names[x.id] = f"a{i}"
        for v in values:  # a reduction of an external input reads it directly
            if v.id in input_index and v.id not in names:
                i = input_index[v.id]
                out.append(f"const {ctype[v.id]} a{i} = {read(i, j)};")
                names[v.id] = f"a{i}"
        for n in nodes:
            out.append(node_statement(lowerings[id(n)], names, produced, literals, ctype))
            vid = n.output_values()[0].id
            if stash == "store" and vid in stashed:
                out.append(f"s{vid}[{j}] = {names[vid]};")
        return [indent + x for x in out], names

    def row_statements(phase):
        out = []
        for n in members:
            v = n.output_values()[0]
            if id(n) in reductions or level[v.id] != "row" or phase_of[v.id] != phase:
                continue
            for x in reads(n):
                if x.id in input_index and x.id not in row_names:
                    i = input_index[x.id]
                    out.append(f"    const {ctype[x.id]} r{i} = {read(i, None)};")
                    row_names[x.id] = f"r{i}"
            out.append("    " + node_statement(lowerings[id(n)], row_names, produced, literals, ctype))
        return out

    # Stash: a value the last reduction loop computes with a transcendental (softmax's exp(x - max)) and
    # the final loop needs again is written to a scratch row (in cache) instead of being recomputed, as
    # eager's softmax keeps exp in its output. Cheap values are recomputed; long rows recompute too.
    # Only bool/int32/float/int64/double values occur; the element size decides the stack budget.
    full_outs = [(i, v) for i, v in enumerate(operands) if i >= len(inputs) and level[v.id] == "full"]
    last = [reductions[id(n)].input for n in members
            if id(n) in reductions and phase_of[n.output_values()[0].id] == n_phases]
    budget = _STASH_BYTES
    if full_outs and last and is_static(length):   # a scratch row needs a fixed length (on the stack)
        in_last = {n.output_values()[0].id for n in needed(last)}
        final_nodes = needed([v for _, v in full_outs])
        final_ids = {n.output_values()[0].id for n in final_nodes}
        for n in final_nodes:
            vid = n.output_values()[0].id
            if vid not in in_last:
                continue
            read_later = any(x.id == vid for m in final_nodes if m.output_values()[0].id not in in_last
                             for x in reads(m)) or any(v.id == vid for _, v in full_outs)
            costly = any(_TRANSCENDENTAL & set(lowerings[id(m)].expr.functions) for m in needed([n.output_values()[0]]))
            size = length * (8 if produced[vid].result in ("double", "int64_t") else 4)
            if read_later and costly and vid in final_ids and size <= budget:
                stashed[vid] = produced[vid].result
                budget -= size
    for vid, t in stashed.items():
        lines.insert(lines.index("  for (int64_t row = begin; row < end; ++row) {"),
                     f"  alignas(64) {t} s{vid}[{length}];  // scratch row (on the stack)")

    lines += row_statements(0)
    for phase in range(1, n_phases + 1):
        reds = [reductions[id(n)] for n in members
                if id(n) in reductions and phase_of[n.output_values()[0].id] == phase]
        lines.append(f"    // phase {phase}: {', '.join(r.node.op for r in reds)}")
        for r in reds:
            vid = r.node.output_values()[0].id
            lines.append(f"    {r.result} t{vid} = {_init(r.kind, r.result)};")
            if r.kind != "sum":
                lines.append(f"    int n{vid} = 0;  // a NaN was seen")
        lines.append(f"    for (int64_t jb = 0; jb < {L}; jb += {BLOCK}) {{")
        lines.append(f"      const int64_t jend = jb + {BLOCK} < {L} ? jb + {BLOCK} : {L};")
        clauses = []
        for r in reds:
            vid = r.node.output_values()[0].id
            lines.append(f"      {r.result} c{vid} = {_init(r.kind, r.result)};")
            clauses.append(f"reduction({'+' if r.kind == 'sum' else r.kind}:c{vid})")
            if r.kind != "sum":
                clauses.append(f"reduction(|:n{vid})")
        lines.append(f"      #pragma omp simd {' '.join(clauses)}")
        lines.append("      for (int64_t j = jb; j < jend; ++j) {")
        stmts, names = body([r.input for r in reds], "j", "        ", "store" if phase == n_phases else None)
        lines += stmts
        for r in reds:
            vid = r.node.output_values()[0].id
            v = names[r.input.id]
            if r.kind == "sum":
                lines.append(f"        c{vid} = c{vid} + {v};")
            else:
                cmp = ">" if r.kind == "max" else "<"
                lines.append(f"        c{vid} = {v} {cmp} c{vid} ? {v} : c{vid};")
                lines.append(f"        n{vid} |= ({v} != {v});")
        lines.append("      }")
        for r in reds:
            vid = r.node.output_values()[0].id
            if r.kind == "sum":
                lines.append(f"      t{vid} = t{vid} + c{vid};")
            else:
                cmp = ">" if r.kind == "max" else "<"
                lines.append(f"      t{vid} = c{vid} {cmp} t{vid} ? c{vid} : t{vid};")
        lines.append("    }")
        for r in reds:
            vid = r.node.output_values()[0].id
            value = f"t{vid} / {r.result}({L})" if r.mean else f"t{vid}"
            if r.kind != "sum":
                value = f"n{vid} ? std::numeric_limits<{r.result}>::quiet_NaN() : {value}"
            lines.append(f"    const {r.result} v{vid} = {value};  // {r.node.op}")
            row_names[vid] = f"v{vid}"
        lines += row_statements(phase)

    if full_outs:
        lines.append("    #pragma GCC ivdep")
        lines.append(f"    for (int64_t j = 0; j < {L}; ++j) {{")
        stmts, names = body([v for _, v in full_outs], "j", "      ", "load")
        lines += stmts
        for i, v in full_outs:
            s = inner[i]
            idx = f"o{i} + j" if s == 1 else f"o{i} + j * {rs.cpp(s)}"
            lines.append(f"      p{i}[{idx}] = static_cast<{ctype[v.id]}>({names[v.id]});")
        lines.append("    }")
    for i, v in enumerate(operands):
        if i >= len(inputs) and level[v.id] == "row":
            lines.append(f"    p{i}[o{i}] = static_cast<{ctype[v.id]}>({row_names[v.id]});")
    lines.append("  }")
    lines.append("}")
    operand_meta = [(v.meta.dtype, v.meta.shape, v.meta.strides) for v in operands]
    grain = rs.grain(_GRAIN_ELEMENTS, length)
    return KernelSpec(name, "\n".join(lines), inputs, list(outputs), full, rows, operand_meta, grain=grain,
                      sizes=rs)
