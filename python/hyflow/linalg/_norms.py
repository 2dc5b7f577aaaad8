"""vector_norm, matrix_norm and norm with torch.linalg's semantics (ord, dim, keepdim, dtype), composed of
table ops: the vector norms are the `norm` reduction, the spectral and nuclear norms the singular values
(linalg_svd), the others sums and maxima of absolute values. Autograd flows through those ops."""
import builtins
import math

from .. import _C
from ._checks import check_float, check_tensor, is_int, wrap_dim
from ._decompositions import svdvals

_MATRIX_ORDS = ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)


def _check_ord_number(ord, fn):  # noqa: A002 (torch's argument name)
    if isinstance(ord, builtins.bool) or not isinstance(ord, (builtins.int, builtins.float)):
        raise TypeError(f"linalg.{fn}: ord must be a number (int, float, inf or -inf), got {ord!r}")


def _dims(dim, ndim, fn):
    """dim as a list of wrapped dims (None: None). A dim named twice raises ValueError."""
    if dim is None:
        return None
    dims = [dim] if is_int(dim) else list(dim)
    out = [wrap_dim(d, ndim, fn) for d in dims]
    if len(set(out)) != len(out):
        raise ValueError(f"linalg.{fn}: dim {tuple(dims)} names a dim more than once")
    return out


def _cast(x, dtype, fn):
    if dtype is None:
        return x
    if not (dtype.is_floating_point or dtype.is_complex):
        raise TypeError(f"linalg.{fn}: dtype must be a floating point dtype, got {dtype.name}")
    return x.to(dtype)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """The ord-norm of x over dim (all elements when None) as a vector: sum(|x|^ord)^(1/ord), max |x| (inf),
    min |x| (-inf) or the count of nonzeros (0). dtype casts x first."""
    check_tensor(x, "vector_norm", "x")
    _check_ord_number(ord, "vector_norm")
    check_float(x, "vector_norm", "x")
    x = _cast(x, dtype, "vector_norm")
    dims = _dims(dim, builtins.max(x.dim(), 1), "vector_norm")
    if x.dim() == 0:  # a 0-d tensor is one element: |x| (0 or 1 for ord 0)
        r = (x != 0).to(x.dtype) if ord == 0 else x.abs()
        return r
    return _C.ops.norm(x, builtins.float(ord), dims, keepdim)


def _matrix_dims(dim, ndim, fn):
    try:
        d = tuple(dim)
    except TypeError:
        raise ValueError(f"linalg.{fn}: dim must be a 2-tuple of ints, got {dim!r}") from None
    if len(d) != 2:
        raise ValueError(f"linalg.{fn}: dim must be a 2-tuple of ints, got {dim!r}")
    r, c = (wrap_dim(v, ndim, fn) for v in d)
    if r == c:
        raise ValueError(f"linalg.{fn}: dims must be different, got {d}")
    return r, c


def _restore_dims(t, r, c, keepdim):
    """t reduced over (r, c) without keepdim, given keepdim: size-1 dims put back in place."""
    if keepdim:
        for d in sorted((r, c)):
            t = t.unsqueeze(d)
    return t


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002
    """The ord-norm of the matrices in dims `dim` of A: 'fro' (Frobenius), 'nuc' (sum of singular values),
    inf / -inf (max / min absolute row sum), 1 / -1 (max / min absolute column sum), 2 / -2 (largest /
    smallest singular value)."""
    fn = "matrix_norm"
    check_tensor(A, fn)
    if A.dim() < 2:
        raise ValueError(f"linalg.{fn}: the input tensor A must have at least 2 dimensions, got shape "
                         f"{tuple(A.shape)}")
    check_float(A, fn)
    if isinstance(ord, str):
        if ord not in ("fro", "nuc"):
            raise ValueError(f"linalg.{fn}: order {ord!r} not supported (use 'fro', 'nuc', inf, -inf, 1, -1, 2, -2)")
    else:
        _check_ord_number(ord, fn)
        if ord not in _MATRIX_ORDS:
            raise ValueError(f"linalg.{fn}: order {ord} not supported (use 'fro', 'nuc', inf, -inf, 1, -1, 2, -2)")
    A = _cast(A, dtype, fn)
    r, c = _matrix_dims(dim, A.dim(), fn)
    if ord == "fro":
        return _C.ops.norm(A, 2.0, [r, c], keepdim)
    if ord in ("nuc", 2, -2):
        # the singular values of the matrices in dims (r, c): move those dims last
        rest = [d for d in range(A.dim()) if d not in (r, c)]
        s = svdvals(A.permute(*rest, r, c))
        if ord == "nuc":
            out = s.sum(-1)
        else:
            if s.shape[-1] == 0:
                raise ValueError(f"linalg.{fn}: the {ord}-norm of an empty matrix is undefined (shape "
                                 f"{tuple(A.shape)})")
            out = s.amax(-1) if ord == 2 else s.amin(-1)
        return _restore_dims(out, r, c, keepdim)
    # inf: rows summed over the columns, then the max over rows; 1: the other way round.
    summed, across = (c, r) if ord in (math.inf, -math.inf) else (r, c)
    sums = A.abs().sum(summed, keepdim=True)
    if sums.shape[across] == 0:
        raise ValueError(f"linalg.{fn}: the {ord}-norm of a matrix with no rows or columns is undefined "
                         f"(shape {tuple(A.shape)})")
    out = sums.amax(across, keepdim=True) if ord in (math.inf, 1) else sums.amin(across, keepdim=True)
    return out if keepdim else out.squeeze(builtins.max(r, c)).squeeze(builtins.min(r, c))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """torch.linalg.norm: a vector norm when dim is an int or one dim, a matrix norm when dim has two dims;
    with dim=None, the 2-norm of all elements when ord is None, else a vector (1-D A) or matrix (2-D A) norm."""
    check_tensor(A, "norm")
    if dim is not None:
        dims = [dim] if is_int(dim) else list(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        raise ValueError(f"linalg.norm: dim must name 1 or 2 dims, got {dim!r}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.dim() == 1:
        if isinstance(ord, str):
            raise ValueError(f"linalg.norm: order {ord!r} is a matrix norm; A is 1-D")
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.dim() == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: if dim is not specified but ord is, the input must be 1-D or 2-D, got "
                     f"{A.dim()}-D")

