"""Which fusion groups of a graph run as generated kernels, and where each runs.

:func:`plan_graph` lowers every node it can (lowering.py), partitions the lowerable nodes into convex
elementwise groups (passes/fusion.py, single nodes included), and keeps a group when

* its materialized outputs — values read by a node outside the group or returned — all have the group's
  iteration shape (the broadcast of every member's shape; a smaller intermediate is recomputed per
  element, never written from the big loop);
* it can run as one step (schedule.py): in a functional graph the nodes are reordered around it within
  their data dependencies; otherwise it runs at its last member's position, so no outside node between
  its members may read one of its values or write the memory of one of its inputs;
* it pays off: a group of one op whose eager kernel is already vectorized with Eigen's packet math (exp,
  tanh, erf ...) stays eager unless ``HYFLOW_CODEGEN=all``, and so does a group of shifted reads alone.

Reductions over trailing dims first form *row-reduction* groups with the elementwise nodes around them
(row_kernel.py; softmax and log_softmax join expanded, row_ops.py); ``roll`` and the stencil ops join
elementwise groups as shifted reads (*stencil* groups, stencil_kernel.py); a reduction over every dim or
over leading dims ends an elementwise group (*full-reduction*, full_reduction_kernel.py; *column-reduction*,
column_reduction_kernel.py). Last, a GEMM whose product a compiled group reads is attached to it
(*gemm-epilogue*, gemm_epilogue.py).

Every group left out is reported with its reason (explain shows them).
"""
import copy
import os

from ..passes import partition_fusion_groups, partition_row_groups
from ...ops import scalar_expr
from .kernel_source import emit_kernel
from .lowering import NotLowerable, lower_node
from .column_reduction_kernel import emit_column_reduction_kernel
from .full_reduction_kernel import emit_full_reduction_kernel
from .gemm_epilogue import attach_gemm_epilogues
from .row_kernel import emit_row_kernel, lower_reduction
from .row_ops import expand_row_ops
from .stencil_kernel import emit_stencil_kernel, lower_stencil
from .schedule import fits_in_place, in_place_order, topological_order

__all__ = ["GroupPlan", "plan_graph", "codegen_mode"]


class GroupPlan:
    """A fusion group: ``nodes``, ``kind`` ("elementwise" or "row-reduction"), and either ``spec`` (its
    KernelSpec) or ``reason`` (why it runs eagerly)."""

    def __init__(self, nodes, spec=None, reason=None, kind="elementwise"):
        self.nodes, self.spec, self.reason, self.kind = nodes, spec, reason, kind
        self.gemm = None   # the GEMM node run ahead of this group in one launch (gemm_epilogue.py)

    @property
    def ops(self):
        return ([self.gemm.op] if self.gemm is not None else []) + [n.op for n in self.nodes]


def codegen_mode():
    """``HYFLOW_CODEGEN``: "auto" (default), "all" (also single vectorized-transcendental ops) or "off"."""
    mode = os.environ.get("HYFLOW_CODEGEN", "auto").strip().lower()
    if mode in ("0", "off", "false", "no"):
        return "off"
    return "all" if mode == "all" else "auto"


def _broadcast(shapes):
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        for k, n in enumerate(s):
            d = nd - len(s) + k
            if n != 1:
                if out[d] not in (1, n):
                    return None
                out[d] = n
    return tuple(out)


def _vectorized_in_eager(lowering):
    return any(scalar_expr.VOCABULARY[f].eigen for f in lowering.expr.functions)


def _whole(reduction):
    """A reduction over every dim or over leading dims: it ends an elementwise group (its own kernel kinds)."""
    return reduction is not None and (reduction.whole or reduction.leading)


def plan_graph(graph, mode=None):
    """(plans, not_lowered, order): every GroupPlan, {id(node): reason} for elementwise nodes that cannot be
    lowered, and the execution order (schedule.py) as ("node", Node) / ("group", GroupPlan) steps.

    Ops with a ``row:`` spec (softmax, log_softmax, layer_norm) are planned expanded into their composition
    (row_ops.py); an expansion that does not end up whole inside one compiled row-reduction group, or
    alone in it, is undone and the graph planned again without it (each round drops at least one: it terminates)."""
    mode = mode or codegen_mode()
    expansions = expand_row_ops(graph) if mode != "off" else {}
    while True:
        if not expansions:
            return _plan_graph(graph, mode)
        view = copy.copy(graph)   # the same values, with each expanded op's node replaced by its expansion
        view.nodes = []
        for n in graph.nodes:
            view.nodes.extend(expansions[id(n)].nodes if id(n) in expansions else [n])
        results = [(v, x.original) for x in expansions.values() for v, _ in x.producers]
        for x in expansions.values():
            for v, producer in x.producers:
                v.producer = producer     # readers of the results now depend on the expansion
        try:
            plans, not_lowered, order = _plan_graph(view, mode)
        finally:
            for v, original in results:
                v.producer = original
        compiled_rows = {id(n): p for p in plans if p.spec is not None and p.kind == "row-reduction"
                         for n in p.nodes}

        def kept(x):
            group = compiled_rows.get(id(x.nodes[0]))
            return group is not None and all(compiled_rows.get(id(n)) is group for n in x.nodes) and (
                len(group.nodes) > len(x.nodes) or mode == "all")

        failed = [k for k, x in expansions.items() if not kept(x)]
        if not failed:
            return plans, not_lowered, order
        for k in failed:
            del expansions[k]


def _plan_graph(graph, mode):
    lowerings, reductions, stencils, not_lowered = {}, {}, {}, {}
    for n in graph.nodes:
        try:
            if n.lowering == "elementwise":
                lowerings[id(n)] = lower_node(n)
            elif n.lowering == "reduction":
                reductions[id(n)] = lower_reduction(n)
            elif n.lowering == "stencil":
                stencils[id(n)] = lower_stencil(n)
        except NotLowerable as e:
            not_lowered[id(n)] = str(e)
    if mode == "off" or not (lowerings or reductions):
        return [], not_lowered, [("node", n) for n in graph.nodes]
    users = graph.users()
    returned = {v.id for v in graph.output_values()}
    plans, accepted = [], []

    def materialized(members):
        ids = {id(n) for n in members}
        produced = {v.id: v for n in members for v in n.output_values()}
        return produced, [v for vid, v in produced.items()
                          if vid in returned or any(id(u) not in ids for u in users.get(vid, []))]

    # Row-reduction groups first (they take the elementwise nodes around their reductions), then
    # elementwise groups from the lowerable nodes left.
    def row_space(n):
        r = reductions.get(id(n))
        return None if r is None or r.whole or r.leading else (r.full, r.k, r.keepdim)

    taken = set()
    for g in partition_row_groups(graph, row_space, lambda n: id(n) in lowerings):
        plan = GroupPlan(g.nodes, kind="row-reduction")
        red = next(reductions[id(n)] for n in g.nodes if id(n) in reductions)
        _, outputs = materialized(g.nodes)
        if not outputs:
            plan.reason = "nothing outside the group reads its values"
        elif len(g.nodes) == 1 and mode != "all":
            plan.reason = "a single reduction (its eager kernel is already vectorized and parallel)"
        else:
            try:
                plan.spec = emit_row_kernel(f"hyk_r{len(plans)}", g.nodes, lowerings, reductions, outputs,
                                            red.full, red.k)
                accepted.append((plan, outputs, red.full))
                taken |= {id(n) for n in g.nodes}
            except NotLowerable as e:
                plan.reason = str(e)
        plans.append(plan)

    groups = partition_fusion_groups(
        graph, min_size=1, stencils=True,
        fusible=lambda n: (id(n) in lowerings or id(n) in stencils or _whole(reductions.get(id(n))))
        and id(n) not in taken)
    for g in groups:
        members = g.nodes
        ids = {id(n) for n in members}
        produced = {v.id: v for n in members for v in n.output_values()}
        outputs = [v for vid, v in produced.items()
                   if vid in returned or any(id(u) not in ids for u in users.get(vid, []))]
        shape = _broadcast([v.meta.shape for v in produced.values()])
        plan = GroupPlan(members, kind=g.kind)
        shifted = [n for n in members if id(n) in stencils]
        reds = [reductions[id(n)] for n in members if id(n) in reductions]
        if reds:  # a chain ending in a reduction over every / leading dims (passes/fusion.py seals it there)
            plan.kind = "column-reduction" if reds[0].leading else "full-reduction"
            shape = tuple(reds[0].full)
            if not outputs:
                plan.reason = "nothing outside the group reads its values"
            elif shifted:
                plan.reason = "shifted reads feeding a full reduction (not generated yet)"
            elif len(members) == 1 and mode != "all":
                plan.reason = "a single reduction (its eager kernel is already vectorized and parallel)"
            elif _broadcast([v.meta.shape for v in produced.values() if v.id != reds[0].node.output_values()[0].id]
                            + [shape]) != shape:
                plan.reason = "a member's shape is larger than the reduction's input"
            elif any(v.meta.shape != shape for v in outputs if v.producer is not reds[0].node):
                plan.reason = "an output read outside the group is smaller than the iteration space"
            else:
                accepted.append((plan, outputs, shape))
        elif not outputs:
            plan.reason = "nothing outside the group reads its values"
        elif shape is None:
            plan.reason = "member shapes do not broadcast together"
        elif any(v.meta.shape != shape for v in outputs):
            plan.reason = "an output read outside the group is smaller than the iteration space"
        elif shifted and any(tuple(n.output_values()[0].meta.shape) != shape for n in shifted):
            plan.reason = "a shifted read of a value smaller than the iteration space"
        elif len(shifted) == len(members) and mode != "all":
            plan.reason = "only shifted reads (eager's copy is as fast)"
        elif len(members) == 1 and mode != "all" and _vectorized_in_eager(lowerings[id(members[0])]):
            plan.reason = "a single op whose eager kernel is already vectorized (Eigen packet math)"
        else:
            accepted.append((plan, outputs, shape))
        plans.append(plan)

    order = None
    if all(n.is_pure() for n in graph.nodes):
        # Largest groups first; a group that would close a cycle with those already kept stays eager.
        kept = []
        for item in sorted(accepted, key=lambda a: -len(a[0].nodes)):
            if topological_order(graph, [p for p, _, _ in kept] + [item[0]]) is None:
                item[0].reason = "it and another group read each other's values (no order runs both as one step)"
            else:
                kept.append(item)
        accepted = [a for a in accepted if any(a is k for k in kept)]
        order = topological_order(graph, [p for p, _, _ in accepted])
    if order is None:
        index = {id(n): i for i, n in enumerate(graph.nodes)}
        kept = []
        for plan, outputs, shape in accepted:
            plan.reason = fits_in_place(graph, plan.nodes, index)
            if plan.reason is None:
                kept.append((plan, outputs, shape))
        accepted = kept
        order = in_place_order(graph, [p for p, _, _ in accepted])
    for k, (plan, outputs, shape) in enumerate(accepted):
        if plan.kind in ("full-reduction", "column-reduction"):
            red = next(reductions[id(n)] for n in plan.nodes if id(n) in reductions)
            try:
                if red.leading:
                    plan.spec = emit_column_reduction_kernel(f"hyk_c{k}", plan.nodes, lowerings, red, outputs,
                                                             shape)
                else:
                    plan.spec = emit_full_reduction_kernel(f"hyk_f{k}", plan.nodes, lowerings, red, outputs,
                                                           shape)
            except NotLowerable as e:
                plan.reason = str(e)
        elif plan.kind == "stencil":
            plan.spec = emit_stencil_kernel(f"hyk_{k}", plan.nodes, lowerings, stencils, outputs, shape)
        elif plan.kind != "row-reduction":
            plan.spec = emit_kernel(f"hyk_{k}", [lowerings[id(n)] for n in plan.nodes], outputs, shape)
    for plan in plans:
        if plan.reason is not None:
            plan.spec = None
    return plans, not_lowered, attach_gemm_epilogues(order)
