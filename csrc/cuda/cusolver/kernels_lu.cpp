// inv, det, slogdet and solve on CUDA from the LU factorization (cusolverDnXgetrf / Xgetrs, 64-bit API), with
// the CPU kernels' checks, messages and results (kernels/cpu/linalg_solve.cpp).
//
// Layout: each matrix is copied column-major (cuSOLVER's layout) into a fresh buffer, which getrf overwrites
// with its factors, so the factorization and its zero pivots are the CPU's (LAPACK factors the same matrix).
// inv solves A^T Y = I (getrs with trans = T): Y = inv(A)^T column-major is inv(A) row-major, so the result
// needs no copy back. solve's right-hand sides go column-major in and come back through one transposing copy.
// det/slogdet compose device ops over the factors (the diagonal, the pivots' parity): no host round trip.
#include <cmath>
#include <tuple>
#include <vector>

#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "cuda/cusolver/solver_internal.h"
#include "cuda/glue_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/linalg_checks.h"

namespace hy::kernels::cuda {
namespace {

using namespace hy::cuda::solver;  // NOLINT(google-build-using-namespace): this file's vocabulary
using hy::cpu::LinAlgFailure;

Shape batch_shape(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

// The LU factors of every matrix of a batch of n x n matrices (n > 0, at least one matrix): `a` holds them
// column-major, ipiv (count, n) their 1-based row swaps, info (count) getrf's per-matrix info (k > 0: U(k, k)
// is exactly zero; the factorization is completed anyway, as LAPACK's).
struct LuFactors {
  Tensor a, ipiv, info;
  int64_t n, count;
};

LuFactors lu_factor(const Tensor& A) {
  const Device dev = A.device();
  const int64_t n = A.shape()[A.dim() - 1];
  const int64_t count = shape_numel(batch_shape(A));
  LuFactors f{column_major_copy(A), Tensor::empty({count, n}, DType::Int64, dev), info_array(count, dev), n, count};
  const SolverHandle s = solver_for(dev);
  const cudaDataType t = data_type(A.dtype());
  size_t dev_bytes = 0, host_bytes = 0;
  HY_CUSOLVER_CHECK(cusolverDnXgetrf_bufferSize(s.handle, s.params, n, n, t, f.a.raw_data(), n, t, &dev_bytes,
                                                &host_bytes));
  const Tensor work = workspace(dev_bytes, dev);
  std::vector<char> host_work(host_bytes);
  int64_t* ipiv = f.ipiv.data<int64_t>();
  // One call per matrix in stream order, sharing one workspace (cuSOLVER has no strided-batch getrf; see
  // docs/cuda.md, "Linear algebra").
  for (int64_t b = 0; b < count; ++b)
    HY_CUSOLVER_CHECK(cusolverDnXgetrf(s.handle, s.params, n, n, t, matrix_ptr(f.a, b, n * n), n, ipiv + b * n, t,
                                       work.raw_data(), dev_bytes, host_work.data(), host_bytes,
                                       info_ptr(f.info, b)));
  return f;
}

// Solves op(A_b) X_b = B_b in place for every matrix b, from the factors; B dense column-major, nrhs columns.
void lu_solve(const LuFactors& f, cublasOperation_t trans, const Tensor& B, int64_t nrhs) {
  const Device dev = B.device();
  const SolverHandle s = solver_for(dev);
  const cudaDataType t = data_type(B.dtype());
  const Tensor scratch_info = info_array(1, dev);  // getrs reports only bad arguments: written, never read
  const int64_t* ipiv = f.ipiv.data<int64_t>();
  for (int64_t b = 0; b < f.count; ++b)
    HY_CUSOLVER_CHECK(cusolverDnXgetrs(s.handle, s.params, trans, f.n, nrhs, t, matrix_ptr(f.a, b, f.n * f.n), f.n,
                                       ipiv + b * f.n, t, matrix_ptr(B, b, f.n * nrhs), f.n,
                                       info_ptr(scratch_info, 0)));
}

Tensor number(double v) { return wrapped_number_tensor(Scalar(v)); }
Tensor integer(int64_t v) { return wrapped_number_tensor(Scalar(v)); }

// (-1)^(row swaps) of each matrix, in the dtype of the matrices: (count) from ipiv (count, n).
Tensor pivot_sign(const LuFactors& f, DType dtype) {
  const Tensor expected = ops::arange(Scalar(int64_t{1}), Scalar(f.n + 1), Scalar(int64_t{1}), DType::Int64,
                                      f.ipiv.device());
  const Tensor swaps = ops::sum(ops::ne(f.ipiv, expected), DimVector{-1}, false, DType::Int64);
  const Tensor odd = ops::ne(ops::remainder(swaps, integer(2)), integer(0));
  return ops::to_dtype(ops::where(odd, number(-1.0), number(1.0)), dtype);
}

}  // namespace

Tensor linalg_inv(const Tensor& A) {
  const char* op = "linalg.inv";
  hy::cpu::linalg_check_matrix(A, op, "A", true);
  Tensor out = Tensor::empty(A.shape(), A.dtype(), A.device());
  if (out.numel() == 0) return out;  // an empty batch or 0x0 matrices: nothing to launch
  const LuFactors f = lu_factor(A);
  hy::cuda::copy_into(out, ops::eye(f.n, f.n, A.dtype(), A.device()));
  lu_solve(f, CUBLAS_OP_T, out, f.n);  // A^T Y = I: Y column-major is inv(A) row-major
  hy::cpu::linalg_raise_first_failure(read_info(f.info), A, op, LinAlgFailure::LinAlgFailure_SingularInverse);
  return out;
}

namespace {

// (sign, log|det|) and det of each matrix from its LU factors, on the device: det = (-1)^(row swaps) *
// prod(diag U). A zero pivot (info > 0) gives det 0, sign 0, log|det| -inf, as on the CPU.
struct Determinants {
  Tensor det, sign, logabs;
};

Determinants lu_determinants(const Tensor& A, bool want_det) {
  const Shape batch = batch_shape(A);
  const int64_t n = A.shape()[A.dim() - 1];
  const DType dt = A.dtype();
  if (shape_numel(batch) == 0 || n == 0) {  // empty products: det 1, sign 1, log|det| 0
    return {ops::ones(batch, dt, A.device()), ops::ones(batch, dt, A.device()), ops::zeros(batch, dt, A.device())};
  }
  const LuFactors f = lu_factor(A);
  const Tensor diag = ops::as_strided(f.a, DimVector{f.count, n}, DimVector{n * n, n + 1}, 0);
  const Tensor perm = pivot_sign(f, dt);
  const Tensor singular = ops::gt(f.info, integer(0));
  Determinants d;
  if (want_det) {
    d.det = ops::mul(perm, ops::prod(diag, DimVector{-1}));
    d.det = ops::reshape(ops::where(singular, number(0.0), d.det), batch);
  } else {
    d.sign = ops::mul(perm, ops::prod(ops::sign(diag), DimVector{-1}));
    d.logabs = ops::sum(ops::log(ops::abs(diag)), DimVector{-1});
    d.sign = ops::reshape(ops::where(singular, number(0.0), d.sign), batch);
    d.logabs = ops::reshape(ops::where(singular, number(-INFINITY), d.logabs), batch);
  }
  return d;
}

}  // namespace

Tensor linalg_det(const Tensor& A) {
  hy::cpu::linalg_check_matrix(A, "linalg.det", "A", true);
  return lu_determinants(A, true).det;
}

std::tuple<Tensor, Tensor> linalg_slogdet(const Tensor& A) {
  hy::cpu::linalg_check_matrix(A, "linalg.slogdet", "A", true);
  Determinants d = lu_determinants(A, false);
  return {d.sign, d.logabs};
}

Tensor linalg_solve(const Tensor& A, const Tensor& B) {
  const char* op = "linalg.solve";
  hy::cpu::linalg_check_matrix(A, op, "A", true);
  hy::cpu::linalg_check_matrix(B, op, "B", false);
  hy::cpu::linalg_check_same_dtype(A, B, op);
  const int64_t n = A.shape()[A.dim() - 1], k = B.shape()[B.dim() - 1];
  hy::cpu::linalg_check_solve_shapes(op, n, B.shape()[B.dim() - 2], k, /*left=*/true);
  auto [Ab, Bb] = hy::cpu::linalg_broadcast_batches(A, B, op);
  if (Bb.numel() == 0) return Tensor::empty(Bb.shape(), A.dtype(), A.device());
  const LuFactors f = lu_factor(Ab);
  Tensor x = column_major_copy(Bb);  // (..., k, n): B column-major, overwritten with X
  lu_solve(f, CUBLAS_OP_N, x, k);
  hy::cpu::linalg_raise_first_failure(read_info(f.info), Ab, op, LinAlgFailure::LinAlgFailure_SingularSolve);
  return row_major_copy(ops::transpose(x, -2, -1));
}

}  // namespace hy::kernels::cuda
