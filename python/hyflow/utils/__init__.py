"""hyflow.utils: torch.utils's module paths, so `from hyflow.utils.data import DataLoader` works unchanged.

hy.utils.data is hy.data itself (the same module object), not a copy.
"""
import sys as _sys

from .. import data  # noqa: F401

# `import hyflow.utils.data` and `from hyflow.utils.data import X` look the submodule up by its dotted name
_sys.modules[__name__ + ".data"] = data

__all__ = ["data"]
