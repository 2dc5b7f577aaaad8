"""Top-level functions: every op-table function variant re-exported as hy.<name>."""
from . import _C

__all__ = []

for _name in dir(_C.ops):
    if _name.startswith("_") or _name in ("empty", "zeros", "ones", "full", "arange", "linspace", "eye", "rand",
                                          "randn", "randint"):
        continue
    globals()[_name] = getattr(_C.ops, _name)
    __all__.append(_name)
