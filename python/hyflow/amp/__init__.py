"""Mixed precision (docs/amp.md): ``hy.autocast`` regions that run each op in the precision its op-table
``autocast`` policy names, and ``GradScaler`` for float16 training.

    with hy.autocast(dtype=hy.bfloat16):
        loss = loss_fn(model(x), y)          # matmul/linear in bfloat16, reductions/softmax in float32
"""
from .autocast_mode import autocast, is_autocast_enabled, get_autocast_dtype, is_autocast_cache_enabled
from .grad_scaler import GradScaler
from .planner import Plan, plan, apply

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "is_autocast_cache_enabled", "GradScaler", "Plan", "plan", "apply"]
