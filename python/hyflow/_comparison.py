"""Torch conveniences around existing ops: allclose (a Python bool from the isclose op), is_tensor, the
one-argument where(condition) and nonzero(as_tuple=True). Argument juggling only: the math is in
csrc/ops/table/compare.yaml (isclose) and indexing.yaml (nonzero)."""
from . import _C
from ._C import Tensor

__all__ = ["allclose", "is_tensor", "where", "nonzero"]


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002 (torch's argument name)
    """True when every element of isclose(input, other, rtol, atol, equal_nan) is: a Python bool."""
    return bool(_C.ops.isclose(input, other, rtol, atol, equal_nan).all())


def is_tensor(obj):
    """True when obj is a hyflow Tensor (a Parameter included)."""
    return isinstance(obj, Tensor)


def nonzero(input, *, as_tuple=False):  # noqa: A002
    """The coordinates of the non-zero elements: an (N, ndim) int64 tensor, or with as_tuple=True one
    1-D tensor of N indices per dim (usable as an index, x[x.nonzero(as_tuple=True)])."""
    if not isinstance(as_tuple, bool):
        raise TypeError(f"nonzero(): as_tuple must be a bool, got {type(as_tuple).__name__}")
    if not as_tuple:
        return _C.ops.nonzero(input)
    if input.dim() == 0:  # torch treats a 0-d tensor as one element of a 1-D tensor here
        input = input.reshape(1)
    coords = _C.ops.nonzero(input)
    return tuple(coords.select(1, d).contiguous() for d in range(input.dim()))


def where(condition, input=None, other=None, *, out=None):  # noqa: A002
    """where(condition, input, other): input where condition is true, else other (broadcast).
    where(condition): the indices of its true (non-zero) elements, nonzero(condition, as_tuple=True)."""
    if input is None and other is None:
        if out is not None:
            raise TypeError("where(condition) returns a tuple of index tensors and takes no out=")
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        missing = "input" if input is None else "other"
        raise TypeError(f"where(): {missing} is missing; give both input and other, or neither "
                        "(where(condition) is nonzero(condition, as_tuple=True))")
    return _C.ops.where(condition, input, other, out=out)


def _allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return allclose(self, other, rtol, atol, equal_nan)


def _nonzero(self, *, as_tuple=False):
    return nonzero(self, as_tuple=as_tuple)


for _name, _fn in {"allclose": _allclose, "nonzero": _nonzero}.items():
    _fn.__name__ = _name
    _fn.__doc__ = globals()[_name].__doc__
    setattr(Tensor, _name, _fn)
