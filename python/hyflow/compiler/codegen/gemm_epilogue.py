"""GEMM epilogues: a GEMM (mm, matmul, addmm: ``lowering: gemm``) whose product feeds a compiled elementwise
group of the product's shape (bias add, relu/gelu/sigmoid/tanh, scale, residual add) runs with that group
as one step, launched from C++ (csrc/compiler/gemm_epilogue.h): the GEMM through the op's own front
function — eager's kernel, the same BLAS and work split, so the product is eager's bit for bit — then the
generated epilogue over the product right after, in the same call with the GIL released, while the product
is in cache. The product stays a value of the graph (the compiled backward saves it, other nodes may
read it).

A GEMM is attached to a group when

* it is ``mm``, ``matmul`` of two matrices or ``addmm`` (numbers for beta and alpha), float32/float64 on
  the CPU, with a 2-d product, and autograd need not record it;
* the group is a compiled elementwise group whose iteration shape is the product's and which reads it;
* it can move to the group's position: no step between them reads the product, and (in a graph that
  writes memory or draws random numbers) every step between them is pure.
"""
from .lowering import dtype_name

__all__ = ["GEMM_OPS", "gemm_reason", "attach_gemm_epilogues"]

#: The GEMM ops the launcher calls (gemm_epilogue.cpp).
GEMM_OPS = ("mm", "matmul", "addmm")


def gemm_reason(node):
    """None when ``node`` is a GEMM the launcher can run ahead of an epilogue, else why not."""
    if node.op not in GEMM_OPS or node.lowering != "gemm" or not node.is_pure():
        return f"{node.op} is not a GEMM the epilogue launcher runs ({', '.join(GEMM_OPS)})"
    outs = node.output_values()
    if len(outs) != 1 or len(outs[0].meta.shape) != 2:
        return f"{node.op}: the product is not a matrix"
    ins = node.input_values()
    if node.op == "matmul" and any(len(v.meta.shape) != 2 for v in ins):
        return "matmul of other than two matrices"
    for v in outs + ins:
        if dtype_name(v.meta.dtype) not in ("float32", "float64") or v.meta.dtype != outs[0].meta.dtype:
            return f"{node.op}: dtype {dtype_name(v.meta.dtype)}"
        if v.meta.device is not None and str(v.meta.device) != "cpu":
            return f"{node.op}: device {v.meta.device}"
    if node.grad_enabled and any(v.meta.requires_grad for v in outs + ins):
        return f"{node.op}: autograd records it (an input requires grad)"
    if node.op == "addmm" and not all(isinstance(node.arg(a), (int, float)) and not isinstance(node.arg(a), bool)
                                      for a in ("beta", "alpha")):
        return "addmm: beta/alpha are not plain numbers"
    return None


def _reads(unit):
    kind, x = unit
    nodes = x.nodes if kind == "group" else [x]
    return {v.id for n in nodes for v in n.input_values()}


def _pure(unit):
    kind, x = unit
    return all(n.is_pure() for n in (x.nodes if kind == "group" else [x]))


def attach_gemm_epilogues(order):
    """Attach GEMMs to the compiled elementwise groups of ``order`` (("node", Node) / ("group", GroupPlan)
    steps) that read their product: the plan gets ``gemm`` (the Node) and kind "gemm-epilogue", and the
    GEMM's own step is removed (it runs in the group's). Returns the new order."""
    position = {id(x): i for i, (kind, x) in enumerate(order) if kind == "node"}
    removed = set()
    for j, (kind, plan) in enumerate(order):
        if kind != "group" or plan.spec is None or plan.kind not in ("elementwise", "column-reduction"):
            continue
        for v in plan.spec.inputs:
            g = v.producer
            i = position.get(id(g)) if g is not None else None
            if i is None or i >= j or i in removed or gemm_reason(g) is not None:
                continue
            if tuple(v.meta.shape) != tuple(plan.spec.shape):
                continue
            between = order[i + 1:j]
            if any(v.id in _reads(u) for u in between):
                continue
            if not all(_pure(u) for u in order) and not all(_pure(u) for u in between):
                continue
            plan.gemm, plan.kind = g, "gemm-epilogue"
            removed.add(i)
            break
    return [u for i, u in enumerate(order) if i not in removed]
