"""A compiled region that autograd records as ONE node: compiled forward, compiled backward.

:func:`compile_autograd` builds it from an optimized forward graph (docs/compiler.md, "Compiled backward"):

1. parameters and other captured tensors that require grad become graph inputs (read by reference at each
   call, so optimizer steps are seen; gradients flow to them through the node's edges);
2. the backward graph is traced from eager autograd over a replay of the forward (backward_trace.py);
3. saved values are chosen, elementwise values recomputed in backward (saved_values.py);
4. both graphs go through the same passes and code generator; the forward runs with grad mode off and
   also returns the saved values;
5. with symbolic sizes (``symbolize``), the forward's symbols flow into the backward graph through the
   gradients and saved values; a symbol either graph must fix is fixed in both.

At run time :class:`AutogradProgram` runs the forward and records one node with
``_C._autograd.record_function`` (the mechanism of ``hy.autograd.Function``): its edges lead to the
inputs that require grad, its backward runs the compiled backward program. Semantics are eager's: without
``retain_graph`` the node drops its saved values after one backward (a second raises the usual error); a
saved input modified in place before backward raises the usual error. ``create_graph=True`` (higher order)
replays the forward op by op with autograd and differentiates that eagerly, so higher derivatives are
exact — not compiled.
"""
from .. import _C
from .._C import Tensor as _Tensor
from ._log import log
from . import _pytree
from .backward_trace import NotTraceable, differentiable_outputs, trace_backward
from .codegen import build_graph_kernels
from .codegen.plan import plan_graph
from .ir import contiguous_strides
from .pipeline import optimize
from .replay import Program
from .saved_values import split_joint
from . import symbolic

__all__ = ["AutogradProgram", "compile_autograd", "NotTraceable"]

_set_grad = _C._autograd.set_grad_enabled
_grad_enabled = _C._autograd.is_grad_enabled
_record = _C._autograd.record_function
_VERSION_ERROR = ("one of the variables needed for gradient computation has been modified by an inplace "
                  "operation: [{} tensor of shape {}] is at version {}; expected version {} instead.")


def needs_autograd(graph):
    """Whether autograd must record this graph's call: some returned value requires grad."""
    return _grad_enabled() and bool(differentiable_outputs(graph))


# "auto": a region is one compiled autograd node only where its forward fuses (forward_fuses); "always":
# wherever it can be (hy.compiler.set_backward_policy; tests of the compiled backward's machinery use it).
backward_policy = "auto"


def forward_fuses(graph):
    """Whether the forward graph has a compiled group that fuses two or more elementwise/reduction ops
    (a GEMM with one activation in its epilogue does not count). Without one - GEMMs separated by single
    activations, an MLP - a compiled backward measured slower than eager autograd at every size tried (a
    3-layer tanh MLP: 70 us against 47 at batch 16 x width 8, 2.58 ms against 2.38 at 4096 x 64; the
    784-512-512-10 ReLU MLP, whose ReLUs ride in GEMM epilogues, +3.1% against +0.7% op by op): it runs
    the same GEMMs, recomputes the activations its epilogues need, and pays a Python-level node; op by op
    the region costs eager's plus the guard check."""
    modes = [n.grad_enabled for n in graph.nodes]
    for n in graph.nodes:   # as the compiled forward would run (the planner keeps grad-recording ops apart)
        n.grad_enabled = False
    try:
        plans, _, _ = plan_graph(graph)
    finally:
        for n, mode in zip(graph.nodes, modes):
            n.grad_enabled = mode
    return any(p.spec is not None and len(p.nodes) >= 2 for p in plans)


def compile_autograd(graph, tensors, name, timings=None, symbolize=None):
    """An AutogradProgram for the optimized forward ``graph`` traced with input ``tensors``; raises
    NotTraceable (the caller replays op by op) when the region cannot be compiled as one node.
    ``symbolize(graph) -> Symbolization`` (a trace with symbolic sizes) gives the forward graph symbolic
    sizes after the backward was traced; the program then runs with the call's symbol values and its
    ``symbolic`` says which symbols both graphs fixed."""
    writers = [n.op for n in graph.nodes if n.written_values() or not n.entry.get("builtin")]
    if writers:
        raise NotTraceable(f"the region writes memory or calls a user op ({writers[0]})")
    if backward_policy == "auto" and not forward_fuses(graph):
        raise NotTraceable("the forward has no group to fuse (two or more elementwise/reduction ops), so one "
                           "compiled node would only add its fixed cost and recomputations to eager autograd's "
                           "(docs/compiler.md, 'Compiled backward')")
    lifted = [v for v in graph.captured if v.kind == "captured" and v.meta.requires_grad]
    for v in lifted:                     # parameters become inputs (not baked constants)
        graph.captured.remove(v)
        v.kind = "input"
        graph.inputs.append(v)
    lifted_tensors = [v.tensor for v in lifted]
    eager_forward = Program(graph)       # the original grad modes: for the trace and for create_graph
    trace = trace_backward(eager_forward, graph, list(tensors) + lifted_tensors)
    bgraph, saved = split_joint(graph, trace)
    bgraph = optimize(bgraph, None)
    sym = None
    if symbolize is not None:
        sym = _symbolize_joint(graph, bgraph, trace.diff_outputs, saved, symbolize)
    bkernels = build_graph_kernels(bgraph)

    # The forward: grad mode off for every node (the region's one node stands for them), and it also
    # returns the saved intermediates.
    saved_nodes = [v for v in saved if v.kind == "node"]
    graph.outputs = (graph.outputs, tuple(saved_nodes))
    for n in graph.nodes:
        n.grad_enabled = False
    try:
        fkernels = build_graph_kernels(graph)
        forward = Program(graph, fkernels)
    finally:
        graph.outputs = graph.outputs[0]  # explain and guards see the user's outputs
    if timings is not None:
        timings["backward_codegen"] = bkernels.seconds
    log(f"{name}: compiled backward, {len(bgraph.nodes)} nodes, saves {len(saved)} value(s) "
        f"({len(saved_nodes)} intermediates)")
    program = AutogradProgram(name, graph, forward, Program(bgraph, bkernels), eager_forward, trace.diff_outputs,
                              saved, lifted_tensors, fkernels, bkernels, bgraph)
    program.symbolic = sym
    return program


def _symbolize_joint(graph, bgraph, diff_outputs, saved, symbolize):
    """Symbolic sizes for the forward graph and the backward graph it feeds (gradients have the shapes of
    the differentiable outputs, contiguous; saved values their forward metas). A symbol the backward must
    fix is fixed in the forward too."""
    fsym = symbolize(graph)
    grads = []
    for v in diff_outputs:
        m = fsym.metas[v.id]
        grads.append(symbolic.SymMeta(m.shape, symbolic.sym_contiguous_strides(m.shape), m.dtype, m.device, False))
    metas = grads + [fsym.metas[v.id] for v in saved]
    bsym = symbolic.symbolize(bgraph, fsym.values, [None] * len(bgraph.inputs), (), input_metas=metas,
                              fixed=fsym.specialized, shape_pool=symbolic.shape_pool(fsym))
    symbolic.restrict(fsym, bsym.specialized)
    fsym.bounds.update({s: max(b, fsym.bounds.get(s, 0)) for s, b in bsym.bounds.items()})
    symbolic.apply(graph, fsym)
    symbolic.apply(bgraph, bsym)
    return fsym


class AutogradProgram:
    """Runs a forward Program under no_grad and records one autograd node whose backward runs the
    backward Program. Same ``run(inputs)`` as a Program (the graph's own inputs; parameters are added)."""

    def __init__(self, name, graph, forward, backward, eager_forward, diff_outputs, saved, lifted, fkernels,
                 bkernels, bgraph):
        self.name = name
        self.graph, self.forward, self.backward, self.eager_forward = graph, forward, backward, eager_forward
        self.kernels, self.backward_kernels, self.backward_graph = fkernels, bkernels, bgraph
        self.lifted = lifted
        self.diff_inputs = [i for i, v in enumerate(graph.inputs) if v.meta.requires_grad]
        leaves, self.structure = _pytree.flatten(graph.outputs)
        self.out_positions = [[p for p, x in enumerate(leaves) if x is v] for v in diff_outputs]
        # The backward was traced with contiguous gradients (backward_trace.py), whatever the outputs' layout.
        self.grad_meta = [v.meta for v in diff_outputs]   # sizes may be symbolic (evaluated per call)
        self.symbolic = None
        returned = {v.id for v in graph.output_values()}
        index = {v.id: i for i, v in enumerate(graph.inputs)}
        node_k = 0
        self.saved_plan = []             # ("in", input index) or ("out", k, is_returned)
        for v in saved:
            if v.kind == "node":
                self.saved_plan.append(("out", node_k, v.id in returned))
                node_k += 1
            else:
                self.saved_plan.append(("in", index[v.id], False))

    def run(self, inputs, env=None):
        inputs = list(inputs) + self.lifted
        ambient = _grad_enabled()
        _set_grad(False)
        try:
            tree, extra = self.forward.run(inputs, env)
        finally:
            _set_grad(ambient)
        if type(tree) is _Tensor:        # one tensor out (a module's forward): no tree to walk
            leaves, structure = [tree], None
        else:
            leaves, structure = _pytree.flatten(tree)
        saved = []
        for kind, k, returned in self.saved_plan:
            t = inputs[k] if kind == "in" else extra[k]
            # A returned value gets this node as grad_fn; keeping it with that history would make
            # node -> backward -> value -> node a cycle Python's GC cannot see.
            saved.append(t.detach() if returned else t)
        versions = [t._version for t in saved]
        diff_inputs = [inputs[i] for i in self.diff_inputs]
        region = self

        def backward(*grads):
            if _grad_enabled():          # create_graph=True: differentiate an eager replay instead
                return region._eager_backward(inputs, diff_inputs, grads)
            for t, v in zip(saved, versions):
                if t._version != v:
                    raise RuntimeError(_VERSION_ERROR.format(t.dtype, tuple(t.shape), t._version, v))
            gs = [region._grad_like(g, meta, env) for g, meta in zip(grads, region.grad_meta)]
            return tuple(region.backward.run(gs + saved, env))

        outs = [leaves[p[0]] for p in self.out_positions]
        recorded = _record(self.name + "Backward", backward, diff_inputs, outs)
        for positions, r in zip(self.out_positions, recorded):
            for p in positions:
                leaves[p] = r
        return leaves[0] if structure is None else _pytree.unflatten(structure, leaves)

    @staticmethod
    def _grad_like(g, meta, env=None):
        """The gradient in the layout the backward was compiled for (the engine may hand an expanded or
        otherwise strided one; a missing one is zeros)."""
        if env is not None and isinstance(meta, symbolic.SymMeta):
            meta = meta.at(env)
        shape, dtype = list(meta.shape), meta.dtype
        strides = contiguous_strides(shape)
        if g is None:
            return _C.ops.zeros(shape, dtype=dtype)
        if g.dtype != dtype:
            g = g.to(dtype)
        if tuple(g.stride()) != strides:
            g = g.contiguous()
            if tuple(g.stride()) != strides:   # size-1 dims may carry any stride: copy into the exact layout
                g = _C.ops.empty(shape, dtype=dtype).copy_(g)
        return g

    def _eager_backward(self, inputs, diff_inputs, grads):
        log(f"{self.name}: create_graph=True: backward runs eagerly over a replay of the forward")
        from .. import autograd
        tree = self.eager_forward.run(inputs)
        leaves, _ = _pytree.flatten(tree)
        outs, gs = [], []
        for positions, g in zip(self.out_positions, grads):
            o = leaves[positions[0]]
            if g is not None and o.requires_grad:
                outs.append(o)
                gs.append(g)
        if not outs:
            return tuple(None for _ in diff_inputs)
        return tuple(autograd.grad(outs, diff_inputs, gs, create_graph=True, allow_unused=True))
