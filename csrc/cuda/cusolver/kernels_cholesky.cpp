// cholesky on CUDA (cusolverDnXpotrf, 64-bit API), with the CPU kernel's checks, messages and results
// (kernels/cpu/linalg_factor.cpp).
//
// Layout without transposes: the row-major copy of A read column-major is A^T, whose upper triangle is A's
// lower one transposed, so potrf with the triangle flipped factors the same symmetric matrix: A = L L^T read
// as upper gives U = L^T column-major, which read row-major is L itself (and likewise for upper=True).
// A NaN pivot counts as a failure at its order, as reference LAPACK's potrf (and so the CPU kernel) reports
// it, whatever cuSOLVER does with it.
#include <algorithm>
#include <vector>

#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "cuda/cusolver/solver_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/linalg_checks.h"

namespace hy::kernels::cuda {

using hy::cpu::LinAlgFailure;
using namespace hy::cuda::solver;  // NOLINT(google-build-using-namespace): this file's vocabulary

Tensor linalg_cholesky(const Tensor& A, bool upper) {
  const char* op = "linalg.cholesky";
  hy::cpu::linalg_check_matrix(A, op, "A", true);
  const Device dev = A.device();
  const int64_t n = A.shape()[A.dim() - 1];
  const int64_t count = shape_numel(Shape(A.shape().begin(), A.shape().end() - 2));
  Tensor a = row_major_copy(A);
  if (a.numel() == 0) return a;
  const Tensor info = info_array(count, dev);
  const SolverHandle s = solver_for(dev);
  const cudaDataType t = data_type(A.dtype());
  const cublasFillMode_t uplo = upper ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
  size_t dev_bytes = 0, host_bytes = 0;
  HY_CUSOLVER_CHECK(cusolverDnXpotrf_bufferSize(s.handle, s.params, uplo, n, t, a.raw_data(), n, t, &dev_bytes,
                                                &host_bytes));
  const Tensor work = workspace(dev_bytes, dev);
  std::vector<char> host_work(host_bytes);
  // One call per matrix in stream order (docs/cuda.md, "Linear algebra", says why not potrfBatched).
  for (int64_t b = 0; b < count; ++b)
    HY_CUSOLVER_CHECK(cusolverDnXpotrf(s.handle, s.params, uplo, n, t, matrix_ptr(a, b, n * n), n, t,
                                       work.raw_data(), dev_bytes, host_work.data(), host_bytes, info_ptr(info, b)));
  // The order of each matrix's first NaN pivot (0 when none), computed beside info and read back with it.
  const Tensor diag = ops::as_strided(a, DimVector{count, n}, DimVector{n * n, n + 1}, 0);
  const Tensor nan = ops::isnan(diag);
  const Tensor first_nan = ops::where(ops::any(nan, DimVector{-1}),
                                      ops::add(ops::argmax(ops::to_dtype(nan, DType::Int32), -1, false),
                                               wrapped_number_tensor(Scalar(int64_t{1}))),
                                      wrapped_number_tensor(Scalar(int64_t{0})));
  const std::vector<int> both = read_info(ops::cat({info, ops::to_dtype(first_nan, DType::Int32)}, 0));
  std::vector<int> order(static_cast<size_t>(count));
  for (size_t b = 0; b < order.size(); ++b) {
    const int potrf = both[b], nan_at = both[order.size() + b];
    order[b] = potrf > 0 && nan_at > 0 ? std::min(potrf, nan_at) : std::max(potrf, nan_at);
  }
  hy::cpu::linalg_raise_first_failure(order, A, op, LinAlgFailure::LinAlgFailure_NotPositiveDefinite);
  return upper ? ops::triu(a, 0) : ops::tril(a, 0);  // potrf leaves the other triangle as it found it
}

}  // namespace hy::kernels::cuda
