"""Graph passes, one per file, each ``graph -> graph`` (they edit the graph in place and return it).

The pipeline (:func:`hyflow.compiler.pipeline.optimize`) runs them top to bottom:
dead-code elimination, common-subexpression elimination, constant folding, algebraic simplification,
dead-code elimination again. :mod:`.fusion` is not a rewrite: it partitions the graph into the groups the
code generator will compile, and ``explain`` shows them.
"""
from .dce import eliminate_dead_code
from .cse import eliminate_common_subexpressions
from .constant_fold import fold_constants
from .simplify import simplify_algebra
from .fusion import FusionGroup, partition_fusion_groups, partition_row_groups

__all__ = ["eliminate_dead_code", "eliminate_common_subexpressions", "fold_constants", "simplify_algebra",
           "FusionGroup", "partition_fusion_groups", "partition_row_groups"]
