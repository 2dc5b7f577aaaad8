"""Fusion partitioner: the groups of nodes the code generator will compile into one loop nest each.

A group is a connected set of pure ``lowering: elementwise`` nodes, optionally ending in one ``reduction``
node that consumes the chain (softmax's exp-then-sum, a loss's square-then-mean): one pass over memory
instead of one per op. Nodes that write memory, draw random numbers, are opaque, views or GEMMs stay out
(GEMM epilogues and stencil reads come with code generation). Groups are convex: a group never depends on
itself through a node outside it, so each group can run as one call between its neighbours.
"""
__all__ = ["FusionGroup", "partition_fusion_groups"]


class FusionGroup:
    """Nodes (in graph order) that will compile to one kernel; ``kind`` is "elementwise" or "reduction"."""

    def __init__(self, nodes, kind):
        self.nodes, self.kind = nodes, kind

    def __repr__(self):
        return f"FusionGroup({self.kind}: {', '.join(n.op for n in self.nodes)})"


def _fusible(n):
    return n.is_pure() and n.lowering in ("elementwise", "reduction")


def partition_fusion_groups(graph, min_size=2, fusible=None):
    """Fusion groups of at least ``min_size`` nodes, in graph order. ``fusible`` (node -> bool) narrows
    which nodes may join a group (the code generator passes the nodes it can lower)."""
    if fusible is None:
        fusible = _fusible
    else:
        narrow = fusible
        fusible = lambda n: _fusible(n) and narrow(n)  # noqa: E731
    nodes = graph.nodes
    index = {id(n): i for i, n in enumerate(nodes)}
    producers, ancestors = [], []
    for n in nodes:
        ps = sorted({index[id(v.producer)] for v in n.input_values()
                     if v.producer is not None and id(v.producer) in index})
        anc = set(ps)
        for p in ps:
            anc |= ancestors[p]
        producers.append(ps)
        ancestors.append(anc)

    group_of = list(range(len(nodes)))          # node -> group id
    members = {i: {i} for i in range(len(nodes))}
    sealed = set()                               # groups that end in a reduction: nothing joins after it

    def convex(union):
        # Merging must not make the group read a node outside it that itself reads the group.
        for m in union:
            for q in producers[m]:
                if q not in union and (ancestors[q] & union):
                    return False
        return True

    for i, n in enumerate(nodes):
        if not fusible(n):
            continue
        for p in producers[i]:
            g, mine = group_of[p], group_of[i]
            if not fusible(nodes[p]) or g == mine or g in sealed:
                continue
            union = members[g] | members[mine]
            if not convex(union):
                continue
            for m in members[g]:
                group_of[m] = mine
            members[mine] = union
            del members[g]
        if n.lowering == "reduction":
            sealed.add(group_of[i])
    out = []
    for gid, ms in members.items():
        if len(ms) >= min_size and all(fusible(nodes[i]) for i in ms):
            group = [nodes[i] for i in sorted(ms)]
            kind = "reduction" if any(x.lowering == "reduction" for x in group) else "elementwise"
            out.append(FusionGroup(group, kind))
    out.sort(key=lambda grp: index[id(grp.nodes[0])])
    return out
