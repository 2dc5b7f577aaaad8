"""Ops computed per row from reductions over their last dim (softmax, log_softmax) as row-reduction groups.

Such an op declares ``row: {kind, input, dim}`` in the op table (validated by csrc/ops/validate_table.py,
``ROW_KINDS``). For code generation its node is *expanded* into the composition its kind names, made of
ops the row kernels already compute, so it fuses with its neighbours (``scale -> softmax``, ``softmax ->
mul``) in one loop nest per row (row_kernel.py):

* ``softmax``:     m = amax(x, -1, keepdim); e = exp(x - m); out = e * (1 / sum(e, -1, keepdim))
* ``log_softmax``: m = amax(x, -1, keepdim); c = x - m;      out = c - log(sum(exp(c), -1, keepdim))

(eager's formulas, csrc/kernels/cpu/softmax.cpp: the max is subtracted first, so exp never overflows; the
row is scaled by one reciprocal per row). The expansion's last node
produces the op's own result Value, so readers of the result are unchanged. The expanded nodes are
synthetic (they exist only in the plan): an expansion that does not end up entirely inside one compiled
row-reduction group, or whose group holds nothing else (a lone softmax: eager's kernel is as fast, and
nothing is fused), is undone and the op runs as its own eager kernel (plan.py plans again without it;
``HYFLOW_CODEGEN=all`` keeps lone ones).

An op is expanded when the row kernels can compute it: float32/float64 without ``dtype=`` (or with its
own dtype), over the last dim of a tensor of at least 2 dims with rows of at least 2 elements, on the CPU,
not recorded by autograd. Otherwise it runs eagerly.
"""
from ..ir import Node, TensorMeta, contiguous_strides
from ..symbolic import Dim, SymMeta, sym_contiguous_strides
from ...ops.metadata import metadata
from .lowering import dtype_name

__all__ = ["expand_row_ops", "Expansion"]


class Expansion:
    """One expanded op: ``original`` (the Node) and ``nodes`` (the synthetic nodes replacing it, in order;
    the last one produces the original's result)."""

    def __init__(self, original, nodes):
        self.original, self.nodes = original, nodes


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


def _expandable(node, spec):
    x, dim = node.arg(spec["input"]), node.arg(spec["dim"])
    outs = node.output_values()
    if len(outs) != 1 or not hasattr(x, "meta") or not isinstance(dim, int):
        return False
    out = outs[0]
    if "dtype" in node.arg_names and node.arg("dtype") is not None and node.arg("dtype") != x.meta.dtype:
        return False
    dt = dtype_name(x.meta.dtype)
    if dt not in ("float32", "float64") or dtype_name(out.meta.dtype) != dt:
        return False
    if any(v.meta.device is not None and str(v.meta.device) != "cpu" for v in (x, out)):
        return False
    if node.grad_enabled and (x.meta.requires_grad or out.meta.requires_grad):
        return False
    shape = tuple(x.meta.shape)
    nd = len(shape)
    if nd < 2 or dim % nd != nd - 1 or shape[-1] < 2 or any(s == 0 for s in shape):
        return False
    return True


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
        full = _meta(shape, x.meta)
        row = _meta(shape[:-1] + (1,), x.meta)
        nodes = []

        def add(op, args, meta=None, value=None):
            node = Node(op, args, [], n.grad_enabled)
            v = value if value is not None else graph.new_value("node", meta, producer=node)
            node.results = [v]
            nodes.append(node)
            return v

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
