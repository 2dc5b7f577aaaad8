// The argument checks of the matrix decompositions and solvers (csrc/ops/table/linalg_decomp.yaml), defined
// once in the core and called by the LAPACK kernels (linalg_solve.cpp, linalg_factor.cpp) and the cuSOLVER
// ones (csrc/cuda/cusolver/), so both devices raise the same exception with the same words.
#include <algorithm>
#include <limits>

#include "core/linalg_error.h"
#include "core/shape_util.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/linalg_checks.h"

namespace hy::cpu {
namespace {

int64_t rows_of(const Tensor& t) { return t.shape()[t.dim() - 2]; }
int64_t cols_of(const Tensor& t) { return t.shape()[t.dim() - 1]; }
Shape batch_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

}  // namespace

void linalg_check_matrix(const Tensor& A, const char* op, const char* arg, bool square) {
  check_defined(A, op, arg);
  HY_CHECK(A.dtype() == DType::Float32 || A.dtype() == DType::Float64, TypeError, op, ": expected ", arg,
           " to be a float32 or float64 tensor, got ", A.describe(),
           (dtype_is_complex(A.dtype()) ? " (complex matrices are not supported yet)"
            : dtype_is_floating(A.dtype()) ? " (convert it with .float() first)" : ""));
  HY_CHECK(A.dim() >= 2, ValueError, op, ": the input tensor ", arg, " must have at least 2 dimensions, got ",
           A.describe());
  HY_CHECK(!square || rows_of(A) == cols_of(A), ValueError, op, ": ", arg,
           " must be batches of square matrices, but they are ", rows_of(A), " by ", cols_of(A), " matrices");
}

void linalg_check_same_dtype(const Tensor& A, const Tensor& B, const char* op) {
  HY_CHECK(A.dtype() == B.dtype(), RuntimeError, op, ": expected A and B to have the same dtype, but found A of type ",
           dtype_name(A.dtype()), " and B of type ", dtype_name(B.dtype()), " instead");
}

void linalg_check_solve_shapes(const char* op, int64_t n, int64_t br, int64_t bc, bool left) {
  HY_CHECK((left ? br : bc) == n, ValueError, op, ": incompatible shapes of A and B for the equation ",
           left ? "AX = B (" : "XA = B (", n, "x", n, " and ", br, "x", bc, ")");
}

std::pair<Tensor, Tensor> linalg_broadcast_batches(const Tensor& A, const Tensor& B, const char* op) {
  Shape batch;
  try {
    batch = broadcast_shapes(batch_of(A), batch_of(B));
  } catch (const ValueError&) {
    throw ValueError(str(op, ": the batch dimensions of A ", A.describe(), " and B ", B.describe(),
                         " cannot be broadcast together"));
  }
  Shape a_shape = batch, b_shape = batch;
  a_shape.push_back(rows_of(A));
  a_shape.push_back(cols_of(A));
  b_shape.push_back(rows_of(B));
  b_shape.push_back(cols_of(B));
  return {ops::expand(A, a_shape), ops::expand(B, b_shape)};
}

void linalg_check_qr_mode(const std::string& mode) {
  HY_CHECK(mode == "reduced" || mode == "complete" || mode == "r", ValueError, "linalg.qr: mode must be 'reduced', "
           "'complete' or 'r', got '", mode, "'");
}

void linalg_check_uplo(const std::string& UPLO) {
  HY_CHECK(UPLO == "L" || UPLO == "U", ValueError, "linalg.eigh: UPLO must be 'L' or 'U', got '", UPLO, "'");
}

std::pair<double, double> linalg_pinv_tolerances(const Tensor& A, std::optional<double> atol,
                                                 std::optional<double> rtol) {
  const char* op = "linalg.pinv";
  HY_CHECK(!atol || *atol >= 0, ValueError, op, ": atol must be non-negative, got ", *atol);
  HY_CHECK(!rtol || *rtol >= 0, ValueError, op, ": rtol must be non-negative, got ", *rtol);
  const int64_t m = rows_of(A), n = cols_of(A);
  const double eps = A.dtype() == DType::Float32 ? std::numeric_limits<float>::epsilon()
                                                 : std::numeric_limits<double>::epsilon();
  const double abs_tol = atol.value_or(0.0);
  const double rel_tol = rtol ? *rtol : (atol && *atol > 0 ? 0.0 : eps * static_cast<double>(std::max(m, n)));
  return {abs_tol, rel_tol};
}

namespace {

std::string failure_sentence(LinAlgFailure kind, int info) {
  switch (kind) {
    case LinAlgFailure::LinAlgFailure_SingularInverse:
      return str("The diagonal element ", info, " is zero, the inversion could not be completed because the input "
                 "matrix is singular.");
    case LinAlgFailure::LinAlgFailure_SingularSolve:
      return "The solver failed because the input matrix is singular.";
    case LinAlgFailure::LinAlgFailure_NotPositiveDefinite:
      return str("The factorization could not be completed because the input is not positive-definite (the "
                 "leading minor of order ", info, " is not positive-definite).");
    case LinAlgFailure::LinAlgFailure_EighNoConvergence:
      return str("The algorithm failed to converge because the input matrix is ill-conditioned or has too many "
                 "repeated eigenvalues (error code: ", info, ").");
    case LinAlgFailure::LinAlgFailure_SvdNoConvergence:
      if (info < 0) return "The algorithm failed to converge because the input matrix contained non-finite values.";
      return str("The algorithm failed to converge because the input matrix is ill-conditioned or has too many "
                 "repeated singular values (error code: ", info, ").");
  }
  return "";
}

}  // namespace

void linalg_raise_first_failure(const std::vector<int>& info, const Tensor& A, const char* op, LinAlgFailure kind) {
  for (size_t b = 0; b < info.size(); ++b) {
    if (info[b] == 0) continue;
    const std::string where = A.dim() > 2 ? str("(Batch element ", b, "): ") : std::string();
    throw LinAlgError(str(op, ": ", where, failure_sentence(kind, info[b])));
  }
}

}  // namespace hy::cpu
