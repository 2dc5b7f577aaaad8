// svd and pinv on CUDA: cusolverDnXgesvd (64-bit API, QR iteration; the CPU's LAPACK uses gesdd, divide and
// conquer), with the CPU kernels' checks, messages and results (kernels/cpu/linalg_factor.cpp). Singular values
// descending; the vectors are unique only up to sign (and within repeated values), so they agree with the
// CPU's as bases, not column by column. pinv is the CPU's composition over them, on the device.
//
// Layout: cuSOLVER's gesvd takes only rows >= cols. A tall (or square) A is copied column-major and its
// factors U and V^T come back column-major: one transposing copy each. A wide A's row-major copy is A^T
// column-major, which is tall: A^T = U' S V'^T gives A = V' S U'^T, and V'^T column-major read row-major is
// V' = U, U' column-major read row-major is U'^T = Vh, so a wide A needs no copy back at all.
// Non-finite input raises LinAlgError as on the CPU: such a matrix is replaced by zeros before gesvd and its
// info set to -1 after, in the one read back of info.
#include <algorithm>
#include <optional>
#include <string>
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

Shape with_matrix(Shape batch, int64_t rows, int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

// The rows x cols identity (or its top-left block) for every matrix of `batch`.
Tensor batched_eye(const Shape& batch, int64_t rows, int64_t cols, DType dtype, Device dev) {
  Tensor out = Tensor::empty(with_matrix(batch, rows, cols), dtype, dev);
  if (out.numel() > 0) hy::cuda::copy_into(out, ops::eye(rows, cols, dtype, dev));
  return out;
}

// 1 / v for the values pinv keeps (|v| > max(atol, rtol * max |v|) within each row of `values`), else 0; the
// threshold in float64, as the CPU compares.
Tensor kept_reciprocals(const Tensor& values, double atol, double rtol) {
  const Tensor mag = ops::abs(ops::to_dtype(values, DType::Float64));
  const Tensor largest = ops::amax(mag, DimVector{-1}, true);
  const Tensor tol = ops::maximum(ops::mul(largest, wrapped_number_tensor(Scalar(rtol))),
                                  wrapped_number_tensor(Scalar(atol)));
  return ops::where(ops::gt(mag, tol), ops::reciprocal(values), wrapped_number_tensor(Scalar(0.0)));
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor> linalg_svd(const Tensor& A, bool full_matrices, bool compute_uv) {
  const char* op = "linalg.svd";
  hy::cpu::linalg_check_matrix(A, op, "A", false);
  const Device dev = A.device();
  const DType dt = A.dtype();
  const int64_t m = A.shape()[A.dim() - 2], n = A.shape()[A.dim() - 1], k = std::min(m, n);
  const int64_t u_cols = full_matrices ? m : k, vt_rows = full_matrices ? n : k;
  const Shape batch(A.shape().begin(), A.shape().end() - 2);
  const int64_t count = shape_numel(batch);
  Shape s_shape = batch;
  s_shape.push_back(k);
  Tensor S = Tensor::empty(s_shape, dt, dev);
  const Tensor none = Tensor::empty({0}, dt, dev);
  if (count == 0) {
    return {compute_uv ? Tensor::empty(with_matrix(batch, m, u_cols), dt, dev) : none, S,
            compute_uv ? Tensor::empty(with_matrix(batch, vt_rows, n), dt, dev) : none};
  }
  if (k == 0) {  // no singular values: U and Vh are identities (full) or empty
    if (!compute_uv) return {none, S, none};
    return {batched_eye(batch, m, u_cols, dt, dev), S, batched_eye(batch, vt_rows, n, dt, dev)};
  }
  const Tensor finite = ops::all(ops::isfinite(A), DimVector{-2, -1}, true);  // (..., 1, 1)
  const Tensor clean = ops::where(finite, A, wrapped_number_tensor(Scalar(0.0)));
  // gesvd factors M = A (tall) or A^T (wide), rows >= cols, M = Um diag(S) VmT.
  const bool tall = m >= n;
  const int64_t rows = tall ? m : n, cols = tall ? n : m;
  const int64_t um_cols = full_matrices ? rows : cols;  // VmT is cols x cols either way
  const Tensor a = tall ? column_major_copy(clean) : row_major_copy(clean);
  Tensor um, vmt;  // column-major buffers: (..., um_cols, rows) and (..., cols, cols)
  if (compute_uv) {
    um = Tensor::empty(with_matrix(batch, um_cols, rows), dt, dev);
    vmt = Tensor::empty(with_matrix(batch, cols, cols), dt, dev);
  }
  const Tensor info = info_array(count, dev);
  {
    const SolverHandle s = solver_for(dev);
    const cudaDataType t = data_type(dt);
    const signed char job = !compute_uv ? 'N' : full_matrices ? 'A' : 'S';
    void* u0 = compute_uv ? um.raw_data() : nullptr;
    void* v0 = compute_uv ? vmt.raw_data() : nullptr;
    size_t dev_bytes = 0, host_bytes = 0;
    HY_CUSOLVER_CHECK(cusolverDnXgesvd_bufferSize(s.handle, s.params, job, job, rows, cols, t, a.raw_data(), rows, t,
                                                  S.raw_data(), t, u0, rows, t, v0, cols, t, &dev_bytes,
                                                  &host_bytes));
    const Tensor work = workspace(dev_bytes, dev);
    std::vector<char> host_work(host_bytes);
    // One call per matrix in stream order (docs/cuda.md, "Linear algebra", says why not gesvdjBatched).
    for (int64_t b = 0; b < count; ++b)
      HY_CUSOLVER_CHECK(cusolverDnXgesvd(
          s.handle, s.params, job, job, rows, cols, t, matrix_ptr(a, b, rows * cols), rows, t, matrix_ptr(S, b, k), t,
          compute_uv ? matrix_ptr(um, b, um_cols * rows) : nullptr, rows, t,
          compute_uv ? matrix_ptr(vmt, b, cols * cols) : nullptr, cols, t, work.raw_data(), dev_bytes,
          host_work.data(), host_bytes, info_ptr(info, b)));
  }
  const Tensor finite_flat = ops::reshape(finite, DimVector{count});
  const Tensor info_or_refused = ops::where(finite_flat, info, wrapped_number_tensor(Scalar(int64_t{-1})));
  hy::cpu::linalg_raise_first_failure(read_info(info_or_refused), A, op, LinAlgFailure::LinAlgFailure_SvdNoConvergence);
  if (!compute_uv) return {none, S, none};
  if (!tall) return {vmt, S, um};  // read row-major: V'^T -> V' = U (m x m), U' -> U'^T = Vh (vt_rows x n)
  return {row_major_copy(ops::transpose(um, -2, -1)), S, row_major_copy(ops::transpose(vmt, -2, -1))};
}

// kernels_eigh.cpp's kernel (pinv of a hermitian matrix).
std::tuple<Tensor, Tensor> linalg_eigh(const Tensor& A, const std::string& UPLO, bool compute_v);

Tensor linalg_pinv(const Tensor& A, std::optional<double> atol, std::optional<double> rtol, bool hermitian) {
  const char* op = "linalg.pinv";
  hy::cpu::linalg_check_matrix(A, op, "A", hermitian);
  const auto [abs_tol, rel_tol] = hy::cpu::linalg_pinv_tolerances(A, atol, rtol);
  const int64_t m = A.shape()[A.dim() - 2], n = A.shape()[A.dim() - 1];
  if (A.numel() == 0) {
    return ops::zeros(with_matrix(Shape(A.shape().begin(), A.shape().end() - 2), n, m), A.dtype(), A.device());
  }
  if (hermitian) {  // A = V diag(L) V^T: A^+ = V diag(1 / L kept) V^T
    auto [L, V] = linalg_eigh(A, "L", true);
    const Tensor inv = kept_reciprocals(L, abs_tol, rel_tol);
    return ops::matmul(ops::mul(V, ops::unsqueeze(inv, -2)), ops::transpose(V, -2, -1));
  }
  auto [U, S, Vh] = linalg_svd(A, false, true);  // A^+ = V diag(1 / S kept) U^T
  const Tensor inv = kept_reciprocals(S, abs_tol, rel_tol);
  return ops::matmul(ops::mul(ops::transpose(Vh, -2, -1), ops::unsqueeze(inv, -2)), ops::transpose(U, -2, -1));
}

}  // namespace hy::kernels::cuda
