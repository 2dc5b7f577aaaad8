"""Where each compiled group runs: an execution order of the graph's nodes with each group as one step.

A group runs as one kernel call, so every value it reads must exist before the call and every node reading
its values must come after. Two orders:

* **Functional graphs** (every node pure: no writes, no random draws, no user ops) may be reordered freely
  within their data dependencies: :func:`topological_order` sorts the units (compiled groups and the other
  nodes) by dependencies, keeping the original order where it can. That lets a group whose members are
  interleaved with stencil reads (``roll`` of one member's value, read by a later member) run as one call:
  the roll moves after the group. Two groups can depend on each other through different members (no
  real cycle, but a cycle between the contracted units); then there is no such order and the caller falls
  back to the rule below.
* **Otherwise** the original order is kept and a group runs at its last member's position, which
  :func:`fits_in_place` checks: no outside node between its first and last member reads one of its
  values or writes memory one of its inputs lives in.
"""
import heapq

__all__ = ["topological_order", "fits_in_place", "in_place_order"]


def topological_order(graph, groups):
    """The nodes and groups (objects with ``.nodes``) of ``graph`` in an order that respects every data
    dependency, as a list of ("node", Node) / ("group", group); None when the groups cannot all be
    contracted (a cycle between units)."""
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    unit_of = {}
    units = []
    for g in groups:
        for n in g.nodes:
            unit_of[id(n)] = len(units)
        units.append(("group", g))
    for n in graph.nodes:
        if id(n) not in unit_of:
            unit_of[id(n)] = len(units)
            units.append(("node", n))
    producer_unit = {}
    for n in graph.nodes:
        for v in n.output_values():
            producer_unit[v.id] = unit_of[id(n)]
    deps = [set() for _ in units]
    for n in graph.nodes:
        u = unit_of[id(n)]
        for v in n.input_values():
            p = producer_unit.get(v.id)
            if p is not None and p != u:
                deps[u].add(p)
    users = [[] for _ in units]
    for u, ds in enumerate(deps):
        for d in ds:
            users[d].append(u)
    key = [min(index[id(n)] for n in (x.nodes if kind == "group" else [x])) for kind, x in units]
    waiting = [len(ds) for ds in deps]
    ready = [(key[u], u) for u in range(len(units)) if waiting[u] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, u = heapq.heappop(ready)
        order.append(units[u])
        for w in users[u]:
            waiting[w] -= 1
            if waiting[w] == 0:
                heapq.heappush(ready, (key[w], w))
    return order if len(order) == len(units) else None


def _written_storages(n):
    out = set()
    written = n.written_values()
    for v in written + (n.output_values() if written else []):
        if v.storage is not None:
            out.add(v.storage)
    return out


def fits_in_place(graph, members, index):
    """None when the group (``members`` in graph order) can run at its last member's position in the
    original order, else the reason it cannot."""
    ids = {id(n) for n in members}
    produced = {v.id for n in members for v in n.output_values()}
    ext_storages = {v.storage for n in members for v in n.input_values()
                    if v.id not in produced and v.storage is not None}
    for i in range(index[id(members[0])] + 1, index[id(members[-1])]):
        n = graph.nodes[i]
        if id(n) in ids:
            continue
        if any(v.id in produced for v in n.input_values()):
            return f"{n.op} between its members reads one of its values (the graph writes memory, so it is not reordered)"
        if _written_storages(n) & ext_storages:
            return f"{n.op} between its members writes one of its inputs"
    return None


def in_place_order(graph, groups):
    """The original order with each group as one step at its last member's position."""
    last = {id(g.nodes[-1]): g for g in groups}
    members = {id(n) for g in groups for n in g.nodes}
    order = []
    for n in graph.nodes:
        if id(n) in last:
            order.append(("group", last[id(n)]))
        elif id(n) not in members:
            order.append(("node", n))
    return order
