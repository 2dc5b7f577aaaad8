// solve_triangular on CUDA through cuBLAS's trsm, with the CPU kernel's checks and results
// (kernels/cpu/linalg_solve.cpp): no singularity check (a zero on the diagonal gives inf/nan, as torch).
//
// Layout without transposes: a dense row-major matrix read column-major is its transpose, so A X = B is solved
// as X^T A^T = B^T (side right) and X A = B as A^T X^T = B^T (side left), with the triangle flipped (A's upper
// triangle is A^T's lower one). The result starts as a row-major copy of B (its batch broadcast) and trsm
// overwrites it with X; A is read in place when its matrices are dense, each batch entry by its own offset,
// so a broadcast A is never copied per matrix.
#include <cublas_v2.h>

#include "core/shape_util.h"
#include "cuda/cusolver/solver_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/linalg_checks.h"

namespace hy::kernels::cuda {
namespace {

using namespace hy::cuda::solver;  // NOLINT(google-build-using-namespace): this file's vocabulary

// Element offset of batch entry b of `t` (its batch dims with their strides, broadcast ones 0).
int64_t batch_offset(const Tensor& t, int64_t b) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    const int64_t size = t.shape()[d];
    off += (b % size) * t.strides()[d];
    b /= size;
  }
  return off;
}

// Each matrix of `t` (last two dims) dense row-major, whatever its batch strides.
bool matrices_dense(const Tensor& t) {
  const int64_t rows = t.shape()[t.dim() - 2], cols = t.shape()[t.dim() - 1];
  return (t.strides()[t.dim() - 1] == 1 || cols == 1) && (t.strides()[t.dim() - 2] == cols || rows == 1);
}

template <typename T>
cublasStatus_t trsm(cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo, cublasDiagType_t diag, int m,
                    int n, const T* a, int lda, T* b, int ldb) {
  const T one = 1;
  if constexpr (sizeof(T) == 8)
    return cublasDtrsm(h, side, uplo, CUBLAS_OP_N, diag, m, n, &one, a, lda, b, ldb);
  else
    return cublasStrsm(h, side, uplo, CUBLAS_OP_N, diag, m, n, &one, a, lda, b, ldb);
}

template <typename T>
void solve_all(const Tensor& A, const Tensor& X, bool upper, bool left, bool unitriangular, const char* op) {
  const int64_t n = A.shape()[A.dim() - 1];
  const int64_t br = X.shape()[X.dim() - 2], bc = X.shape()[X.dim() - 1];
  const int64_t count = shape_numel(Shape(X.shape().begin(), X.shape().end() - 2));
  const int ni = to_int(n, op), m = to_int(bc, op), cols = to_int(br, op);
  cublasHandle_t h = blas_for(X.device());
  // Row-major buffers are the transposes: B^T is bc x br column-major (leading dim bc), A^T is n x n.
  const cublasSideMode_t side = left ? CUBLAS_SIDE_RIGHT : CUBLAS_SIDE_LEFT;
  const cublasFillMode_t uplo = upper ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
  const cublasDiagType_t diag = unitriangular ? CUBLAS_DIAG_UNIT : CUBLAS_DIAG_NON_UNIT;
  const T* a = A.data<T>();
  T* x = X.data<T>();
  // One call per matrix in stream order (see docs/cuda.md, "Linear algebra", for why not trsmBatched).
  for (int64_t b = 0; b < count; ++b)
    HY_SOLVER_CUBLAS_CHECK(trsm<T>(h, side, uplo, diag, m, cols, a + batch_offset(A, b), ni, x + b * br * bc, m));
}

}  // namespace

Tensor linalg_solve_triangular(const Tensor& A, const Tensor& B, bool upper, bool left, bool unitriangular) {
  const char* op = "linalg.solve_triangular";
  hy::cpu::linalg_check_matrix(A, op, "A", true);
  hy::cpu::linalg_check_matrix(B, op, "B", false);
  hy::cpu::linalg_check_same_dtype(A, B, op);
  const int64_t n = A.shape()[A.dim() - 1];
  hy::cpu::linalg_check_solve_shapes(op, n, B.shape()[B.dim() - 2], B.shape()[B.dim() - 1], left);
  auto [Ab, Bb] = hy::cpu::linalg_broadcast_batches(A, B, op);
  Tensor X = row_major_copy(Bb);
  if (X.numel() == 0) return X;
  // A's matrices read in place when dense (a broadcast batch keeps its zero strides); else one dense copy.
  const Tensor a = matrices_dense(Ab) ? Ab : row_major_copy(Ab);
  if (A.dtype() == DType::Float64) solve_all<double>(a, X, upper, left, unitriangular, op);
  else solve_all<float>(a, X, upper, left, unitriangular, op);
  return X;
}

}  // namespace hy::kernels::cuda
