"""hy.sort / hy.topk and their Tensor methods: the ops return (values, indices) as a named tuple, like
torch.return_types.sort / topk. The ops themselves live in csrc/ops/table/sort.yaml; argsort returns a
plain tensor and needs nothing here."""
import collections

from . import _C
from ._reductions import _alias
from ._C import Tensor

__all__ = ["sort", "topk"]

SortResult = collections.namedtuple("SortResult", ["values", "indices"])
SortResult.__doc__ = "(values, indices) from sort, like torch.return_types.sort."
TopKResult = collections.namedtuple("TopKResult", ["values", "indices"])
TopKResult.__doc__ = "(values, indices) from topk, like torch.return_types.topk."


def sort(input, dim=-1, descending=False, stable=False, *, axis=None):  # noqa: A002 (torch's argument name)
    """(values, indices) of input sorted along dim (ascending unless descending=True); NaN sorts as the
    largest value. Equal elements keep their order whatever `stable` says (every sort here is stable).
    axis= is torch's alias of dim=."""
    if axis is not None:
        dim = _alias("sort", dim, -1, axis, "axis", "dim")
    return SortResult(*_C.ops.sort(input, dim, descending, stable=stable))


def topk(input, k, dim=-1, largest=True, sorted=True, *, axis=None):  # noqa: A002 (torch's argument names)
    """(values, indices) of the k largest (smallest with largest=False) elements along dim, always in
    sorted order; NaN counts as the largest value. 0 <= k <= input.shape[dim], else RuntimeError.
    axis= is torch's alias of dim=."""
    if axis is not None:
        dim = _alias("topk", dim, -1, axis, "axis", "dim")
    return TopKResult(*_C.ops.topk(input, k, dim, largest, sorted))


def _sort(self, dim=-1, descending=False, stable=False, *, axis=None):
    return sort(self, dim, descending, stable, axis=axis)


def _topk(self, k, dim=-1, largest=True, sorted=True, *, axis=None):  # noqa: A002
    return topk(self, k, dim, largest, sorted, axis=axis)


for _name, _fn in {"sort": _sort, "topk": _topk}.items():
    _fn.__name__ = _name
    _fn.__doc__ = globals()[_name].__doc__
    setattr(Tensor, _name, _fn)
