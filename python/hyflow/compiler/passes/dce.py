"""Dead-code elimination: drop nodes whose results nothing reads and whose call changes nothing else.

A node stays when any result is read by a later node or returned, or when it has side effects: it writes
memory (``writes`` in the op table: in-place and ``out=`` ops, fused optimizer steps), draws random numbers
(removing it would shift every later draw of the generator), or is a user-defined op (the compiler does not
see into its kernel). Built-in ops declare every write in the op table, so the others are pure.
"""
__all__ = ["eliminate_dead_code"]


def eliminate_dead_code(graph):
    live = {v.id for v in graph.output_values()}
    kept = []
    for n in reversed(graph.nodes):
        if n.has_side_effects() or any(v.id in live for v in n.output_values()):
            kept.append(n)
            live.update(v.id for v in n.input_values())
    kept.reverse()
    graph.nodes = kept
    graph.remove_unused_captured()
    return graph
