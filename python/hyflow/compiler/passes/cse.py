"""Common-subexpression elimination: a pure op called again with the same inputs and arguments reuses the
first call's results.

Only pure nodes qualify (no writes, no random numbers, not a user-defined op), and only when neither call's memory is
written anywhere in the graph: ``a = x.sum(); x.add_(1); b = x.sum()`` must compute twice, and so must
``a = x + 1; b = x + 1; a.add_(1)``. Results that are returned are not replaced, so the caller never gets
one tensor where eager gave two.
"""
from ._alias import is_written, written_storages

__all__ = ["eliminate_common_subexpressions"]


def eliminate_common_subexpressions(graph):
    written = written_storages(graph)
    returned = {v.id for v in graph.output_values()}
    seen = {}
    for n in graph.nodes:
        if not n.is_pure() or not n.output_values():
            continue
        if any(is_written(v, written) for v in n.input_values() + n.output_values()):
            continue
        key = n.key()
        first = seen.get(key)
        if first is None:
            seen[key] = n
            continue
        if any(v.id in returned for v in n.output_values()):
            continue
        for old, new in zip(n.output_values(), first.output_values()):
            graph.replace_all_uses(old, new)
    return graph
