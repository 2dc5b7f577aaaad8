"""Which fusion groups of a graph run as generated kernels, and where each runs.

:func:`plan_graph` lowers every node it can (lowering.py), partitions the lowerable nodes into convex
elementwise groups (passes/fusion.py, single nodes included), and keeps a group when

* its materialized outputs — values read by a node outside the group or returned — all have the group's
  iteration shape (the broadcast of every member's shape; a smaller intermediate is recomputed per
  element, never written from the big loop);
* it can run at the position of its last member: no outside node placed between its first and last
  member reads one of its values or writes the memory of one of its inputs (the replay moves the whole
  group to that position);
* it pays off: a group of one op whose eager kernel is already vectorized with Eigen's packet math (exp,
  tanh, erf ...: generated code calls libm) stays eager unless ``HYFLOW_CODEGEN=all``.

Every group left out is reported with its reason (explain shows them).
"""
import os

from ..passes import partition_fusion_groups
from ...ops import scalar_expr
from .kernel_source import emit_kernel
from .lowering import NotLowerable, lower_node

__all__ = ["GroupPlan", "plan_graph", "codegen_mode"]


class GroupPlan:
    """A fusion group: ``nodes``, and either ``spec`` (its KernelSpec) or ``reason`` (why it runs eagerly)."""

    def __init__(self, nodes, spec=None, reason=None):
        self.nodes, self.spec, self.reason = nodes, spec, reason

    @property
    def ops(self):
        return [n.op for n in self.nodes]


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


def plan_graph(graph, mode=None):
    """(list of GroupPlan, {id(node): reason} for nodes that cannot be lowered)."""
    mode = mode or codegen_mode()
    lowerings, not_lowered = {}, {}
    for n in graph.nodes:
        if n.lowering != "elementwise":
            continue
        try:
            lowerings[id(n)] = lower_node(n)
        except NotLowerable as e:
            not_lowered[id(n)] = str(e)
    if mode == "off" or not lowerings:
        return [], not_lowered
    groups = partition_fusion_groups(graph, min_size=1, fusible=lambda n: id(n) in lowerings)
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    users = graph.users()
    returned = {v.id for v in graph.output_values()}
    written_by = [set() for _ in graph.nodes]
    for i, n in enumerate(graph.nodes):
        for v in n.written_values() + (n.output_values() if n.written_values() else []):
            if v.storage is not None:
                written_by[i].add(v.storage)
    plans = []
    for g in groups:
        members = g.nodes
        ids = {id(n) for n in members}
        produced = {v.id: v for n in members for v in n.output_values()}
        outputs = [v for vid, v in produced.items()
                   if vid in returned or any(id(u) not in ids for u in users.get(vid, []))]
        shape = _broadcast([v.meta.shape for v in produced.values()])
        reason = None
        if not outputs:
            reason = "nothing outside the group reads its values"
        elif shape is None:
            reason = "member shapes do not broadcast together"
        elif any(v.meta.shape != shape for v in outputs):
            reason = "an output read outside the group is smaller than the iteration space"
        else:
            first, last = index[id(members[0])], index[id(members[-1])]
            ext_storages = {v.storage for n in members for v in n.input_values()
                            if v.id not in produced and v.storage is not None}
            for i in range(first + 1, last):
                n = graph.nodes[i]
                if id(n) in ids:
                    continue
                if any(v.id in produced for v in n.input_values()):
                    reason = f"{n.op} between its members reads one of its values"
                    break
                if written_by[i] & ext_storages:
                    reason = f"{n.op} between its members writes one of its inputs"
                    break
        if reason is None and len(members) == 1 and mode != "all" and _vectorized_in_eager(lowerings[id(members[0])]):
            reason = "a single op whose eager kernel is already vectorized (Eigen packet math)"
        if reason is not None:
            plans.append(GroupPlan(members, reason=reason))
            continue
        name = f"hyk_{len([p for p in plans if p.spec is not None])}"
        spec = emit_kernel(name, [lowerings[id(n)] for n in members], outputs, shape)
        plans.append(GroupPlan(members, spec=spec))
    return plans, not_lowered
