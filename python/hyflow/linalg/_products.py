"""Products of torch.linalg that are compositions of existing ops: matrix_power (repeated squaring with
matmul, linalg_inv for negative powers), cross, vecdot, multi_dot (matmuls in the cheapest order) and
matmul itself."""
import builtins

from .. import _C
from ._checks import check_square, check_tensor, is_int, wrap_dim
from ._decompositions import inv

ops = _C.ops


def matmul(input, other):  # noqa: A002 (torch's argument name)
    """torch.linalg.matmul: the same function as hy.matmul."""
    return ops.matmul(input, other)


def matrix_power(A, n):
    """A @ A @ ... (n times) for square A (*, m, m); n = 0 gives the identity, n < 0 powers of inv(A)."""
    check_tensor(A, "matrix_power")
    if not is_int(n):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {n!r}")
    check_square(A, "matrix_power")
    if n == 0:
        m = A.shape[-1]
        eye = ops.eye(m, dtype=A.dtype, device=A.device)
        return eye.expand(*A.shape).clone() if A.dim() > 2 else eye
    base = inv(A) if n < 0 else A
    n = builtins.abs(n)
    result = None
    while True:  # binary powering: log2(n) squarings
        if n & 1:
            result = base if result is None else ops.matmul(result, base)
        n >>= 1
        if not n:
            return result.clone() if result is A else result  # a power is a new tensor, never A itself
        base = ops.matmul(base, base)


def _broadcast(a, b):
    shape = []
    for i in range(1, builtins.max(a.dim(), b.dim()) + 1):
        x = a.shape[-i] if i <= a.dim() else 1
        y = b.shape[-i] if i <= b.dim() else 1
        if x != y and 1 not in (x, y):
            raise ValueError(f"shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together")
        shape.append(builtins.max(x, y) if 0 not in (x, y) else 0)
    shape.reverse()
    return a.expand(*shape), b.expand(*shape)


def cross(input, other, *, dim=-1):  # noqa: A002
    """The cross product of 3-vectors along dim (size 3 in both), input and other broadcast."""
    check_tensor(input, "cross", "input")
    check_tensor(other, "cross", "other")
    if input.dim() != other.dim():
        raise ValueError(f"linalg.cross: inputs must have the same number of dimensions, got shapes "
                         f"{tuple(input.shape)} and {tuple(other.shape)}")
    try:
        a, b = _broadcast(input, other)
    except ValueError as e:
        raise ValueError(f"linalg.cross: {e}") from None
    d = wrap_dim(dim, builtins.max(a.dim(), 1), "cross")
    if a.dim() == 0 or a.shape[d] != 3:
        raise ValueError(f"linalg.cross: inputs dimension {dim} must have length 3, got shapes "
                         f"{tuple(input.shape)} and {tuple(other.shape)}")
    a0, a1, a2 = (a.select(d, i) for i in range(3))
    b0, b1, b2 = (b.select(d, i) for i in range(3))
    return ops.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def vecdot(x, y, *, dim=-1):
    """The dot product of x and y along dim (conj(x) * y summed), the other dims broadcast."""
    check_tensor(x, "vecdot", "x")
    check_tensor(y, "vecdot", "y")
    prod = (x.conj() if x.dtype.is_complex else x) * y
    return prod.sum(wrap_dim(dim, builtins.max(prod.dim(), 1), "vecdot"))


def _chain_order(dims):
    """The classic matrix-chain dynamic program: split[i][j] is where the cheapest product of matrices i..j
    splits; dims[i], dims[i + 1] are the rows and columns of matrix i."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(tensors):
    """The product of a sequence of 2-D tensors (the first may be 1-D, a row vector; the last 1-D, a column
    vector) computed in the order with the fewest multiplications."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ValueError(f"linalg.multi_dot: expected at least 2 tensors, got {len(tensors)}")
    for i, t in enumerate(tensors):
        check_tensor(t, "multi_dot", f"tensors[{i}]")
        ends = i in (0, len(tensors) - 1)
        if t.dim() != 2 and not (ends and t.dim() == 1):
            raise ValueError(f"linalg.multi_dot: tensors[{i}] must be 2-D" + (" or 1-D" if ends else "") +
                             f", got shape {tuple(t.shape)}")
    first_vec, last_vec = tensors[0].dim() == 1, tensors[-1].dim() == 1
    mats = list(tensors)
    if first_vec:
        mats[0] = mats[0].unsqueeze(0)
    if last_vec:
        mats[-1] = mats[-1].unsqueeze(1)
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise ValueError(f"linalg.multi_dot: tensors[{i}] {tuple(tensors[i].shape)} and tensors[{i + 1}] "
                             f"{tuple(tensors[i + 1].shape)} cannot be multiplied")
    split = _chain_order([mats[0].shape[0]] + [m.shape[1] for m in mats])

    def product(i, j):
        if i == j:
            return mats[i]
        k = split[i][j]
        return ops.mm(product(i, k), product(k + 1, j))

    out = product(0, len(mats) - 1)
    if first_vec:
        out = out.squeeze(0)
    if last_vec:
        out = out.squeeze(-1)
    return out
