// The argument checks and failure messages of the matrix decompositions and solvers
// (csrc/ops/table/linalg_decomp.yaml), shared by the LAPACK kernels (linalg_solve.cpp, linalg_factor.cpp) and
// the cuSOLVER ones (csrc/cuda/cusolver/), so both devices raise the same exception with the same words.
// Defined once in the core (linalg_checks.cpp).
//
//   hy::cpu::linalg_check_matrix(A, "linalg.inv", "A", /*square=*/true);
//   ... factor, one info value per matrix ...
//   hy::cpu::linalg_raise_first_failure(info, A, "linalg.inv", LinAlgFailure::LinAlgFailure_SingularInverse);
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace hy::cpu {

/// hy.linalg's matrix arguments: a float32/float64 tensor (TypeError), at least 2 dims and, when `square`,
/// square matrices (ValueError). Messages name the function as torch's do ("linalg.inv").
void linalg_check_matrix(const Tensor& A, const char* op, const char* arg, bool square);
/// RuntimeError unless A and B have the same dtype (a solver does not promote).
void linalg_check_same_dtype(const Tensor& A, const Tensor& B, const char* op);
/// ValueError unless B (br x bc) fits the equation A X = B (left: br == n) or X A = B (bc == n).
void linalg_check_solve_shapes(const char* op, int64_t n, int64_t br, int64_t bc, bool left);
/// A and B with their batch dims broadcast against each other (views, no copy); ValueError naming both.
std::pair<Tensor, Tensor> linalg_broadcast_batches(const Tensor& A, const Tensor& B, const char* op);
/// ValueError unless qr's mode is 'reduced', 'complete' or 'r'.
void linalg_check_qr_mode(const std::string& mode);
/// ValueError unless eigh's UPLO is 'L' or 'U'.
void linalg_check_uplo(const std::string& UPLO);
/// pinv's (absolute, relative) tolerances: atol and rtol checked non-negative (ValueError); torch's
/// default rtol = eps * max(m, n) unless only a positive atol is given.
std::pair<double, double> linalg_pinv_tolerances(const Tensor& A, std::optional<double> atol,
                                                 std::optional<double> rtol);

/// What a decomposition's per-matrix info value reports (linalg_raise_first_failure's sentence).
enum class LinAlgFailure {
  LinAlgFailure_SingularInverse,      // getrf: zero pivot k, in linalg.inv
  LinAlgFailure_SingularSolve,        // getrf: zero pivot, in linalg.solve
  LinAlgFailure_NotPositiveDefinite,  // potrf: the leading minor of order k
  LinAlgFailure_EighNoConvergence,    // syevd: error code k
  LinAlgFailure_SvdNoConvergence,     // gesdd/gesvd: error code k; -1 a non-finite input
};
/// LinAlgError with torch's sentence for the first nonzero entry of `info` (one per matrix of A's batch,
/// prefixed "(Batch element b): " when A is batched); nothing when every entry is 0.
void linalg_raise_first_failure(const std::vector<int>& info, const Tensor& A, const char* op, LinAlgFailure kind);

}  // namespace hy::cpu
