"""Fusion partitioner: the groups of nodes the code generator will compile into one loop nest each.

A group is a connected set of pure ``lowering: elementwise`` nodes, optionally ending in one ``reduction``
node that consumes the chain (softmax's exp-then-sum, a loss's square-then-mean): one pass over memory
instead of one per op. Nodes that write memory, draw random numbers, are opaque, views or GEMMs stay out
(GEMM epilogues and stencil reads come with code generation). Groups are convex: a group never depends on
itself through a node outside it, so each group can run as one call between its neighbours.
"""
__all__ = ["FusionGroup", "partition_fusion_groups", "partition_row_groups"]


class FusionGroup:
    """Nodes (in graph order) that will compile to one kernel; ``kind`` is "elementwise", "reduction" (a
    chain ending in one reduction), "stencil" (elementwise with shifted reads) or "row-reduction"
    (:func:`partition_row_groups`)."""

    def __init__(self, nodes, kind):
        self.nodes, self.kind = nodes, kind

    def __repr__(self):
        return f"FusionGroup({self.kind}: {', '.join(n.op for n in self.nodes)})"


def _fusible(n, lowerings=("elementwise", "reduction")):
    return n.is_pure() and n.lowering in lowerings


def _dependencies(nodes):
    """index (id(node) -> position), producers (position -> producer positions), ancestors (position ->
    every position it depends on)."""
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
    return index, producers, ancestors


def _convex(union, producers, ancestors):
    """The group never reads a node outside it that itself reads the group."""
    for m in union:
        for q in producers[m]:
            if q not in union and (ancestors[q] & union):
                return False
    return True


def partition_fusion_groups(graph, min_size=2, fusible=None, stencils=False):
    """Fusion groups of at least ``min_size`` nodes, in graph order. ``fusible`` (node -> bool) narrows
    which nodes may join a group (the code generator passes the nodes it can lower). ``stencils``: also
    group ``lowering: stencil`` nodes (roll, laplacian: shifted reads), never in the group that computes
    the value they shift — a shifted read of a value computed in the same loop would recompute it at each
    offset, so such a value is written out and read back by the next group (kind "stencil")."""
    kinds = ("elementwise", "reduction", "stencil") if stencils else ("elementwise", "reduction")
    if fusible is None:
        fusible = lambda n: _fusible(n, kinds)  # noqa: E731
    else:
        narrow = fusible
        fusible = lambda n: _fusible(n, kinds) and narrow(n)  # noqa: E731
    nodes = graph.nodes
    index, producers, ancestors = _dependencies(nodes)

    group_of = list(range(len(nodes)))          # node -> group id
    members = {i: {i} for i in range(len(nodes))}
    sealed = set()                               # groups that end in a reduction: nothing joins after it

    # A stencil node and the producer of the value it shifts never share a group.
    apart = {}
    for i, n in enumerate(nodes):
        if stencils and n.lowering == "stencil":
            x = n.arg(n.entry_stencil()["input"])
            if getattr(x, "producer", None) is not None and id(x.producer) in index:
                apart[i] = index[id(x.producer)]

    def contracted_acyclic(g, mine):
        # With shifted reads, two groups can read each other's values (A's roll reads B, B's roll reads
        # A) although each is convex: then no order runs both as one step. Check the graph of groups.
        gid = lambda i: mine if group_of[i] == g else group_of[i]  # noqa: E731
        deps = {}
        for i in range(len(nodes)):
            gi = gid(i)
            for q in producers[i]:
                gq = gid(q)
                if gq != gi:
                    deps.setdefault(gi, set()).add(gq)
        state = {}
        for start in deps:
            if start in state:
                continue
            stack = [(start, iter(deps.get(start, ())))]
            state[start] = 1
            while stack:
                u, it = stack[-1]
                v = next(it, None)
                if v is None:
                    state[u] = 2
                    stack.pop()
                elif state.get(v) == 1:
                    return False
                elif v not in state:
                    state[v] = 1
                    stack.append((v, iter(deps.get(v, ()))))
        return True

    def convex(union):
        if any(apart.get(m) in union for m in union):
            return False
        return _convex(union, producers, ancestors)

    for i, n in enumerate(nodes):
        if not fusible(n):
            continue
        for p in producers[i]:
            g, mine = group_of[p], group_of[i]
            if not fusible(nodes[p]) or g == mine or g in sealed:
                continue
            union = members[g] | members[mine]
            if not convex(union) or (apart and not contracted_acyclic(g, mine)):
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
            kind = "reduction" if any(x.lowering == "reduction" for x in group) else (
                "stencil" if any(x.lowering == "stencil" for x in group) else "elementwise")
            out.append(FusionGroup(group, kind))
    out.sort(key=lambda grp: index[id(grp.nodes[0])])
    return out


def partition_row_groups(graph, row_space, member_ok):
    """Row-reduction groups: reductions over the trailing dims of one *full shape* F, with the elementwise
    nodes that produce their input and those that consume their results broadcast back over the rows
    (softmax's ``exp(x - amax(x))`` and ``e / sum(e)``, layer-norm's mean, centred square, variance and
    scale), so the code generator computes each row in one loop nest, all rows in parallel.

    ``row_space(node)`` gives ``(F, k, keepdim)`` for a reduction over the last ``k`` dims of an input of
    shape F that the code generator can run row-wise, else None; ``member_ok(node)`` says whether an
    elementwise node can be lowered. An elementwise node joins when its result has the full shape F or the
    *row shape* F[:-k] + (1,) * k (a per-row value: computed once per row); a reduction joins when it has
    the same F and k. A reduction without keepdim joins only as a producer of the group's outputs (its
    result's dims do not line up with F for broadcasting). Groups are grown from each reduction along data
    edges in both directions and stay convex; a node joins at most one group. Returns FusionGroups of kind
    "row-reduction" in graph order."""
    nodes = graph.nodes
    index, producers, ancestors = _dependencies(nodes)
    consumers = [[] for _ in nodes]
    for i, ps in enumerate(producers):
        for p in ps:
            consumers[p].append(i)
    spaces = [row_space(n) for n in nodes]
    taken, out = set(), []
    for seed, space in enumerate(spaces):
        if space is None or seed in taken:
            continue
        full, k = tuple(space[0]), space[1]
        row_shape = full[:len(full) - k] + (1,) * k

        def level(i):
            if spaces[i] is not None:
                return "reduction" if (tuple(spaces[i][0]), spaces[i][1]) == (full, k) else None
            if not member_ok(nodes[i]):
                return None
            outs = nodes[i].output_values()
            shape = tuple(outs[0].meta.shape) if len(outs) == 1 else None
            return "full" if shape == full else ("row" if shape == row_shape else None)

        def flat_reduction(i):  # a reduction without keepdim
            return spaces[i] is not None and not spaces[i][2]

        group, frontier = {seed}, [seed]
        while frontier:
            c = frontier.pop()
            for q in list(producers[c]) + consumers[c]:
                if q in group or q in taken or level(q) is None:
                    continue
                # No member may read a keepdim=False reduction's result.
                if any(flat_reduction(p) and p in group for p in producers[q]):
                    continue
                if flat_reduction(q) and any(m in group for m in consumers[q]):
                    continue
                union = group | {q}
                if not _convex(union, producers, ancestors):
                    continue
                group = union
                frontier.append(q)
        taken |= group
        out.append(FusionGroup([nodes[i] for i in sorted(group)], "row-reduction"))
    out.sort(key=lambda grp: index[id(grp.nodes[0])])
    return out
