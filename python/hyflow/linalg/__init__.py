"""hy.linalg: torch.linalg's functions (docs/linalg.md).

The decompositions and solvers are op-table ops (csrc/ops/table/linalg_decomp.yaml: LAPACK kernels in
csrc/kernels/cpu/linalg_solve.cpp and linalg_factor.cpp, backward formulas in
csrc/autograd/linalg_backward.cpp); this package adds
torch's calling conventions and the functions that are compositions of ops (norms, lstsq, matrix_power,
products). Real float32/float64 matrices; complex ones raise TypeError.
"""
from .._C import LinAlgError
from ._decompositions import (inv, det, slogdet, solve, solve_triangular, cholesky, qr, eigh, eigvalsh, svd,
                              svdvals, pinv, matrix_rank, cond, lstsq)
from ._norms import vector_norm, matrix_norm, norm
from ._products import matmul, matrix_power, cross, vecdot, multi_dot

LinAlgError.__module__ = __name__

__all__ = ["LinAlgError", "inv", "det", "slogdet", "solve", "solve_triangular", "cholesky", "qr", "eigh", "eigvalsh",
           "svd", "svdvals", "pinv", "matrix_rank", "cond", "lstsq", "vector_norm", "matrix_norm", "norm", "matmul",
           "matrix_power", "cross", "vecdot", "multi_dot"]
