"""The backward graph of a forward graph, obtained by tracing eager autograd over a replay of it.

Why tracing rather than translating the op table's ``backward`` formulas a second time: the formulas are
already compiled into the autograd nodes eager code records (csrc/ops/gen_autograd.py), and the engine
runs them on the calling thread through the same front functions every op call passes. So replaying the
forward graph op by op with autograd on, then running the engine under a capture session, records exactly
the ops eager backward would run — the same formulas, broadcasting reductions (``sum_to``), gradient
accumulation of values read twice — as one more graph for the same passes and code generator. There is
one tracer and one definition of every derivative.

The backward graph's inputs are the output gradients and the forward values its formulas read. Autograd
keeps a saved *output* as a new tensor over the same memory (it must not hold its own grad_fn), so a tensor
the formulas read that is not a known object is matched to the forward value with the same memory, offset,
sizes, strides and dtype. Any other tensor (one made outside the op table) makes the trace fail: the region
then runs op by op under eager autograd, never silently with a stale value.
"""
from .. import _C
from . import capture
from .ir import TensorMeta

__all__ = ["NotTraceable", "BackwardTrace", "trace_backward"]

_set_grad = _C._autograd.set_grad_enabled
_grad_enabled = _C._autograd.is_grad_enabled


class NotTraceable(Exception):
    """The backward of this graph cannot be traced; the message says why (explain shows it)."""


class BackwardTrace:
    """``graph``: the backward Graph; its inputs are ``n_grads`` output gradients then forward values,
    ``forward_of[input Value id]`` naming the forward Value each stands for. ``diff_outputs``: the forward
    output Values gradients flow from (unique, in order); ``outputs`` of the graph: one gradient Value (or
    None) per differentiable forward input."""

    def __init__(self, graph, n_grads, forward_of, diff_outputs):
        self.graph, self.n_grads, self.forward_of, self.diff_outputs = graph, n_grads, forward_of, diff_outputs


def differentiable_outputs(graph):
    """The forward output Values autograd would give history: results of nodes that require grad, each
    once (an input returned as is keeps its own history)."""
    seen, out = set(), []
    for v in graph.output_values():
        if v.kind == "node" and v.meta.requires_grad and v.id not in seen:
            seen.add(v.id)
            out.append(v)
    return out


def trace_backward(forward_program, graph, tensors):
    """Trace the backward of ``graph`` (run by ``forward_program``, an eager-replay Program of it) at the
    values ``tensors`` (one per graph input, the traced call's). Inputs whose meta requires grad are the
    differentiated ones."""
    diff_outputs = differentiable_outputs(graph)
    if not diff_outputs:
        raise NotTraceable("no output requires grad")
    # Stand-ins cut from the caller's history: the trace must stop at the graph's inputs.
    stand = []
    for v, t in zip(graph.inputs, tensors):
        s = t.detach()
        if v.meta.requires_grad:
            s.requires_grad_(True)
        stand.append(s)
    ambient = _grad_enabled()
    generators = _generators(graph)
    states = [g.get_state() for g in generators]
    _set_grad(True)
    try:
        env = forward_program.execute(stand)
    finally:
        _set_grad(ambient)
        # The replay's random draws are the trace's own: the caller's stream continues as eager's would.
        for g, st in zip(generators, states):
            g.set_state(st)
    slot_of = forward_program.slot_of
    outs = [env[slot_of[v.id]] for v in diff_outputs]
    if not all(t.requires_grad for t in outs):
        raise NotTraceable("a returned value does not require grad when replayed")
    grads = [_C.ops.ones(list(v.meta.shape), dtype=v.meta.dtype) for v in diff_outputs]
    diff_inputs = [s for v, s in zip(graph.inputs, stand) if v.meta.requires_grad]

    session = _C._compiler.CaptureSession()
    session.begin()
    try:
        result = _C._compiler.trace_grad(outs, diff_inputs, grads)
    finally:
        session.end()
    if session.break_reason is not None:
        raise NotTraceable(f"graph break in backward: {session.break_reason}")

    # Backward inputs: the gradients, then every forward value (one per distinct tensor object).
    inputs, forward_of_tensor, seen = [], {}, set()
    for g in grads:
        inputs.append((g, TensorMeta.of(g)))
        seen.add(id(g))
    forward_values = list(graph.inputs) + list(graph.captured) + [v for n in graph.nodes for v in n.output_values()]
    by_memory = {}
    for v in forward_values:
        t = v.tensor if v.kind in ("captured", "constant") else env[slot_of[v.id]]
        if v.kind in ("captured", "constant"):
            continue   # read by reference in backward too (not an input)
        if id(t) not in seen:
            seen.add(id(t))
            inputs.append((t, TensorMeta.of(t)))
            forward_of_tensor[id(t)] = v
            by_memory.setdefault(_memory_key(t), t)

    def resolve(t):
        return by_memory.get(_memory_key(t))

    bgraph = capture.build_graph(inputs, session.calls(), tuple(result), resolve=resolve)
    for v in bgraph.captured:
        if not v.is_literal_number() and not _is_forward_captured(v.tensor, graph):
            raise NotTraceable(f"backward reads a tensor made outside the op table ({v.meta.short()})")
    forward_of = {bv.id: forward_of_tensor[id(t)] for bv, (t, _) in zip(bgraph.inputs[len(grads):], inputs[len(grads):])}
    del env, stand, outs, result   # the trace's tensors: only their metadata is kept
    return BackwardTrace(bgraph, len(grads), forward_of, diff_outputs)


def _generators(graph):
    """The generators the graph's random ops draw from (the default one for ``generator=None``)."""
    gens = []
    for n in graph.nodes:
        for spec, a in zip(n.entry["args"], n.args):
            if spec["type"] == "Generator":
                g = a if a is not None else _C.default_generator()
                if all(g is not x for x in gens):
                    gens.append(g)
    return gens


def _memory_key(t):
    return (t.untyped_storage_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), str(t.dtype))


def _is_forward_captured(t, graph):
    return any(v.tensor is t for v in graph.captured)
