"""Full-reduction kernels: an elementwise chain and the reduction over *every* dim that consumes it
(``loss.mean()``, ``((a - b) ** 2).mean()``, ``x.sum()``) as one pass over memory, split across threads.

The iteration space (the reduction input's shape, N elements) is cut into fixed blocks of ``BLOCK``
elements. Two functions share the operand list (inputs, materialized outputs, then a partials buffer of
one entry per block):

    extern "C" void hyk_f0(int64_t begin, int64_t end, char** ptrs, const int64_t* meta)        // blocks
    extern "C" void hyk_f0_final(int64_t begin, int64_t end, char** ptrs, const int64_t* meta)  // combine

The block function runs blocks [begin, end) (the launch's work items; threads take contiguous ranges of
blocks): per block it computes the chain, stores the full-shape values read outside the group, and
reduces the block in an ``#pragma omp simd reduction`` loop (one partial per vector lane, no
``-ffast-math``), writing one partial. The final function combines the partials *pairwise in a fixed
tree* (the error grows with log(blocks), like eager's pairwise redux) and writes the result (divided by N
for mean). **Determinism:** the blocks and the tree depend only on N, never on the thread count, so the
result is the same bit for bit at any ``hy.set_num_threads`` (eager's is deterministic at a given thread
count); it differs from eager's summation order, so sums agree within the op tolerance, not bit for bit.

Symbolic sizes (``dynamic=True``): N, the layout's sizes and strides and the block count ``ceil(N / BLOCK)``
are run-time values (``meta`` slots, sizes.py; the block count is a :class:`~.sizes.Blocks` slot, which the
launcher also uses for the work items and the partials buffer). BLOCK stays a constant, so for a given N
the blocks and the combine tree are those of a fixed-size kernel: bit-identical at any thread count.
max/min propagate NaN (a NaN anywhere gives NaN, as eager's PropagateNaN).

Layouts are those of the elementwise kernels (kernel_source.py): contiguous operands give one flat loop
per block; broadcast, transposed and sliced operands run the innermost dim as the vector loop.
"""
from .kernel_source import KernelSpec, group_operands, _broadcast_strides, _collapse, _index, node_statement
from .lowering import C_TYPES, NotLowerable, dtype_name
from .sizes import Blocks, KernelSizes, is_static

__all__ = ["emit_full_reduction_kernel", "BLOCK"]

#: Elements per block: small enough that two threads get many blocks of a 1M-element reduction, large
#: enough that a block's reduction loop dominates its bookkeeping. Fixed: the result must not depend on
#: the thread count.
BLOCK = 4096
#: Elements a launch work item should cover at least (the elementwise grain of core/parallel.h).
_GRAIN_ELEMENTS = 32768


def _init(kind, t):
    if kind == "sum":
        return f"{t}(0)"
    inf = f"std::numeric_limits<{t}>::infinity()"
    return f"-{inf}" if kind == "max" else inf


def _combine(kind, acc, v):
    """C++ statement folding ``v`` into ``acc``."""
    if kind == "sum":
        return f"{acc} = {acc} + {v};"
    cmp = ">" if kind == "max" else "<"
    return f"{acc} = {v} {cmp} {acc} ? {v} : {acc};"


def emit_full_reduction_kernel(name, members, lowerings, red, outputs, shape):
    """A :class:`KernelSpec` (with ``final_name``, ``blocks``, ``partial_dtype``) for a group of elementwise
    ``members`` (graph order, :class:`NodeLowering` in ``lowerings``) ending in the full reduction ``red``
    (a RowReduction over every dim), materializing ``outputs`` (the reduction's result and full-shape
    values read outside the group) over the iteration space ``shape`` (the reduction input's)."""
    shape = tuple(shape)
    elementwise = [lowerings[id(n)] for n in members if n is not red.node]
    produced = {low.node.output_values()[0].id: low for low in elementwise}
    result = red.node.output_values()[0]
    if not any(v is result for v in outputs):
        raise NotLowerable("the reduction's result is not read")
    full_outputs = [v for v in outputs if v is not result]
    if any(tuple(v.meta.shape) != shape for v in full_outputs):
        raise NotLowerable("an output read outside the group is smaller than the iteration space")
    inputs, literals = group_operands((v for low in elementwise for _, v in low.tensor_args), produced)
    x = red.input
    if x.id not in produced and not any(x is v for v in inputs):
        if x.is_literal_number():
            raise NotLowerable("a reduction of a literal number")
        inputs.append(x)
    numel = 1
    for n in shape:
        numel *= n
    operands = inputs + full_outputs + [result]
    # The result is written once by the final function: not part of the iteration space's layout.
    layout = inputs + full_outputs
    sizes, strides = _collapse(shape, [_broadcast_strides(v.meta, shape) for v in layout])
    ndim = len(sizes)
    acc_t = red.result
    # Fixed sizes print as literals, symbolic ones as meta slots (sizes.py).
    rs = KernelSizes()
    blocks = (numel + BLOCK - 1) // BLOCK if is_static(numel) else Blocks(numel, BLOCK)
    n_c, blocks_c = rs.cpp(numel), rs.cpp(blocks)

    lines = [f'extern "C" __attribute__((visibility("default"))) void {name}(int64_t begin, int64_t end, '
             'char** ptrs, const int64_t* meta) {', "  (void)meta;"]
    ctype = {}
    for k, v in enumerate(operands):
        t = C_TYPES[dtype_name(v.meta.dtype)]
        ctype[v.id] = t
        if k < len(layout):
            const = "const " if k < len(inputs) else ""
            lines.append(f"  {const}{t}* __restrict p{k} = reinterpret_cast<{const}{t}*>(ptrs[{k}]);")
    part = len(operands)
    lines.append(f"  {acc_t}* __restrict part = reinterpret_cast<{acc_t}*>(ptrs[{part}]);")

    names, body = {}, []
    for k, v in enumerate(inputs):
        names[v.id] = f"a{k}"
        body.append(f"const {ctype[v.id]} a{k} = p{k}[{_index(f'o{k}', strides[k][-1] if ndim else 0, rs)}];")
    for low in elementwise:
        body.append(node_statement(low, names, produced, literals, ctype))
    for k, v in enumerate(full_outputs):
        idx = len(inputs) + k
        body.append(f"p{idx}[{_index(f'o{idx}', strides[idx][-1] if ndim else 0, rs)}] = "
                    f"static_cast<{ctype[v.id]}>({names[v.id]});")
    src_type = produced[x.id].result if x.id in produced else ctype[x.id]
    value = names[x.id] if src_type == acc_t else f"static_cast<{acc_t}>({names[x.id]})"
    body.append(f"const {acc_t} r = {value};")
    body.append(_combine(red.kind, "c", "r"))
    if red.kind != "sum":
        body.append("nan |= (r != r);")
    clauses = f"reduction({'+' if red.kind == 'sum' else red.kind}:c)" + (
        " reduction(|:nan)" if red.kind != "sum" else "")

    lines.append("  for (int64_t blk = begin; blk < end; ++blk) {")
    lines.append(f"    const int64_t lo = blk * {BLOCK};")
    lines.append(f"    const int64_t hi = lo + {BLOCK} < {n_c} ? lo + {BLOCK} : {n_c};")
    lines.append(f"    {acc_t} c = {_init(red.kind, acc_t)};")
    if red.kind != "sum":
        lines.append("    int nan = 0;  // a NaN was seen")
    if ndim <= 1:
        for k in range(len(layout)):
            lines.append(f"    const int64_t o{k} = 0;")
        lines.append(f"    #pragma omp simd {clauses}")
        lines.append("    for (int64_t j = lo; j < hi; ++j) {")
        lines += ["      " + b for b in body]
        lines.append("    }")
    else:
        const = "constexpr" if all(is_static(s) for s in sizes) else "const"
        lines.append(f"    {const} int64_t kSizes[{ndim}] = {{{', '.join(rs.cpp(s) for s in sizes)}}};")
        for k in range(len(layout)):
            const = "constexpr" if all(is_static(s) for s in strides[k]) else "const"
            lines.append(f"    {const} int64_t kStrides{k}[{ndim}] = {{{', '.join(rs.cpp(s) for s in strides[k])}}};")
        lines.append(f"    int64_t idx[{ndim}];")
        lines.append("    int64_t rest = lo;")
        lines.append(f"    for (int d = {ndim - 1}; d >= 0; --d) {{ idx[d] = rest % kSizes[d]; rest /= kSizes[d]; }}")
        lines.append("    int64_t i = lo;")
        lines.append("    while (i < hi) {")
        for k in range(len(layout)):
            lines.append(f"      int64_t o{k} = 0;")
        lines.append(f"      for (int d = 0; d < {ndim}; ++d) {{")
        for k in range(len(layout)):
            lines.append(f"        o{k} += idx[d] * kStrides{k}[d];")
        lines.append("      }")
        lines.append(f"      const int64_t row = kSizes[{ndim - 1}] - idx[{ndim - 1}];")
        lines.append("      const int64_t n = row < hi - i ? row : hi - i;")
        lines.append(f"      #pragma omp simd {clauses}")
        lines.append("      for (int64_t j = 0; j < n; ++j) {")
        lines += ["        " + b for b in body]
        lines.append("      }")
        lines.append("      i += n;")
        lines.append(f"      idx[{ndim - 1}] = 0;")
        lines.append(f"      for (int d = {ndim - 2}; d >= 0; --d) {{ if (++idx[d] < kSizes[d]) break; idx[d] = 0; }}")
        lines.append("    }")
    if red.kind == "sum":
        lines.append("    part[blk] = c;")
    else:
        lines.append(f"    part[blk] = nan ? std::numeric_limits<{acc_t}>::quiet_NaN() : c;")
    lines.append("  }")
    lines.append("}")

    # The combine: pairwise over the partials in a fixed tree (depends on the block count only).
    out_i = len(operands) - 1
    out_t = ctype[result.id]
    final = f"{name}_final"
    lines += ["", f'extern "C" __attribute__((visibility("default"))) void {final}(int64_t begin, int64_t end, '
              'char** ptrs, const int64_t* meta) {', "  (void)begin; (void)end; (void)meta;",
              f"  {acc_t}* part = reinterpret_cast<{acc_t}*>(ptrs[{part}]);",
              f"  {out_t}* out = reinterpret_cast<{out_t}*>(ptrs[{out_i}]);"]
    if red.kind == "sum":
        lines += [f"  for (int64_t w = 1; w < {blocks_c}; w *= 2)",
                  f"    for (int64_t i = 0; i + w < {blocks_c}; i += 2 * w) part[i] = part[i] + part[i + w];",
                  f"  {acc_t} t = part[0];"]
    else:
        lines += ["  int nan = 0;", f"  {acc_t} t = part[0];",
                  f"  for (int64_t i = 0; i < {blocks_c}; ++i) {{ nan |= (part[i] != part[i]); "
                  + _combine(red.kind, "t", "part[i]") + " }",
                  f"  if (nan) t = std::numeric_limits<{acc_t}>::quiet_NaN();"]
    value = f"t / {acc_t}({n_c})" if red.mean else "t"
    lines += [f"  out[0] = static_cast<{out_t}>({value});", "}"]

    operand_meta = [(v.meta.dtype, v.meta.shape, v.meta.strides) for v in operands]
    spec = KernelSpec(name, "\n".join(lines), inputs, full_outputs + [result], shape, blocks, operand_meta,
                      grain=max(1, _GRAIN_ELEMENTS // BLOCK), sizes=rs)
    spec.final_name = final
    spec.blocks = blocks
    spec.partial_dtype = result.meta.dtype  # the accumulator's: lower_reduction checked it is the input's
    return spec
