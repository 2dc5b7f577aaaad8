"""Flattening the arguments and results of a compiled function: tuples, lists, dicts and hy.Size of tensors
and other values. A tree becomes its leaves plus a hashable structure, which is part of the guard key."""
from .._C import Size, Tensor

__all__ = ["flatten", "unflatten"]


def flatten(tree):
    """(leaves, structure): leaves in depth-first order; structure is hashable and rebuilds the tree."""
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves):
    t = type(tree)
    if t is tuple or t is list or t is Size:  # a shape argument (x.shape) is keyed by its sizes, as a tuple
        return (t, tuple(_flatten(x, leaves) for x in tree))
    if t is dict:
        return (dict, tuple(tree.keys()), tuple(_flatten(x, leaves) for x in tree.values()))
    leaves.append(tree)
    return None


def unflatten(structure, leaves):
    """The tree of ``structure`` (from :func:`flatten`) with ``leaves`` at its leaf positions."""
    it = iter(leaves)
    return _unflatten(structure, it)


def _unflatten(s, it):
    if s is None:
        return next(it)
    if s[0] is dict:
        return dict(zip(s[1], (_unflatten(x, it) for x in s[2])))
    return s[0](_unflatten(x, it) for x in s[1])


def is_tensor(x):
    return isinstance(x, Tensor)
