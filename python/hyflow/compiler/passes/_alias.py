"""Which values a pass must leave alone because their memory is written or escapes.

Two values alias when the traced tensors shared a memory block (``Value.storage``): views, ops that return
an input, an in-place op's result and its target. A rewrite that reuses or replaces one value by another
is only sound when nothing writes that memory (else the reuse would read a later write), so passes ask
:func:`written_storages` first.
"""


def written_storages(graph):
    """Storage addresses of every value some node writes into (None is never included)."""
    out = set()
    for n in graph.nodes:
        for v in n.written_values():
            if v.storage is not None:
                out.add(v.storage)
        if n.written_values():
            for v in n.output_values():
                if v.storage is not None:
                    out.add(v.storage)
    return out


def is_written(value, written):
    # Unknown storage counts as written: no pass may assume what it does not know.
    return value.storage is None or value.storage in written


def output_storages(graph):
    """Storage addresses the caller receives (outputs and the memory they view)."""
    return {v.storage for v in graph.output_values()}
