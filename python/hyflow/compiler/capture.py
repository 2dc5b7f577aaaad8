"""Tracing: run a function once with a capture session active and turn what it did into a Graph.

Record-and-execute: the function really runs (its result is the call's result), and every outermost op
call it makes is recorded by the dispatcher's capture hook (csrc/dispatch/capture_hook.h) with its
arguments and results. Tensors are told apart by identity: the function's tensor arguments become graph
inputs, tensors an op returned become that node's values, and any other tensor an op reads (a module
parameter, a global, a Python number wrapped for the call) is captured by reference.

A graph break — tensor data read in Python (``.item()``, ``bool(t)``, ``tolist()``, printing), ``detach()``,
``backward()`` inside the traced code — ends the capture: the call still completes eagerly and the trace
reports the reason instead of a graph.
"""
import threading

from .. import _C
from . import _pytree
from .ir import Graph, TensorMeta, op_entry

__all__ = ["Trace", "trace", "is_tracing"]

_state = threading.local()


def is_tracing():
    """Whether this thread is inside a trace (a compiled function called there runs as plain code)."""
    return getattr(_state, "depth", 0) > 0


class Trace:
    """The outcome of one traced call: ``result`` (the real return value), and either ``graph`` or
    ``break_reason``."""

    def __init__(self, result, graph=None, break_reason=None, breaks=()):
        self.result, self.graph, self.break_reason = result, graph, break_reason
        self.breaks = list(breaks)  # [(what, site)] with keep_going


def trace(fn, args, kwargs, input_leaves=None, keep_going=False, site_skip_prefix=None):
    """Run ``fn(*args, **kwargs)`` under a capture session and build its Graph. Exceptions of ``fn``
    propagate unchanged (a trace is a real call).

    For tools that report every problem at once (the ONNX exporter): ``keep_going`` records on after a
    graph break (the graph is still built, ``breaks`` lists each break), and ``site_skip_prefix`` (a path)
    records the Python call site of each op call and break, the innermost frame outside that path, as
    ``graph.call_sites`` (parallel to ``graph.nodes`` as built) and in ``breaks``."""
    if input_leaves is None:
        input_leaves, _ = _pytree.flatten((tuple(args), dict(kwargs)))
    # Input metadata as the call saw it on entry (the function may change requires_grad or write into them).
    before = [(x, TensorMeta.of(x)) for x in input_leaves if _pytree.is_tensor(x)]
    session = _C._compiler.CaptureSession()
    if keep_going:
        session.set_keep_going(True)
    if site_skip_prefix is not None:
        session.set_record_sites(site_skip_prefix)
    _state.depth = getattr(_state, "depth", 0) + 1
    session.begin()
    try:
        result = fn(*args, **kwargs)
    finally:
        session.end()
        _state.depth -= 1
    if session.break_reason is not None and not keep_going:
        return Trace(result, break_reason=session.break_reason)
    graph = build_graph(before, session.calls(), result, size_reads=set(session.size_reads()))
    if site_skip_prefix is not None:
        graph.call_sites = session.sites()
    return Trace(result, graph=graph, break_reason=session.break_reason, breaks=session.breaks())


def build_graph(inputs, calls, result, resolve=None, size_reads=()):
    """A Graph from the recorded ``calls`` of a function called with ``inputs`` [(tensor, meta)] that
    returned ``result``. ``resolve(t)``, when given, may name an input tensor that an unknown tensor ``t``
    stands for (the compiled backward: autograd saves a forward output as a new tensor over its memory).
    ``size_reads``: tensor_address of the tensors whose sizes Python read; the ids of their Values are
    kept in ``graph.size_reads`` (a trace with symbolic sizes keeps those sizes fixed)."""
    g = Graph()
    g.size_reads = set()
    address = _C._compiler.tensor_address

    def note(t, v):
        if size_reads and address(t) in size_reads:
            g.size_reads.add(v.id)
    env = {}     # id(tensor object) -> its current Value
    keep = []    # the objects whose ids are in env, alive until the graph is built (ids stay unique)
    for t, meta in inputs:
        if id(t) not in env:
            env[id(t)] = g.add_input(meta, storage=t.untyped_storage_ptr())
            keep.append(t)
            note(t, env[id(t)])

    def value_of(t):
        v = env.get(id(t))
        if v is None and resolve is not None:
            same = resolve(t)
            if same is not None:
                v = env[id(t)] = env[id(same)]
                keep.append(t)
        if v is None:
            v = env[id(t)] = g.add_captured(t)
            keep.append(t)
        return v

    def result_value(node, t):
        v = _new_result(g, env, keep, node, t)
        note(t, v)
        return v

    from .ir import Node
    for name, args, results, grad_enabled in calls:
        entry = op_entry(name)
        node_args = []
        for spec, a in zip(entry["args"], args):
            if spec["type"] == "Tensor" and a is not None:
                node_args.append(value_of(a))
            elif spec["type"] == "Tensor[]":
                node_args.append([value_of(x) for x in a])
            else:
                node_args.append(a)
        node = Node(name, node_args, [], grad_enabled)
        for r in results:
            if isinstance(r, list):
                node.results.append([result_value(node, x) for x in r])
            elif _pytree.is_tensor(r):
                node.results.append(result_value(node, r))
            else:
                raise RuntimeError(f"capture: op '{name}' returned a {type(r).__name__}, not a tensor")
        g.nodes.append(node)
    leaves, structure = _pytree.flatten(result)
    g.outputs = _pytree.unflatten(structure, [value_of(x) if _pytree.is_tensor(x) else x for x in leaves])
    g.output_structure = structure
    return g


def _new_result(g, env, keep, node, t):
    # A new SSA value even when the op returned one of its inputs (x.add_(1) is x): later reads see this one.
    v = g.new_value("node", TensorMeta.of(t), producer=node, storage=t.untyped_storage_ptr())
    env[id(t)] = v
    keep.append(t)
    return v
