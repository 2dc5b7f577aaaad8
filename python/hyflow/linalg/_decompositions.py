"""Inverse, determinants, solvers and decompositions: torch.linalg's calling conventions over the op-table ops
of csrc/ops/table/linalg_decomp.yaml (one LAPACK kernel and one backward formula each). What is Python here
is argument handling (vector right-hand sides, left=False, named tuples, tolerances) and the composites
that are honest compositions of those ops (eigvalsh, svdvals, lstsq, matrix_rank, cond), so autograd
flows through the ops' own formulas."""
import builtins
import collections

from .. import _C
from ._checks import as_float, check_matrix, check_square, check_tensor, needs_grad

ops = _C.ops

SlogdetResult = collections.namedtuple("SlogdetResult", ["sign", "logabsdet"])
SlogdetResult.__doc__ = "(sign, logabsdet) from slogdet, like torch.return_types.linalg_slogdet."
QRResult = collections.namedtuple("QRResult", ["Q", "R"])
QRResult.__doc__ = "(Q, R) from qr, like torch.return_types.linalg_qr."
EighResult = collections.namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
EighResult.__doc__ = "(eigenvalues, eigenvectors) from eigh, like torch.return_types.linalg_eigh."
SVDResult = collections.namedtuple("SVDResult", ["U", "S", "Vh"])
SVDResult.__doc__ = "(U, S, Vh) from svd, like torch.return_types.linalg_svd."
LstsqResult = collections.namedtuple("LstsqResult", ["solution", "residuals", "rank", "singular_values"])
LstsqResult.__doc__ = "(solution, residuals, rank, singular_values) from lstsq, like torch.return_types.linalg_lstsq."

_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def inv(A):
    """The inverse of each square matrix of A (*, n, n). A singular matrix raises LinAlgError."""
    check_tensor(A, "inv")
    return ops.linalg_inv(A)


def det(A):
    """The determinant of each square matrix of A (*, n, n); shape (*)."""
    check_tensor(A, "det")
    return ops.linalg_det(A)


def slogdet(A):
    """(sign, logabsdet) with det(A) = sign * exp(logabsdet); a singular matrix gives (0, -inf)."""
    check_tensor(A, "slogdet")
    return SlogdetResult(*ops.linalg_slogdet(A))


def _is_vector_rhs(A, B):
    # torch's rule: B is a (batch of) vector(s) when it is 1-D, or has A's shape without the last dim.
    return B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve(A, B, *, left=True):
    """X with A X = B (left=True) or X A = B, A (*, n, n) square and B (*, n, k) or a batch of vectors (*, n);
    batch dims broadcast. A singular A raises LinAlgError."""
    check_tensor(A, "solve")
    check_tensor(B, "solve", "B")
    check_square(A, "solve")
    if _is_vector_rhs(A, B):
        if not left:  # as torch: a vector is a column (n x 1), which cannot stand left of A
            n = A.shape[-1]
            raise ValueError(f"linalg.solve: incompatible shapes of A and B for the equation XA = B ({n}x{n} and "
                             f"{B.shape[-1]}x1)")
        return ops.linalg_solve(A, B.unsqueeze(-1)).squeeze(-1)
    if B.dim() < 2:
        raise ValueError(f"linalg.solve: incompatible shapes of A {tuple(A.shape)} and B {tuple(B.shape)}")
    if left:
        return ops.linalg_solve(A, B)
    return ops.linalg_solve(A.mT, B.mT).mT


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B (left=True) or X A = B for triangular A (*, n, n), reading only its upper (upper=True) or
    lower triangle, with an implicit unit diagonal when unitriangular. B (*, n, k) or (*, k, n); batch dims
    broadcast. No singularity check (a zero on the diagonal gives inf/nan), as in torch."""
    check_tensor(A, "solve_triangular")
    check_tensor(B, "solve_triangular", "B")
    return ops.linalg_solve_triangular(A, B, upper=upper, left=left, unitriangular=unitriangular)


def cholesky(A, *, upper=False):
    """L lower-triangular with A = L L^T (upper=True: U with A = U^T U), reading only that triangle of A.
    A matrix that is not positive-definite raises LinAlgError naming the failing leading minor."""
    check_tensor(A, "cholesky")
    return ops.linalg_cholesky(A, upper=upper)


def qr(A, mode="reduced"):
    """(Q, R) with A = Q R, Q orthonormal columns, R upper-triangular. mode 'reduced' (Q (*, m, k), R (*, k, n),
    k = min(m, n)), 'complete' (Q (*, m, m), R (*, m, n)) or 'r' (R only; Q empty)."""
    check_tensor(A, "qr")
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    return QRResult(*ops.linalg_qr(A, mode))


def _check_uplo(UPLO, fn):
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.{fn}: UPLO must be 'L' or 'U', got {UPLO!r}")


def eigh(A, UPLO="L"):
    """(eigenvalues, eigenvectors) of each symmetric matrix, read from its lower (UPLO='L') or upper triangle:
    eigenvalues ascending (*, n), eigenvectors as the columns of (*, n, n)."""
    check_tensor(A, "eigh")
    _check_uplo(UPLO, "eigh")
    return EighResult(*ops.linalg_eigh(A, UPLO, True))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues (ascending) of each symmetric matrix. The eigenvectors are computed only when A requires
    grad (the gradient needs them)."""
    check_tensor(A, "eigvalsh")
    _check_uplo(UPLO, "eigvalsh")
    return ops.linalg_eigh(A, UPLO, needs_grad(A))[0]


def _check_driver(driver, fn):
    if driver is not None:
        raise ValueError(f"linalg.{fn}: driver= is for CUDA's cuSOLVER; CPU tensors take driver=None, got {driver!r}")


def svd(A, full_matrices=True, *, driver=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending (*, k), k = min(m, n); U (*, m, m) and Vh (*, n, n) with
    full_matrices=True, else (*, m, k) and (*, k, n)."""
    check_tensor(A, "svd")
    _check_driver(driver, "svd")
    return SVDResult(*ops.linalg_svd(A, full_matrices, True))


def svdvals(A, *, driver=None):
    """The singular values (descending) of each matrix. U and Vh are computed only when A requires grad."""
    check_tensor(A, "svdvals")
    _check_driver(driver, "svdvals")
    return ops.linalg_svd(A, False, needs_grad(A))[1]


def _tolerances(fn, atol, rtol, rcond):
    atol = as_float(atol, fn, "atol")
    rtol = as_float(rtol, fn, "rtol")
    rcond = as_float(rcond, fn, "rcond")
    if rcond is not None:
        if rtol is not None:
            raise ValueError(f"linalg.{fn}: rcond is the old name of rtol; give one of them")
        rtol = rcond
    return atol, rtol


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None):
    """The Moore-Penrose pseudo-inverse (*, n, m) of each matrix (*, m, n): singular values (absolute
    eigenvalues when hermitian) <= max(atol, rtol * largest) count as zero. rtol defaults to
    eps * max(m, n), or 0 when only a positive atol is given; rcond is torch's older name of rtol."""
    check_tensor(A, "pinv")
    atol, rtol = _tolerances("pinv", atol, rtol, rcond)
    return ops.linalg_pinv(A, atol, rtol, hermitian)


def _eps(dtype):
    return 1.1920928955078125e-07 if dtype == _C.float32 else 2.220446049250313e-16


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None):
    """The number of singular values (absolute eigenvalues when hermitian) above max(atol, rtol * largest),
    int64 of shape (*). Defaults as pinv; tol is torch's older name of atol."""
    check_matrix(A, "matrix_rank")
    if tol is not None:
        if atol is not None:
            raise ValueError("linalg.matrix_rank: tol is the old name of atol; give one of them")
        atol = tol
    atol, rtol = _tolerances("matrix_rank", atol, rtol, None)
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else _eps(A.dtype) * builtins.max(A.shape[-2], A.shape[-1])
    atol = atol or 0.0
    if hermitian:
        check_square(A, "matrix_rank")
        s = ops.linalg_eigh(A, "L", False)[0].abs()
    else:
        s = ops.linalg_svd(A, False, False)[1]
    if s.shape[-1] == 0:
        return _C.ops.zeros(list(s.shape[:-1]), dtype=_C.int64, device=A.device)
    largest = s.amax(-1, keepdim=True)
    threshold = (largest * rtol).clamp(min=atol)
    return (s > threshold).sum(-1).to(_C.int64)


def cond(A, p=None):
    """The condition number of each matrix in the norm p: None or 2 is largest / smallest singular value, -2 its
    inverse; 'fro', 'nuc', inf, -inf, 1, -1 use matrix_norm(A, p) * matrix_norm(inv(A), p) (square A only)."""
    from ._norms import matrix_norm
    check_matrix(A, "cond")
    if p is None or p == 2 or p == -2:
        s = svdvals(A)
        if s.shape[-1] == 0:
            raise ValueError("linalg.cond: the matrices are empty")
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    check_square(A, "cond")
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of A X = B for A (*, m, n) and B (*, m, k) (or (*, m)): (solution, residuals, rank,
    singular_values) as torch's CPU drivers report them. 'gels' assumes full rank (QR); 'gelsy' (the default),
    'gelsd' and 'gelss' give the minimum-norm solution with rank decided by rcond (default eps * max(m, n))
    through the SVD (pinv). residuals = squared column norms of A X - B when m > n, every matrix has full rank
    and the driver is not 'gelsy' (else empty); rank for all but 'gels'; singular_values for 'gelsd'/'gelss'.
    The SVD drivers take one SVD of A for all of these (two when A requires grad: see below)."""
    check_matrix(A, "lstsq")
    check_tensor(B, "lstsq", "B")
    if driver is None:
        driver = "gelsy"
    if driver not in _LSTSQ_DRIVERS:
        raise ValueError(f"linalg.lstsq: driver must be one of {', '.join(map(repr, _LSTSQ_DRIVERS))} (CPU), "
                         f"got {driver!r}")
    vector = B.dim() == A.dim() - 1
    Bm = B.unsqueeze(-1) if vector else B
    if Bm.dim() < 2 or Bm.shape[-2] != A.shape[-2]:
        raise ValueError(f"linalg.lstsq: A {tuple(A.shape)} and B {tuple(B.shape)} must have the same number of "
                         "rows (A.shape[-2] == B.shape[-2])")
    if A.dtype != B.dtype:
        raise RuntimeError(f"linalg.lstsq: expected A and B to have the same dtype, got {A.dtype.name} and "
                           f"{B.dtype.name}")
    m, n = A.shape[-2], A.shape[-1]
    empty = _C.ops.zeros([0], dtype=A.dtype, device=A.device)
    rank = _C.ops.zeros([0], dtype=_C.int64, device=A.device)
    singular_values = empty
    if driver == "gels":
        if m >= n:
            Q, R = ops.linalg_qr(A, "reduced")
            X = ops.linalg_solve_triangular(R, Q.mT @ Bm, upper=True)
        else:  # minimum norm: A = R^T Q^T from the QR of A^T
            Q, R = ops.linalg_qr(A.mT, "reduced")
            X = Q @ ops.linalg_solve_triangular(R.mT, Bm, upper=False)
        full_rank = True
    else:
        rtol = as_float(rcond, "lstsq", "rcond")
        if rtol is None:
            rtol = _eps(A.dtype) * builtins.max(m, n)
        elif rtol < 0:
            raise ValueError(f"linalg.lstsq: rcond must be non-negative, got {rtol}")
        # One SVD gives the solution, the rank and the singular values: A^+ = V diag(1/S kept) U^T, S kept
        # above rcond * largest (pinv's rule, so the same matrices count as rank-deficient)
        U, S, Vh = ops.linalg_svd(A.detach(), False, True)
        keep = S > S.amax(-1, keepdim=True) * rtol if S.shape[-1] else S > 0
        rank = keep.sum(-1).to(_C.int64)
        full_rank = bool((rank == builtins.min(m, n)).all().item()) if rank.numel() else True
        if needs_grad(A):
            # pinv's gradient (the SVD's would be infinite for repeated or zero singular values): its op
            # takes a second SVD, of a matrix that autograd records
            X = ops.linalg_pinv(A, None, rtol, False) @ Bm
        else:
            inv = _C.ops.where(keep, S.reciprocal(), _C.ops.zeros([], dtype=S.dtype))
            X = Vh.mT @ (inv.unsqueeze(-1) * (U.mT @ Bm))
        if driver in ("gelsd", "gelss"):
            singular_values = S
    residuals = empty
    if m > n and full_rank and driver != "gelsy":
        residuals = ((A @ X - Bm) ** 2).sum(-2)  # (*, k); a vector right-hand side keeps k = 1, as torch
    return LstsqResult(X.squeeze(-1) if vector else X, residuals, rank, singular_values)
