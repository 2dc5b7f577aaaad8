"""The pass pipeline, top to bottom: each step is ``graph = pass(graph)``, timed and logged
(``HYFLOW_LOG=compiler`` prints each step's node count)."""
import time

from ._log import log
from .passes import (eliminate_common_subexpressions, eliminate_dead_code, fold_constants,
                     simplify_algebra)

__all__ = ["PASSES", "optimize"]

PASSES = [
    ("dead_code", eliminate_dead_code),
    ("common_subexpressions", eliminate_common_subexpressions),
    ("constant_folding", fold_constants),
    ("algebraic_simplification", simplify_algebra),
    ("dead_code_after", eliminate_dead_code),
]


def optimize(graph, timings=None):
    """Run every pass on ``graph``; ``timings`` (a dict), when given, receives seconds per pass."""
    for name, run in PASSES:
        t0 = time.perf_counter()
        before = len(graph.nodes)
        graph = run(graph)
        if timings is not None:
            timings[name] = time.perf_counter() - t0
        log(f"pass {name}: {before} -> {len(graph.nodes)} nodes")
    return graph
