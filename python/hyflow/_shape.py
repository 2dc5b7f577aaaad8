"""Torch calling conventions for the shape ops: varargs (x.repeat(2, 3), x.flip(0, 1)), any iterable of
tensors for cat/stack, and split's int-or-list argument. The ops themselves live in csrc/ops/table/shape.yaml."""
from . import _C
from ._C import Tensor
from ._reductions import _alias

__all__ = ["cat", "concat", "concatenate", "stack", "split", "unbind", "pad"]

_ops = _C.ops


def _varargs(args):
    if len(args) == 1 and not isinstance(args[0], int) and hasattr(args[0], "__len__"):
        return tuple(args[0])
    return tuple(args)


def cat(tensors, dim=0, *, axis=None) -> Tensor:
    """Join tensors along an existing dim: hy.cat([a, b], dim=1) (any iterable of tensors); axis= is torch's
    alias of dim=."""
    if axis is not None:
        dim = _alias("cat", dim, 0, axis, "axis", "dim")
    return _ops.cat(list(tensors), dim)


def stack(tensors, dim=0, *, axis=None) -> Tensor:
    """Join tensors of one shape along a new dim: hy.stack([a, b], dim=0); axis= is torch's alias of dim=."""
    if axis is not None:
        dim = _alias("stack", dim, 0, axis, "axis", "dim")
    return _ops.stack(list(tensors), dim)


concat = concatenate = cat


def split(tensor, split_size_or_sections, dim=0):
    """Views along dim: an int gives pieces of that size (the last may be smaller); a list gives the
    piece sizes, which must add up to the dim's size."""
    if not isinstance(split_size_or_sections, int) and len(split_size_or_sections) == 1:
        # A one-element list means one section (the op reads a single int as a piece size).
        size = tensor.shape[dim]
        if split_size_or_sections[0] != size:
            raise ValueError(f"split: sections {list(split_size_or_sections)} sum to {split_size_or_sections[0]} "
                             f"but dim {dim} of shape {tuple(tensor.shape)} has size {size}")
    return _ops.split(tensor, split_size_or_sections, dim)


def unbind(tensor, dim=0):
    """The views tensor.select(dim, i) for every i, as a tuple."""
    return tuple(_ops.select(tensor, dim, i) for i in range(tensor.shape[dim]))


def pad(input, pad, mode="constant", value=None) -> Tensor:  # noqa: A002 (torch's argument name)
    """torch.nn.functional.pad: pairs of (left, right) from the last dim backwards."""
    return _ops.pad(input, list(pad), mode, 0.0 if value is None else float(value))


def _repeat(self, *repeats) -> Tensor:
    """self tiled repeats[i] times along each dim: x.repeat(2, 3) or x.repeat((2, 3))."""
    return _ops.repeat(self, _varargs(repeats))


def _tile(self, *dims) -> Tensor:
    """Like repeat, with missing leading repeats counted as 1: x.tile(2) or x.tile((2, 2))."""
    return _ops.tile(self, _varargs(dims))


def _flip(self, *dims) -> Tensor:
    """A copy reversed along dims: x.flip(0, 1) or x.flip([0, 1])."""
    return _ops.flip(self, _varargs(dims))


def _split(self, split_size, dim=0):
    """Views along dim (see hyflow.split)."""
    return split(self, split_size, dim)


def _unbind(self, dim=0):
    """The views self.select(dim, i) for every i, as a tuple."""
    return unbind(self, dim)


for _name, _fn in {"repeat": _repeat, "tile": _tile, "flip": _flip, "split": _split, "unbind": _unbind}.items():
    _fn.__name__ = _name
    setattr(Tensor, _name, _fn)
