"""Which forward values the compiled backward keeps, and which it recomputes (the joint partition).

The backward graph (backward_trace.py) reads forward values. Saving all of them would write every
intermediate to memory in the forward kernels and hold it until backward; recomputing elementwise values
is nearly free in a fused backward kernel, which reads their inputs anyway. The rule (a simple one, not a
min-cut): a value made by a pure ``elementwise`` or ``view`` node is *recomputed* in backward from its own
inputs, recursively; the boundary — graph inputs and parameters (kept by reference), results of GEMMs,
reductions, opaque and random ops — is *saved*. So ``tanh(x @ w + b)`` saves the matmul result, not the
sum nor the tanh, and its backward kernel recomputes ``tanh`` where the derivative needs it.

:func:`split_joint` returns the backward graph rewritten over the saved values (recomputed nodes copied
in front of it) and the list of saved forward values (the forward graph returns them too).
"""
from .ir import Graph, Node, Value

__all__ = ["split_joint", "recomputable"]


def recomputable(node):
    """Cheap to compute again in backward: pure elementwise math or a view."""
    return node.is_pure() and node.lowering in ("elementwise", "view")


def split_joint(forward, trace):
    """(backward Graph, saved): ``saved`` lists the forward Values backward receives after the gradients
    (inputs and parameters first as they come, then saved intermediates); the backward Graph's inputs are
    the gradients then one Value per saved value, in that order."""
    bgraph = trace.graph
    used = {v.id for n in bgraph.nodes for v in n.input_values()} | {v.id for v in bgraph.output_values()}
    needed = [trace.forward_of[v.id] for v in bgraph.inputs[trace.n_grads:] if v.id in used]

    saved, recompute, seen = [], set(), set()

    def visit(v):
        if v.id in seen:
            return
        seen.add(v.id)
        if v.kind in ("captured", "constant"):
            return                      # read by reference
        if v.kind == "node" and recomputable(v.producer):
            for u in v.producer.input_values():
                visit(u)
            recompute.add(id(v.producer))
            return
        saved.append(v)

    for v in needed:
        visit(v)

    out = Graph()
    fmap = {}                            # forward Value id -> Value of the new graph
    grads = [out.add_input(v.meta, storage=v.storage) for v in bgraph.inputs[:trace.n_grads]]
    for v in saved:
        fmap[v.id] = out.add_input(v.meta, storage=v.storage)

    def fwd_value(v):
        nv = fmap.get(v.id)
        if nv is None:                   # a forward captured tensor or literal number
            nv = fmap[v.id] = (out.add_constant(v.tensor) if v.kind == "constant" else out.add_captured(v.tensor))
        return nv

    for n in forward.nodes:              # recomputed forward nodes, in forward order, without autograd
        if id(n) in recompute:
            _copy_node(out, n, fwd_value, fmap, grad_enabled=False)

    bmap = {v.id: g for v, g in zip(bgraph.inputs, grads)}
    for v in bgraph.inputs[trace.n_grads:]:
        if v.id in used:
            bmap[v.id] = fwd_value(trace.forward_of[v.id])

    def bwd_value(v):
        nv = bmap.get(v.id)
        if nv is None:                   # a literal number of a formula (captured by the trace)
            nv = bmap[v.id] = out.add_captured(v.tensor)
        return nv

    for n in bgraph.nodes:
        _copy_node(out, n, bwd_value, bmap, grad_enabled=n.grad_enabled)
    out.outputs = tuple(None if v is None else bwd_value(v) for v in bgraph.outputs)
    return out, saved


def _copy_node(graph, n, value_of, results_map, grad_enabled):
    def arg(a):
        if isinstance(a, Value):
            return value_of(a)
        if isinstance(a, list):
            return [arg(x) for x in a]
        return a
    m = Node(n.op, [arg(a) for a in n.args], [], grad_enabled)
    for r in n.results:
        if isinstance(r, list):
            m.results.append([_new(graph, m, x, results_map) for x in r])
        else:
            m.results.append(_new(graph, m, r, results_map))
    graph.nodes.append(m)
    return m


def _new(graph, node, v, results_map):
    nv = graph.new_value("node", v.meta, producer=node, storage=v.storage)
    results_map[v.id] = nv
    return nv
