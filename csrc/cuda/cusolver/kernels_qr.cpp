// qr on CUDA: Householder QR (cusolverDnXgeqrf, 64-bit API) and Q from its reflectors (cusolverDn<t>orgqr;
// cuSOLVER has no 64-bit orgqr, so dims must fit an int), with the CPU kernel's modes, checks and results
// (kernels/cpu/linalg_factor.cpp). geqrf's reflectors follow LAPACK's convention, so Q and R equal the CPU's
// to rounding (not only up to signs).
//
// Layout: A is copied column-major (m x n, leading dim m); R is the upper triangle of its first rows, read back
// through a transposing view; Q is built column-major in its own buffer (the first k columns the reflectors,
// the rest zero, as LAPACK's orgqr wants them) and copied back transposed.
#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "core/shape_util.h"
#include "cuda/cusolver/solver_internal.h"
#include "cuda/glue_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/linalg_checks.h"

namespace hy::kernels::cuda {
namespace {

using namespace hy::cuda::solver;  // NOLINT(google-build-using-namespace): this file's vocabulary

Shape with_matrix(Shape batch, int64_t rows, int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

// Q from the reflectors in q (count matrices, m x q_cols column-major, reflectors in the first k columns).
template <typename T>
void orgqr_all(const Tensor& q, const Tensor& tau, int64_t count, int m, int q_cols, int k) {
  const Device dev = q.device();
  const SolverHandle s = solver_for(dev);
  T* qp = q.data<T>();
  const T* taup = tau.data<T>();
  int lwork = 0;
  if constexpr (sizeof(T) == 8)
    HY_CUSOLVER_CHECK(cusolverDnDorgqr_bufferSize(s.handle, m, q_cols, k, qp, m, taup, &lwork));
  else
    HY_CUSOLVER_CHECK(cusolverDnSorgqr_bufferSize(s.handle, m, q_cols, k, qp, m, taup, &lwork));
  const Tensor work = workspace(static_cast<size_t>(lwork) * sizeof(T), dev);
  const Tensor info = info_array(1, dev);  // orgqr reports only bad arguments: written, never read
  T* w = static_cast<T*>(work.raw_data());
  for (int64_t b = 0; b < count; ++b) {
    T* qb = qp + b * m * q_cols;
    if constexpr (sizeof(T) == 8)
      HY_CUSOLVER_CHECK(cusolverDnDorgqr(s.handle, m, q_cols, k, qb, m, taup + b * k, w, lwork, info_ptr(info, 0)));
    else
      HY_CUSOLVER_CHECK(cusolverDnSorgqr(s.handle, m, q_cols, k, qb, m, taup + b * k, w, lwork, info_ptr(info, 0)));
  }
}

}  // namespace

std::tuple<Tensor, Tensor> linalg_qr(const Tensor& A, const std::string& mode) {
  const char* op = "linalg.qr";
  hy::cpu::linalg_check_qr_mode(mode);
  hy::cpu::linalg_check_matrix(A, op, "A", false);
  const Device dev = A.device();
  const int64_t m = A.shape()[A.dim() - 2], n = A.shape()[A.dim() - 1], k = std::min(m, n);
  const bool complete = mode == "complete", want_q = mode != "r";
  const int64_t q_cols = complete ? m : k, r_rows = complete ? m : k;
  const Shape batch(A.shape().begin(), A.shape().end() - 2);
  const int64_t count = shape_numel(batch);
  if (count == 0 || k == 0) {  // nothing to factor: R is zero, Q the identity (or empty)
    Tensor Q = Tensor::empty({0}, A.dtype(), dev);
    if (want_q) {
      Q = Tensor::empty(with_matrix(batch, m, q_cols), A.dtype(), dev);
      if (Q.numel() > 0) hy::cuda::copy_into(Q, ops::eye(m, q_cols, A.dtype(), dev));
    }
    return {Q, ops::zeros(with_matrix(batch, r_rows, n), A.dtype(), dev)};
  }
  const Tensor a = column_major_copy(A);  // (..., n, m)
  const Tensor tau = Tensor::empty({count, k}, A.dtype(), dev);
  const Tensor info = info_array(1, dev);  // geqrf reports only bad arguments: written, never read
  {
    const SolverHandle s = solver_for(dev);
    const cudaDataType t = data_type(A.dtype());
    size_t dev_bytes = 0, host_bytes = 0;
    HY_CUSOLVER_CHECK(cusolverDnXgeqrf_bufferSize(s.handle, s.params, m, n, t, a.raw_data(), m, t, tau.raw_data(), t,
                                                  &dev_bytes, &host_bytes));
    const Tensor work = workspace(dev_bytes, dev);
    std::vector<char> host_work(host_bytes);
    // One call per matrix in stream order (docs/cuda.md, "Linear algebra").
    for (int64_t b = 0; b < count; ++b)
      HY_CUSOLVER_CHECK(cusolverDnXgeqrf(s.handle, s.params, m, n, t, matrix_ptr(a, b, m * n), m, t,
                                         matrix_ptr(tau, b, k), t, work.raw_data(), dev_bytes, host_work.data(),
                                         host_bytes, info_ptr(info, 0)));
  }
  // R: the upper triangle of the first r_rows rows (rows past k of a complete R are zero: below the diagonal).
  const Tensor R = ops::triu(ops::slice(ops::transpose(a, -2, -1), -2, 0, r_rows, 1), 0);
  if (!want_q) return {Tensor::empty({0}, A.dtype(), dev), R};
  // Q's buffer, column-major (..., q_cols, m): the k reflector columns, then zeros.
  const Tensor q = ops::zeros(with_matrix(batch, q_cols, m), A.dtype(), dev);
  hy::cuda::copy_into(ops::slice(q, -2, 0, k, 1), ops::slice(a, -2, 0, k, 1));
  const int mi = to_int(m, op), qi = to_int(q_cols, op), ki = to_int(k, op);
  if (A.dtype() == DType::Float64) orgqr_all<double>(q, tau, count, mi, qi, ki);
  else orgqr_all<float>(q, tau, count, mi, qi, ki);
  return {row_major_copy(ops::transpose(q, -2, -1)), R};
}

}  // namespace hy::kernels::cuda
