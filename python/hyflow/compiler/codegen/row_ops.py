"""Ops computed per row from reductions over trailing dims (softmax, log_softmax, layer_norm) as row-reduction
groups.

Such an op declares ``row: {kind, input, dim}`` in the op table (validated by csrc/ops/validate_table.py,
``ROW_KINDS``). For code generation its node is *expanded* into the composition its kind names, made of
ops the row kernels already compute, so it fuses with its neighbours (``scale -> softmax``, ``softmax ->
mul``) in one loop nest per row (row_kernel.py):

* ``softmax``:     m = amax(x, -1, keepdim); e = exp(x - m); out = e * (1 / sum(e, -1, keepdim))
* ``log_softmax``: m = amax(x, -1, keepdim); c = x - m;      out = c - log(sum(exp(c), -1, keepdim))
* ``layer_norm``:  mean = mean(x, I, keepdim); c = x - mean; rstd = rsqrt(mean(c * c, I, keepdim) + eps);
  out = c * rstd [* weight] [+ bias], I the trailing len(normalized_shape) dims (its ``dim``); the op's
  three results (out, mean, rstd) are produced by the last, the first and the rsqrt node

(eager's formulas, csrc/kernels/cpu/softmax.cpp and layer_norm.cpp: the max is subtracted first, so exp
never overflows; the row is scaled by one reciprocal per row; the variance is of the centred row). The
expansion's nodes produce the op's own result Values, so readers of the results are unchanged. The expanded nodes are
synthetic (they exist only in the plan): an expansion that does not end up entirely inside one compiled
row-reduction group, or whose group holds nothing else (a lone softmax: eager's kernel is as fast, and
nothing is fused), is undone and the op runs as its own eager kernel (plan.py plans again without it;
``HYFLOW_CODEGEN=all`` keeps lone ones).

An op is expanded when the row kernels can compute it: float32/float64 without ``dtype=`` (or with its
own dtype), over the last dim (layer_norm: its trailing normalized dims, with weight/bias of the input's
dtype) of a tensor of at least 2 dims with rows of at least 2 elements, on the CPU, not recorded by
autograd. Otherwise it runs eagerly.
"""
from ... import _C
from ..ir import Node, TensorMeta, contiguous_strides
from ..symbolic import Dim, SymMeta, sym_contiguous_strides
from ...ops.metadata import metadata
from .lowering import dtype_name

__all__ = ["expand_row_ops", "Expansion"]


class Expansion:
    """One expanded op: ``original`` (the Node), ``nodes`` (the synthetic nodes replacing it, in order) and
    ``producers``: (result Value of the original, the synthetic node producing it) pairs (by default the
    last node produces the one result)."""

    def __init__(self, original, nodes, producers=None):
        self.original, self.nodes = original, nodes
        self.producers = producers or [(original.output_values()[0], nodes[-1])]


def _meta(shape, like):
    """Contiguous metadata of ``shape`` with ``like``'s dtype and device; symbolic (SymMeta) when the
    shape is, so the row kernel reads those sizes at run time (sizes.py)."""
    if any(isinstance(n, Dim) for n in shape):
        return SymMeta(shape, sym_contiguous_strides(shape), like.dtype, like.device, False)
    return TensorMeta(shape, contiguous_strides(shape), like.dtype, like.device, False)


def _row_spec(node):
    if node.lowering != "reduction" or not node.is_pure():
        return None
    return metadata(node.op).get("row")


def _trailing_dims(spec, node, nd):
    """The dims a row op reduces, as non-negative ints (None when not trailing ones the kernels can run)."""
    dim = node.arg(spec["dim"])
    if spec["kind"] == "layer_norm":
        k = len(dim) if isinstance(dim, (list, tuple)) else 0
        return list(range(nd - k, nd)) if 0 < k < nd else None
    return [nd - 1] if isinstance(dim, int) and nd and dim % nd == nd - 1 else None


def _affine_ok(node, x):
    """layer_norm's weight and bias: absent, or tensors of the input's dtype on the CPU."""
    for name in ("weight", "bias"):
        t = node.arg(name)
        if t is not None and (not hasattr(t, "meta") or t.meta.dtype != x.meta.dtype
                              or (t.meta.device is not None and str(t.meta.device) != "cpu")):
            return False
    return True


def _expandable(node, spec):
    x = node.arg(spec["input"])
    outs = node.output_values()
    if len(outs) != (3 if spec["kind"] == "layer_norm" else 1) or not hasattr(x, "meta"):
        return False
    if spec["kind"] == "layer_norm" and not _affine_ok(node, x):
        return False
    out = outs[0]
    if "dtype" in node.arg_names and node.arg("dtype") is not None and node.arg("dtype") != x.meta.dtype:
        return False
    dt = dtype_name(x.meta.dtype)
    if dt not in ("float32", "float64") or dtype_name(out.meta.dtype) != dt:
        return False
    if any(v.meta.device is not None and str(v.meta.device) != "cpu" for v in (x, out)):
        return False
    if node.grad_enabled and any(v.meta.requires_grad for v in outs + [x]):
        return False
    shape = tuple(x.meta.shape)
    nd = len(shape)
    dims = _trailing_dims(spec, node, nd)
    if nd < 2 or dims is None or _numel(shape[d] for d in dims) < 2 or any(s == 0 for s in shape):
        return False
    return True


def _numel(sizes):
    n = 1
    for s in sizes:
        n *= s
    return n


def expand_row_ops(graph):
    """{id(original node): Expansion} for every node of ``graph`` with a ``row:`` spec that the row kernels
    can compute (see the module docstring)."""
    out = {}
    for n in graph.nodes:
        spec = _row_spec(n)
        if spec is None or not _expandable(n, spec):
            continue
        x = n.arg(spec["input"])
        result = n.output_values()[0]
        shape = tuple(x.meta.shape)
        d = len(shape) - 1
        dims = _trailing_dims(spec, n, len(shape))
        full = _meta(shape, x.meta)
        row = _meta(shape[:len(shape) - len(dims)] + (1,) * len(dims), x.meta)
        nodes = []

        def add(op, args, meta=None, value=None):
            node = Node(op, args, [], n.grad_enabled)
            v = value if value is not None else graph.new_value("node", meta, producer=node)
            node.results = [v]
            nodes.append(node)
            return v

        if spec["kind"] == "layer_norm":
            normed, mean, rstd = n.output_values()
            add("mean", [x, dims, True, None], value=mean)
            c = add("sub", [x, mean, 1, None], full)
            var = add("mean", [add("mul", [c, c, None], full), dims, True, None], row)
            literal = _C._compiler.wrapped_number(float(n.arg("eps")))  # the kernel source inlines it
            eps = graph.new_value("captured", TensorMeta.of(literal), tensor=literal)
            add("rsqrt", [add("add", [var, eps, 1, None], row), None], value=rstd)
            w, b = n.arg("weight"), n.arg("bias")
            y = add("mul", [c, rstd, None], full, normed if w is None and b is None else None)
            if w is not None:
                y = add("mul", [y, w, None], full, normed if b is None else None)
            if b is not None:
                add("add", [y, b, 1, None], full, normed)
            producers = [(v, next(k for k in nodes if k.results[0] is v)) for v in (normed, mean, rstd)]
            out[id(n)] = Expansion(n, nodes, producers)
            continue
        m = add("amax", [x, [d], True], row)
        if spec["kind"] == "softmax":
            e = add("exp", [add("sub", [x, m, 1, None], full), None], full)
            s = add("sum", [e, [d], True, None], row)
            add("mul", [e, add("reciprocal", [s, None], row), None], value=result)
        elif spec["kind"] == "log_softmax":
            c = add("sub", [x, m, 1, None], full)
            s = add("sum", [add("exp", [c, None], full), [d], True, None], row)
            add("sub", [c, add("log", [s, None], row), 1, None], value=result)
        else:  # validate_table.py's ROW_KINDS names every kind implemented here
            raise AssertionError(f"row kind {spec['kind']!r} has no expansion")
        out[id(n)] = Expansion(n, nodes)
    return out
