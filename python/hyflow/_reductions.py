"""hy.max / hy.min and Tensor.max / Tensor.min: torch's three overloads behind one name.

    x.max()                  0-d tensor, the largest element           (op ``max``)
    x.max(dim, keepdim)      (values, indices) named tuple             (op ``max_dim``)
    hy.max(a, b)             elementwise maximum with broadcasting     (op ``maximum``)

The op table keeps the three apart (one schema each); only the Python surface merges them. Like torch,
``axis=`` and ``keepdims=`` are accepted as aliases of ``dim=`` and ``keepdim=``.
"""
import collections

from . import _C
from ._C import Tensor

__all__ = ["max", "min"]

MinMaxResult = collections.namedtuple("MinMaxResult", ["values", "indices"])
MinMaxResult.__doc__ = "(values, indices) from max/min along a dim, like torch.return_types.max."


def _alias(fn, value, default, alias, alias_name, name):
    """torch's numpy-style keyword aliases (axis= for dim=, keepdims= for keepdim=): the alias's value, or
    TypeError when the torch name was passed too (torch says "invalid combination of arguments")."""
    if value is default or (default is not None and not isinstance(value, Tensor) and value == default):
        return alias
    raise TypeError(f"{fn}(): got both {name}= and its alias {alias_name}=; pass one")


def _overloaded(name, full, along, elementwise):
    def reduce(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
        if axis is not None:
            dim = _alias(name, dim, None, axis, "axis", "dim")
        if keepdims is not None:
            keepdim = _alias(name, keepdim, False, keepdims, "keepdims", "keepdim")
        if isinstance(dim, Tensor):
            if keepdim:
                raise TypeError(f"{name}(input, other): keepdim is only accepted with an int dim")
            return elementwise(input, dim)
        if dim is None:
            if keepdim:
                raise TypeError(f"{name}(): keepdim=True needs a dim, e.g. x.{name}(dim=0, keepdim=True)")
            return full(input)
        values, indices = along(input, dim, keepdim)
        return MinMaxResult(values, indices)

    reduce.__name__ = reduce.__qualname__ = name
    return reduce


max = _overloaded("max", _C.ops.max, _C.ops.max_dim, _C.ops.maximum)  # noqa: A001
max.__doc__ = """max(input) -> Tensor; max(input, dim, keepdim=False) -> (values, indices); max(input, other).
(axis=/keepdims= are torch's aliases of dim=/keepdim=.)

The largest element (NaN propagates), the largest along dim with the index of its first occurrence
(NaN counts as largest), or the elementwise maximum of two tensors."""

min = _overloaded("min", _C.ops.min, _C.ops.min_dim, _C.ops.minimum)  # noqa: A001
min.__doc__ = """min(input) -> Tensor; min(input, dim, keepdim=False) -> (values, indices); min(input, other).
(axis=/keepdims= are torch's aliases of dim=/keepdim=.)

The smallest element (NaN propagates), the smallest along dim with the index of its first occurrence
(NaN counts as smallest), or the elementwise minimum of two tensors."""
