"""Top-level functions: every op whose op-table entry lists the `function` variant, as hy.<name>."""
from . import _C

__all__ = []

_FACTORIES = {"empty", "zeros", "ones", "full", "arange", "linspace", "eye", "rand", "randn", "randint"}

for _name in _C._op_names():
    _info = _C._op_info(_name)
    if not _info["builtin"] or _name in _FACTORIES or "function" not in _info["variants"].split(","):
        continue
    globals()[_name] = getattr(_C.ops, _name)
    __all__.append(_name)
