"""Top-level functions: every public op whose op-table entry lists the `function` variant, as hy.<name>.

Internal ops stay out of the hyflow namespace (and so out of `hyflow.__all__` and the type stubs); they remain
callable as hy.ops.<name>: gradient kernels (`*_backward`), fused optimizer steps and other private helpers
(`_*`), and the building blocks that public functions are made of (im2col/col2im under conv2d, clamp_tensor
and max_dim/min_dim under clamp/max/min, index/slice under t[...], to_dtype under t.to, layer_norm's
(out, mean, rstd) under nn.functional.layer_norm, the linalg_* decompositions under hy.linalg)."""
from . import _C

__all__ = []

_FACTORIES = {"empty", "zeros", "ones", "full", "arange", "linspace", "eye", "rand", "randn", "randint"}

INTERNAL_OPS = {"im2col", "col2im", "max_pool2d_with_indices", "clamp_tensor", "max_dim", "min_dim", "index",
                "slice", "to_dtype", "layer_norm"}


def is_internal_op(name):
    """Whether op `name` is an implementation detail, reachable only as hy.ops.<name>."""
    return name.startswith("_") or name.endswith("_backward") or name.startswith("linalg_") or name in INTERNAL_OPS


for _name in _C._op_names():
    _info = _C._op_info(_name)
    if not _info["builtin"] or _name in _FACTORIES or "function" not in _info["variants"].split(","):
        continue
    if is_internal_op(_name):
        continue
    globals()[_name] = getattr(_C.ops, _name)
    __all__.append(_name)
