"""Stencil groups: elementwise loops that also read their inputs at neighbouring grid points.

``lowering: stencil`` ops declare in the op table what they read (``stencil: {kind, input, boundary}``):

* ``shift`` (``roll(x, shifts, dims)``): the result at index i is ``x`` at ``i - shift`` along each rolled
  dim, wrapped (periodic);
* ``second_difference`` (``laplacian(u, grid_dims, dx, dy, dz, 'periodic')``): over the last grid_dims dims,
  ``sum_k (u[i - e_k] + u[i + e_k] - 2 u[i]) / h_k^2``, summed in eager's order (csrc/kernels/cpu/
  stencil.cpp: the outer axes from 0 upward, then the row axis); eager's kernel may be compiled with FMA
  contraction, generated code is not, so the two agree to a few ulp.

Inside a group every value can be evaluated *at an offset* (a vector of per-dim shifts): an elementwise
node at offset d evaluates its inputs at d; a shift at d evaluates its input at d + (its own offset); a
Laplacian at d evaluates its input at d and d +- e_k; an external input at d is a load at the wrapped
coordinates. Each (value, offset) pair is computed once per element (memoized). The partitioner
(passes/fusion.py) never puts a stencil node in the group that computes the value it shifts, so shifted
reads are loads of external inputs: one pass over memory per group, no recomputation.

Loop nest: work items are rows (every dim but the last); a row's wrapped outer coordinates and each
operand's base offset at each outer offset are computed once per row; the last dim runs as three loops,
the interior (no wrap: plain ``j + d`` indices, ``#pragma GCC ivdep``, vectorized) between two short edge
loops that wrap their indices.
"""
from ..ir import Value
from .kernel_source import KernelSpec, group_operands, _broadcast_strides, node_statement
from .lowering import C_TYPES, NotLowerable, _double_literal, dtype_name
from .sizes import KernelSizes, is_static

__all__ = ["StencilLowering", "lower_stencil", "emit_stencil_kernel"]

_GRAIN_ELEMENTS = 32768


class StencilLowering:
    """One stencil node: ``node``, ``kind``, ``input`` (the Value read at offsets), ``offset`` (shift: the
    per-dim offset it reads at), ``grid`` (second_difference: the grid dims) and ``weights`` (1/h^2 per
    grid dim, as doubles), ``result`` (its C++ type)."""

    __slots__ = ("node", "kind", "input", "offset", "grid", "weights", "result")

    def __init__(self, node, kind, x, result, offset=None, grid=None, weights=None):
        self.node, self.kind, self.input, self.result = node, kind, x, result
        self.offset, self.grid, self.weights = offset, grid, weights


def _norm(x, n):
    """x mod n as the offset of smallest magnitude (in (-n/2, n/2]). A symbolic size keeps x: the guards
    of a trace with symbolic sizes require n > 2|x| (symbolic.py), where x is already that offset."""
    if not is_static(n):
        return x
    x %= n
    return x - n if x > n // 2 else x


def lower_stencil(node):
    """A :class:`StencilLowering` for ``node``, or raise :class:`NotLowerable` naming why it runs eagerly."""
    spec = node.entry_stencil()
    if spec is None or not node.is_pure():
        raise NotLowerable(f"{node.op} is not a pure stencil op")
    x = node.arg(spec["input"])
    outs = node.output_values()
    if not isinstance(x, Value) or len(outs) != 1:
        raise NotLowerable(f"{node.op}: unexpected arguments")
    out = outs[0]
    dt = dtype_name(out.meta.dtype)
    if dt not in C_TYPES or dtype_name(x.meta.dtype) != dt:
        raise NotLowerable(f"{node.op}: dtype {dt} is not computed by generated code yet")
    for v in (x, out):
        if v.meta.device is not None and str(v.meta.device) != "cpu":
            raise NotLowerable(f"{node.op}: device {v.meta.device}")
    if node.grad_enabled and (out.meta.requires_grad or x.meta.requires_grad):
        raise NotLowerable(f"{node.op}: autograd records it (an input requires grad)")
    shape = tuple(x.meta.shape)
    if tuple(out.meta.shape) != shape or not shape or any(n == 0 for n in shape):
        raise NotLowerable(f"{node.op}: shape {shape} -> {tuple(out.meta.shape)}")
    nd = len(shape)
    if spec["kind"] == "shift":
        shifts, dims = node.arg("shifts"), node.arg("dims")
        if not dims:
            raise NotLowerable(f"{node.op} over the flattened tensor (no dims)")
        if len(shifts) != len(dims):
            raise NotLowerable(f"{node.op}: shifts and dims differ in length")
        offset = [0] * nd
        for s, d in zip(shifts, dims):
            offset[d % nd] -= s          # out[i] = x[i - shift]
        offset = tuple(_norm(o, n) for o, n in zip(offset, shape))
        return StencilLowering(node, "shift", x, C_TYPES[dt], offset=offset)
    if spec["kind"] == "second_difference":
        boundary = node.arg("boundary")
        if boundary not in spec["boundary"]:
            raise NotLowerable(f"{node.op}(boundary={boundary!r}) runs eagerly (compiled: {spec['boundary']})")
        if dt not in ("float32", "float64"):
            raise NotLowerable(f"{node.op} on {dt}")
        g = node.arg("grid_dims")
        g = nd if g == -1 else g
        if not 1 <= g <= min(3, nd):
            raise NotLowerable(f"{node.op}: grid_dims={g}")
        dx = float(node.arg("dx"))
        hs = [dx] + [dx if float(node.arg(n)) < 0 else float(node.arg(n)) for n in ("dy", "dz")]
        weights = [1.0 / (h * h) for h in hs[:g]]
        return StencilLowering(node, "second_difference", x, C_TYPES[dt], grid=list(range(nd - g, nd)),
                               weights=weights)
    raise NotLowerable(f"{node.op}: stencil kind {spec['kind']!r}")


def _tag(offset):
    return "".join(("m" if o < 0 else "p") + str(abs(o)) for o in offset) if any(offset) else ""


def emit_stencil_kernel(name, members, lowerings, stencils, outputs, shape):
    """A :class:`KernelSpec` for a stencil group: ``members`` (graph order), ``lowerings`` {id(node):
    NodeLowering} and ``stencils`` {id(node): StencilLowering}, materialized ``outputs`` (of ``shape``)."""
    shape = tuple(shape)
    nd = len(shape)
    produced = {}
    for n in members:
        produced[n.output_values()[0].id] = lowerings.get(id(n)) or stencils[id(n)]

    def reads(n):
        if id(n) in stencils:
            return [stencils[id(n)].input]
        return [v for _, v in lowerings[id(n)].tensor_args]

    inputs, literals = group_operands((v for n in members for v in reads(n)), produced)
    operands = inputs + list(outputs)
    index = {v.id: i for i, v in enumerate(operands)}
    strides = [_broadcast_strides(v.meta, shape) for v in operands]
    ctype = {v.id: C_TYPES[dtype_name(v.meta.dtype)] for v in operands}
    inner = shape[-1]
    rs = KernelSizes()     # sizes.py: symbolic sizes become meta slots, fixed ones literals
    N = rs.cpp(inner)

    coords, bases, inner_offsets = set(), set(), set()   # filled while generating bodies

    def norm(offset):
        return tuple(_norm(o, n) for o, n in zip(offset, shape))

    def base_name(k, offset):
        outer = tuple(offset[:-1])
        bases.add((k, outer))
        for d, o in enumerate(outer):
            if o and strides[k][d]:
                coords.add((d, o))
        return f"b{k}{_tag(outer)}"

    def gen_body(wrap):
        """Lines computing and storing every output at index j; ``wrap``: edge loop (indices wrap)."""
        lines, memo = [], {}

        def jexpr(o):
            if o == 0:
                return "j"
            inner_offsets.add(o)
            if wrap:
                return f"jw{_tag((o,))}"
            return f"(j + {o})" if o > 0 else f"(j - {-o})"

        def load(k, offset):
            s = strides[k][-1]
            idx = base_name(k, offset)
            if s != 0:
                j = jexpr(offset[-1])
                idx += f" + {j}" if s == 1 else f" + {j} * {rs.cpp(s)}"
            return f"p{k}[{idx}]"

        def val(v, offset):
            offset = norm(offset)
            key = (v.id, offset)
            if key in memo:
                return memo[key]
            if v.id in literals:
                return literals[v.id]
            if v.id not in produced:
                k = index[v.id]
                name = f"a{k}{_tag(offset)}"
                lines.append(f"const {ctype[v.id]} {name} = {load(k, offset)};")
                memo[key] = name
                return name
            low = produced[v.id]
            n = low.node
            if id(n) in stencils:
                st = stencils[id(n)]
                if st.kind == "shift":
                    name = val(st.input, tuple(a + b for a, b in zip(offset, st.offset)))
                else:
                    t = st.result
                    c = val(st.input, offset)
                    terms = []
                    for axis, w in zip(st.grid, st.weights):
                        step = [0] * nd
                        step[axis] = 1
                        prev = val(st.input, tuple(a - b for a, b in zip(offset, step)))
                        nxt = val(st.input, tuple(a + b for a, b in zip(offset, step)))
                        terms.append(f"({prev} + {nxt} - {t}(2) * {c}) * static_cast<{t}>({_double_literal(w)})")
                    outer = f"{t}(0)"
                    for term in terms[:-1]:
                        outer = f"({outer} + {term})"
                    name = f"v{v.id}{_tag(offset)}"
                    lines.append(f"const {t} {name} = {outer} + {terms[-1]};  // laplacian")
                memo[key] = name
                return name
            names = {x.id: val(x, offset) for x in reads(n) if x.id not in literals}
            name = f"v{v.id}{_tag(offset)}"
            lines.append(node_statement(low, names, produced, literals, ctype, var=name))
            memo[key] = name
            return name

        zero = (0,) * nd
        for v in outputs:
            k = index[v.id]
            src = val(v, zero)
            lines.append(f"{load(k, zero)} = static_cast<{ctype[v.id]}>({src});")
        return lines

    plain = gen_body(False)
    edge = gen_body(True)
    lo = max([0] + [-o for o in inner_offsets])
    top = max([0] + list(inner_offsets))
    # The interior loop [lo, hi): with a symbolic row length the guards keep it > 2 * |offset|, so the
    # interior is never empty and the structure below holds for every size the entry serves.
    interior = (lo < inner - top) if is_static(inner) else True
    hi = (inner - top) if is_static(inner) else (f"{N} - {top}" if top else N)

    out = [f'extern "C" __attribute__((visibility("default"))) void {name}(int64_t begin, int64_t end, '
           'char** ptrs, const int64_t* meta) {', "  (void)meta;"]
    for k, v in enumerate(operands):
        const = "const " if k < len(inputs) else ""
        out.append(f"  {const}{ctype[v.id]}* __restrict p{k} = reinterpret_cast<{const}{ctype[v.id]}*>(ptrs[{k}]);")
    out.append("  for (int64_t row = begin; row < end; ++row) {")
    out.append("    int64_t rest = row;")
    for d in reversed(range(nd - 1)):
        out.append(f"    const int64_t c{d} = rest % {rs.cpp(shape[d])}; rest /= {rs.cpp(shape[d])};")
    out.append("    (void)rest;")
    for d, o in sorted(coords):
        n = rs.cpp(shape[d])
        out.append(f"    int64_t c{d}{_tag((o,))} = c{d} + {o};")
        out.append(f"    c{d}{_tag((o,))} += c{d}{_tag((o,))} < 0 ? {n} : 0;")
        out.append(f"    c{d}{_tag((o,))} -= c{d}{_tag((o,))} >= {n} ? {n} : 0;")
    for k, outer in sorted(bases):
        terms = [f"c{d}{_tag((o,))} * {rs.cpp(strides[k][d])}" for d, o in enumerate(outer) if strides[k][d] != 0]
        out.append(f"    const int64_t b{k}{_tag(outer)} = {' + '.join(terms) if terms else '0'};")

    def edge_loop(a, b):
        res = [f"    for (int64_t j = {a}; j < {b}; ++j) {{"]
        for o in sorted(inner_offsets):
            t = _tag((o,))
            res.append(f"      int64_t jw{t} = j + {o};")
            res.append(f"      jw{t} += jw{t} < 0 ? {N} : 0;")
            res.append(f"      jw{t} -= jw{t} >= {N} ? {N} : 0;")
        res += ["      " + x for x in edge]
        res.append("    }")
        return res

    if interior:
        if lo > 0:
            out += edge_loop(0, lo)
        out.append("    #pragma GCC ivdep")
        out.append(f"    for (int64_t j = {lo}; j < {hi}; ++j) {{")
        out += ["      " + x for x in plain]
        out.append("    }")
        if top > 0:
            out += edge_loop(hi, N)
    else:
        out += edge_loop(0, N)
    out.append("  }")
    out.append("}")
    rows = 1
    for n in shape[:-1]:
        rows *= n
    operand_meta = [(v.meta.dtype, v.meta.shape, v.meta.strides) for v in operands]
    return KernelSpec(name, "\n".join(out), inputs, list(outputs), shape, rows, operand_meta,
                      grain=rs.grain(_GRAIN_ELEMENTS, inner), sizes=rs)
