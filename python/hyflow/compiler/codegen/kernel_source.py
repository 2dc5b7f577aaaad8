"""C++ source of one fused elementwise group: one ``extern "C"`` loop over the group's iteration space.

    extern "C" void hyk_0(int64_t begin, int64_t end, char** ptrs, const int64_t* meta)

computes flat elements [begin, end) of the iteration space (the broadcast shape of the group). ``ptrs``
holds the data pointers of the operands, external inputs first, then the materialized outputs; ``meta``
holds the symbolic sizes and strides of a trace with symbolic sizes (sizes.py decides which; fixed ones are
baked in as literals). Each node's
``scalar:`` expression becomes one C++ statement over locals (intermediates live in registers); inputs are
read once per element and converted to the compute type of the node reading them, as eager's casts do.

Layout: every operand's strides are mapped into the iteration space (0 where it broadcasts), size-1 dims
are dropped and dims contiguous in every operand merged, so the common contiguous case is one flat loop
(``p[i]``) the compiler vectorizes; otherwise the innermost dim is the vector loop with constant strides
and the outer coordinates advance once per row.
"""
import os

from .lowering import C_TYPES, dtype_name, literal_of_number
from .sizes import KernelSizes, is_static

__all__ = ["KernelSpec", "emit_kernel", "generated_cpp", "node_statement"]


def generated_cpp(text):
    """An expression's C++ as generated code calls it: the hy::gen:: names of csrc/kernels/fast_math.h
    (vectorizable exp/log/tanh/... for float and double, scalar_math.h's primitives for the rest)."""
    return text.replace("hy::scalar::", "hy::gen::")


class KernelSpec:
    """A generated kernel: ``name``, ``source`` (the function), ``inputs`` / ``outputs`` (Values, operand
    order), ``shape`` (iteration space), ``numel`` and the operand layout the launcher checks."""

    def __init__(self, name, source, inputs, outputs, shape, numel, operand_meta, grain=None, sizes=None):
        self.name, self.source, self.inputs, self.outputs = name, source, inputs, outputs
        self.shape, self.numel, self.operand_meta = shape, numel, operand_meta
        self.grain = grain  # work items below which the launch runs inline (None: the elementwise grain)
        self.sizes = sizes or KernelSizes()  # the run-time sizes (meta slots) of a symbolic kernel


def _broadcast_strides(meta, shape):
    """Strides of a tensor of ``meta`` read at the coordinates of ``shape`` (0 where it broadcasts)."""
    nd, od = len(shape), len(meta.shape)
    out = [0] * nd
    for k in range(od):
        size, stride = meta.shape[od - 1 - k], meta.strides[od - 1 - k]
        out[nd - 1 - k] = 0 if size == 1 else stride
    return out


def _collapse(shape, operand_strides):
    """Drop size-1 dims and merge neighbours contiguous in every operand: (sizes, per-operand strides)."""
    dims = [d for d in range(len(shape)) if shape[d] != 1]
    sizes = [shape[d] for d in dims]
    strides = [[s[d] for d in dims] for s in operand_strides]
    i = len(sizes) - 1
    while i > 0:
        if all(st[i - 1] == st[i] * sizes[i] for st in strides):
            sizes[i - 1] *= sizes[i]
            del sizes[i]
            for st in strides:
                st[i - 1] = st[i]
                del st[i]
        i -= 1
    return sizes, strides


def node_statement(low, names, produced, literals, ctype, var=None):
    """One C++ statement computing ``low``'s node into a local ``v<id>`` (recorded in ``names``): its
    scalar expression over the locals of its inputs (``names``), literals, each converted to the node's
    compute type as eager's casts do. ``produced`` maps value ids made in the kernel to their lowering
    (or an object with ``result``, the C++ type of the local), ``ctype`` the C++ type of external operands;
    ``var`` names the local (default ``v<id>``)."""
    out = low.node.output_values()[0]
    arg_names = {}
    for argname, v in low.tensor_args:
        src = names.get(v.id) or literals[v.id]
        src_type = produced[v.id].result if v.id in produced else (
            ctype.get(v.id) or C_TYPES[dtype_name(v.meta.dtype)])
        kind = low.expr.arg_kinds[argname]
        want = "bool" if kind == "bool" else low.compute
        arg_names[argname] = src if src_type == want else f"static_cast<{want}>({src})"
    arg_names.update(low.params)
    expr = generated_cpp(low.expr.cpp(arg_names, type_name=low.compute))
    var = var or f"v{out.id}"
    names[out.id] = var
    return f"const {low.result} {var} = static_cast<{low.result}>({expr});  // {low.node.op}"


def _index(base, stride, sizes):
    if stride == 0:
        return f"{base}"
    if stride == 1:
        return f"{base} + j"
    return f"{base} + j * {sizes.cpp(stride)}"



def group_operands(reads, produced):
    """The inputs of a fused group and the literal numbers it reads, from the Values its nodes read in
    order: each Value not produced inside the group (``produced``: ids) once, in first-read order, except
    literal numbers, which become C++ literals (``{value id: literal}``)."""
    inputs, literals = [], {}
    for v in reads:
        if v.id in produced or v.id in literals or any(v is x for x in inputs):
            continue
        if v.is_literal_number():
            literals[v.id] = literal_of_number(v.tensor.item(), v.meta.dtype)
        else:
            inputs.append(v)
    return inputs, literals


def _l3_bytes():
    try:
        n = os.sysconf("SC_LEVEL3_CACHE_SIZE")
    except (ValueError, OSError, AttributeError):
        n = 0
    return n if n and n > 0 else 32 << 20


#: Bytes a flat kernel moves (inputs read + outputs written) from which its outputs are written with
#: streaming stores (csrc/kernels/stream_store.h): the last-level cache's size. A kernel moving more
#: evicts the start of its own output before it ends, so keeping the output in cache gains nothing and
#: the write-allocate read of every output line is pure cost; below it, the next kernel may read the
#: output from cache, which streaming stores would forfeit.
STREAM_BYTES = _l3_bytes()
#: Elements per streamed block: the block's results go to a stack buffer (L1) and out with streaming stores.
STREAM_BLOCK = 256
_ITEMSIZE = {"bool": 1, "int32": 4, "int64": 8, "float32": 4, "float64": 8}


def _streamable(inputs, outputs, strides, ndim):
    """Whether a flat kernel's outputs may be streamed: every output contiguous (stride 1)."""
    return ndim == 1 and all(strides[len(inputs) + k][-1] == 1 for k in range(len(outputs)))


def _bytes_per_element(inputs, outputs, strides):
    """Bytes a flat kernel moves per element: its outputs and its inputs that are not broadcast scalars."""
    ins = sum(_ITEMSIZE[dtype_name(v.meta.dtype)] for k, v in enumerate(inputs) if strides[k][-1] != 0)
    return ins + sum(_ITEMSIZE[dtype_name(v.meta.dtype)] for v in outputs)


def _flat_loop(body, pad):
    return [pad + "#pragma GCC ivdep", pad + "for (int64_t j = begin; j < end; ++j) {"] + \
        [pad + "  " + b for b in body] + [pad + "}"]


def _streaming_loop(body, outputs, first_output, ctype, pad):
    """The flat loop in blocks of STREAM_BLOCK elements aligned to multiples of STREAM_BLOCK (so a 64-byte
    aligned output streams whole lines): each block's outputs go to stack buffers, then out with streaming
    stores; a fence before returning. ``body`` stores output k as ``p<first_output + k>[o.. + j] = ...``."""
    lines = []
    for k, v in enumerate(outputs):
        lines.append(f"{pad}alignas(64) {ctype[v.id]} buf{first_output + k}[{STREAM_BLOCK}];")
    lines.append(f"{pad}for (int64_t b0 = begin; b0 < end;) {{")
    lines.append(f"{pad}  const int64_t b1 = (b0 / {STREAM_BLOCK} + 1) * {STREAM_BLOCK} < end ? "
                 f"(b0 / {STREAM_BLOCK} + 1) * {STREAM_BLOCK} : end;")
    lines.append(f"{pad}  #pragma GCC ivdep")
    lines.append(f"{pad}  for (int64_t j = b0; j < b1; ++j) {{")
    out_slots = {f"p{first_output + k}[o{first_output + k} + j] = ": f"buf{first_output + k}[j - b0] = "
                 for k in range(len(outputs))}
    for b in body:
        for old, new in out_slots.items():
            if b.startswith(old):
                b = new + b[len(old):]
        lines.append(f"{pad}    {b}")
    lines.append(f"{pad}  }}")
    for k, v in enumerate(outputs):
        i = first_output + k
        lines.append(f"{pad}  hy::gen::stream_copy(p{i} + b0, buf{i}, (b1 - b0) * sizeof({ctype[v.id]}));")
    lines.append(f"{pad}  b0 = b1;")
    lines.append(f"{pad}}}")
    lines.append(f"{pad}hy::gen::stream_fence();")
    return lines


def emit_kernel(name, lowerings, outputs, shape):
    """A :class:`KernelSpec` for the nodes of ``lowerings`` (graph order), materializing ``outputs``
    (Values produced by the group) over the iteration space ``shape``."""
    produced = {}
    for low in lowerings:
        produced[low.node.output_values()[0].id] = low
    inputs, literals = group_operands((v for low in lowerings for _, v in low.tensor_args), produced)
    operands = inputs + list(outputs)
    numel = 1
    for n in shape:
        numel *= n
    sizes, strides = _collapse(shape, [_broadcast_strides(v.meta, shape) for v in operands])
    ndim = len(sizes)
    rs = KernelSizes()

    lines = [f'extern "C" __attribute__((visibility("default"))) void {name}(int64_t begin, int64_t end, char** ptrs, const int64_t* meta) {{',
             "  (void)meta;"]
    ctype = {}
    for k, v in enumerate(operands):
        t = C_TYPES[dtype_name(v.meta.dtype)]
        ctype[v.id] = t
        const = "const " if k < len(inputs) else ""
        lines.append(f"  {const}{t}* __restrict p{k} = reinterpret_cast<{const}{t}*>(ptrs[{k}]);")

    # One element's body, over offsets o<k> (the row start) and the inner index j.
    body = []
    names = {}
    for k, v in enumerate(inputs):
        names[v.id] = f"a{k}"
        body.append(f"const {ctype[v.id]} a{k} = p{k}[{_index(f'o{k}', strides[k][-1] if ndim else 0, rs)}];")
    for low in lowerings:
        body.append(node_statement(low, names, produced, literals, ctype))
    for k, v in enumerate(outputs):
        idx = len(inputs) + k
        src = names[v.id]
        body.append(f"p{idx}[{_index(f'o{idx}', strides[idx][-1] if ndim else 0, rs)}] = "
                    f"static_cast<{ctype[v.id]}>({src});")

    if ndim <= 1:
        # One flat loop: the flat index j times each operand's one stride (1 when contiguous, 0 for a
        # broadcast scalar) is its offset.
        for k in range(len(operands)):
            lines.append(f"  const int64_t o{k} = 0;")
        streamed = _streamable(inputs, outputs, strides, ndim)
        if not streamed:
            lines += _flat_loop(body, "  ")
        else:
            moved = numel * _bytes_per_element(inputs, outputs, strides)
            if is_static(moved) and moved < STREAM_BYTES:
                lines += _flat_loop(body, "  ")
            elif is_static(moved):
                lines += _streaming_loop(body, outputs, len(inputs), ctype, "  ")
            else:  # symbolic size: both loops, chosen per call
                lines.append(f"  if ({rs.cpp(moved)} < {STREAM_BYTES}) {{")
                lines += _flat_loop(body, "    ")
                lines.append("  } else {")
                lines += _streaming_loop(body, outputs, len(inputs), ctype, "    ")
                lines.append("  }")
    else:
        # Fixed sizes are constexpr (GCC folds them); a symbolic size is read from meta once per call.
        size_list = ", ".join(rs.cpp(s) for s in sizes)
        const = "constexpr" if all(is_static(s) for s in sizes) else "const"
        lines.append(f"  {const} int64_t kSizes[{ndim}] = {{{size_list}}};")
        for k in range(len(operands)):
            const = "constexpr" if all(is_static(s) for s in strides[k]) else "const"
            lines.append(f"  {const} int64_t kStrides{k}[{ndim}] = {{{', '.join(rs.cpp(s) for s in strides[k])}}};")
        lines.append(f"  int64_t idx[{ndim}];")
        lines.append("  int64_t rest = begin;")
        lines.append(f"  for (int d = {ndim - 1}; d >= 0; --d) {{ idx[d] = rest % kSizes[d]; rest /= kSizes[d]; }}")
        lines.append("  int64_t i = begin;")
        lines.append("  while (i < end) {")
        for k in range(len(operands)):
            lines.append(f"    int64_t o{k} = 0;")
        lines.append(f"    for (int d = 0; d < {ndim - 1}; ++d) {{")
        for k in range(len(operands)):
            lines.append(f"      o{k} += idx[d] * kStrides{k}[d];")
        lines.append("    }")
        for k in range(len(operands)):
            lines.append(f"    o{k} += idx[{ndim - 1}] * kStrides{k}[{ndim - 1}];")
        lines.append(f"    const int64_t row = kSizes[{ndim - 1}] - idx[{ndim - 1}];")
        lines.append("    const int64_t n = row < end - i ? row : end - i;")
        lines.append("    #pragma GCC ivdep")
        lines.append("    for (int64_t j = 0; j < n; ++j) {")
        lines += ["      " + b for b in body]
        lines.append("    }")
        lines.append("    i += n;")
        lines.append(f"    idx[{ndim - 1}] = 0;")
        lines.append(f"    for (int d = {ndim - 2}; d >= 0; --d) {{ if (++idx[d] < kSizes[d]) break; idx[d] = 0; }}")
        lines.append("  }")
    lines.append("}")
    operand_meta = [(v.meta.dtype, v.meta.shape, v.meta.strides) for v in operands]
    return KernelSpec(name, "\n".join(lines), inputs, list(outputs), tuple(shape), numel, operand_meta, sizes=rs)
