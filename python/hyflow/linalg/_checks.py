"""Argument checks shared by hy.linalg's Python functions (the kernels check the rest: dtype, square, LAPACK)."""
import builtins

from .._C import Tensor


def check_tensor(x, fn, name="A"):
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg.{fn}(): argument '{name}' must be a hyflow Tensor, got {type(x).__name__}")


def check_matrix(x, fn, name="A"):
    check_tensor(x, fn, name)
    if x.dim() < 2:
        raise ValueError(f"linalg.{fn}: the input tensor {name} must have at least 2 dimensions, got shape "
                         f"{tuple(x.shape)}")


def check_square(x, fn, name="A"):
    check_matrix(x, fn, name)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"linalg.{fn}: {name} must be batches of square matrices, but they are {x.shape[-2]} by "
                         f"{x.shape[-1]} matrices")


def check_float(x, fn, name="A"):
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise TypeError(f"linalg.{fn}: expected a floating point tensor as {name}, got {x.dtype.name}")


def is_int(v):
    return isinstance(v, builtins.int) and not isinstance(v, builtins.bool)


def needs_grad(x):
    """Whether autograd will record an op on x (so a decomposition must keep what its gradient needs)."""
    from ..autograd import is_grad_enabled
    return x.requires_grad and is_grad_enabled()


def wrap_dim(d, ndim, fn):
    if not is_int(d):
        raise TypeError(f"linalg.{fn}: dim must be an int, got {d!r}")
    if not -ndim <= d < ndim:
        raise IndexError(f"linalg.{fn}: dim {d} is out of range for a tensor with {ndim} dims")
    return d % ndim


def as_float(v, fn, name):
    """A tolerance argument as a Python float: a number or a one-element tensor."""
    if v is None:
        return None
    if isinstance(v, Tensor):
        if v.numel() != 1:
            raise TypeError(f"linalg.{fn}: {name} must be a number or a one-element tensor (per-matrix "
                            f"tolerances are not supported), got shape {tuple(v.shape)}")
        return builtins.float(v.item())
    if isinstance(v, builtins.bool) or not isinstance(v, (builtins.int, builtins.float)):
        raise TypeError(f"linalg.{fn}: {name} must be a number, got {type(v).__name__}")
    return builtins.float(v)
