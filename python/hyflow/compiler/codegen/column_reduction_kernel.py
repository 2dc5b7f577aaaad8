"""Leading-dim reductions: an elementwise chain and the reduction over its *leading* dims that consumes it
(``grad.sum(0)`` — a bias gradient —, ``x.mean(0)``, ``(a * b).amax((0, 1))``) as one pass over memory.

The iteration space is the reduction input's shape F = O + I, reduced over the leading dims O (R rows of
the kept dims I, C columns, I collapsed to one regular stride in every operand). Work items are blocks of
``COLUMNS`` columns; per block the kernel keeps one accumulator per column on the stack and walks the R
rows *in order*, the inner loop running over the block's columns (vectorized: consecutive columns are
consecutive addresses in a contiguous operand). Full-shape values the graph reads elsewhere are stored in
the same pass.

    extern "C" void hyk_c0(int64_t begin, int64_t end, char** ptrs, const int64_t* meta)   // column blocks

**Determinism:** each column's rows are added in row order by one thread, whatever the thread count, so
the result is the same bit for bit at any ``hy.set_num_threads``; the order differs from eager's, so sums
agree within the op tolerance, not bit for bit. max/min propagate NaN.

Symbolic sizes (``dynamic=True``): the row and column counts, the outer sizes and the strides are ``meta``
slots (sizes.py); the column-block count ``ceil(C / COLUMNS)`` is a :class:`~.sizes.Blocks` slot (the
launch's work items) and the grain a :class:`~.sizes.Grain` of the row count. The order of the additions
is the same as with fixed sizes.
"""
from ..ir import contiguous_strides
from .kernel_source import KernelSpec, group_operands, _broadcast_strides, _collapse, _index, node_statement
from .lowering import C_TYPES, NotLowerable, dtype_name
from .sizes import Blocks, KernelSizes, is_static

__all__ = ["emit_column_reduction_kernel", "COLUMNS"]

#: Columns per work item: the accumulators (1 KiB of floats) stay in L1 beside the rows' lines.
COLUMNS = 256
_GRAIN_ELEMENTS = 32768


def _init(kind, t):
    if kind == "sum":
        return f"{t}(0)"
    inf = f"std::numeric_limits<{t}>::infinity()"
    return f"-{inf}" if kind == "max" else inf


def emit_column_reduction_kernel(name, members, lowerings, red, outputs, shape):
    """A :class:`KernelSpec` for elementwise ``members`` (graph order) ending in ``red``, a reduction over
    the leading ``red.k`` dims of ``shape`` (its input's), materializing ``outputs``. Raises NotLowerable
    when the kept dims are not one regular stride in every operand or the result is not contiguous."""
    shape = tuple(shape)
    k = red.k
    elementwise = [lowerings[id(n)] for n in members if n is not red.node]
    produced = {low.node.output_values()[0].id: low for low in elementwise}
    result = red.node.output_values()[0]
    if not any(v is result for v in outputs):
        raise NotLowerable("the reduction's result is not read")
    if tuple(result.meta.strides) != contiguous_strides(result.meta.shape):
        raise NotLowerable("the reduction's result is not contiguous")
    full_outputs = [v for v in outputs if v is not result]
    if any(tuple(v.meta.shape) != shape for v in full_outputs):
        raise NotLowerable("an output read outside the group is smaller than the iteration space")
    inputs, literals = group_operands((v for low in elementwise for _, v in low.tensor_args), produced)
    x = red.input
    if x.id not in produced and not any(x is v for v in inputs):
        if x.is_literal_number():
            raise NotLowerable("a reduction of a literal number")
        inputs.append(x)
    layout = inputs + full_outputs
    all_strides = [_broadcast_strides(v.meta, shape) for v in layout]
    outer_sizes, outer_strides = _collapse(shape[:k], [s[:k] for s in all_strides])
    inner_sizes, inner_strides = _collapse(shape[k:], [s[k:] for s in all_strides])
    if len(inner_sizes) > 1:
        raise NotLowerable("the kept dims are not one regular stride in every operand")
    columns = inner_sizes[0] if inner_sizes else 1
    inner = [s[0] if inner_sizes else 0 for s in inner_strides]
    rows = 1
    for n in shape[:k]:
        rows *= n
    blocks = (columns + COLUMNS - 1) // COLUMNS if is_static(columns) else Blocks(columns, COLUMNS)
    acc_t = red.result
    # Fixed sizes print as literals, symbolic ones as meta slots (sizes.py).
    rs = KernelSizes()
    cols_c, rows_c = rs.cpp(columns), rs.cpp(rows)
    operands = layout + [result]
    ctype = {v.id: C_TYPES[dtype_name(v.meta.dtype)] for v in operands}

    lines = [f'extern "C" __attribute__((visibility("default"))) void {name}(int64_t begin, int64_t end, '
             'char** ptrs, const int64_t* meta) {', "  (void)meta;"]
    for i, v in enumerate(operands):
        const = "const " if i < len(inputs) else ""
        lines.append(f"  {const}{ctype[v.id]}* __restrict p{i} = reinterpret_cast<{const}{ctype[v.id]}*>(ptrs[{i}]);")
    out_i = len(operands) - 1

    names, body = {}, []
    for i, v in enumerate(inputs):
        names[v.id] = f"a{i}"
        body.append(f"const {ctype[v.id]} a{i} = p{i}[{_index(f'o{i}', inner[i], rs)}];")
    for low in elementwise:
        body.append(node_statement(low, names, produced, literals, ctype))
    for j, v in enumerate(full_outputs):
        i = len(inputs) + j
        body.append(f"p{i}[{_index(f'o{i}', inner[i], rs)}] = static_cast<{ctype[v.id]}>({names[v.id]});")
    src_type = produced[x.id].result if x.id in produced else ctype[x.id]
    value = names[x.id] if src_type == acc_t else f"static_cast<{acc_t}>({names[x.id]})"
    body.append(f"const {acc_t} r = {value};")
    if red.kind == "sum":
        body.append("acc[j] = acc[j] + r;")
    else:
        cmp = ">" if red.kind == "max" else "<"
        body.append(f"acc[j] = r {cmp} acc[j] ? r : acc[j];")
        body.append("nan[j] |= (r != r);")

    lines.append("  for (int64_t blk = begin; blk < end; ++blk) {")
    lines.append(f"    const int64_t c0 = blk * {COLUMNS};")
    lines.append(f"    const int64_t n = c0 + {COLUMNS} < {cols_c} ? {COLUMNS} : {cols_c} - c0;")
    lines.append(f"    alignas(64) {acc_t} acc[{COLUMNS}];")
    if red.kind != "sum":
        lines.append(f"    int nan[{COLUMNS}];  // a NaN was seen in the column")
        lines.append("    for (int64_t j = 0; j < n; ++j) nan[j] = 0;")
    lines.append(f"    for (int64_t j = 0; j < n; ++j) acc[j] = {_init(red.kind, acc_t)};")
    lines.append(f"    for (int64_t row = 0; row < {rows_c}; ++row) {{")
    lines.append("      int64_t rest = row;")
    for i in range(len(layout)):
        lines.append(f"      int64_t o{i} = c0 * {rs.cpp(inner[i])};")
    for d in reversed(range(len(outer_sizes))):
        upd = " ".join(f"o{i} += c * {rs.cpp(outer_strides[i][d])};" for i in range(len(layout))
                       if not (is_static(outer_strides[i][d]) and outer_strides[i][d] == 0))
        size = rs.cpp(outer_sizes[d])
        lines.append(f"      {{ const int64_t c = rest % {size}; rest /= {size}; {upd} }}")
    lines.append("      (void)rest;")
    lines.append("      #pragma GCC ivdep")
    lines.append("      for (int64_t j = 0; j < n; ++j) {")
    lines += ["        " + b for b in body]
    lines.append("      }")
    lines.append("    }")
    fin = f"acc[j] / {acc_t}({rows_c})" if red.mean else "acc[j]"
    if red.kind != "sum":
        fin = f"nan[j] ? std::numeric_limits<{acc_t}>::quiet_NaN() : {fin}"
    lines.append(f"    for (int64_t j = 0; j < n; ++j) p{out_i}[c0 + j] = static_cast<{ctype[result.id]}>({fin});")
    lines.append("  }")
    lines.append("}")
    operand_meta = [(v.meta.dtype, v.meta.shape, v.meta.strides) for v in operands]
    grain = rs.grain(_GRAIN_ELEMENTS, rows * COLUMNS)
    return KernelSpec(name, "\n".join(lines), inputs, full_outputs + [result], shape, blocks, operand_meta,
                      grain=grain, sizes=rs)
