// eigh on CUDA: the symmetric eigensolver (cusolverDnXsyevd, 64-bit API, divide and conquer like the CPU's
// LAPACK syevd), with the CPU kernel's checks, messages and results (kernels/cpu/linalg_factor.cpp).
// Eigenvalues ascending; eigenvectors are unique only up to sign (and within repeated eigenvalues), so they
// agree with the CPU's as a basis, not column by column.
//
// Layout: the row-major copy of A read column-major is A^T, whose upper triangle is A's lower one transposed,
// so syevd reads the triangle UPLO names when given the other one. The eigenvectors come back as the columns
// of a column-major matrix, which read row-major is V^T: one transposing copy.
// A matrix with NaN/inf in the triangle read gives NaN values and vectors, as on the CPU: it is replaced by
// zeros before syevd (which then never sees a non-finite entry) and its results by NaN after.
#include <cmath>
#include <string>
#include <tuple>
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

std::tuple<Tensor, Tensor> linalg_eigh(const Tensor& A, const std::string& UPLO, bool compute_v) {
  const char* op = "linalg.eigh";
  hy::cpu::linalg_check_uplo(UPLO);
  hy::cpu::linalg_check_matrix(A, op, "A", true);
  const Device dev = A.device();
  const int64_t n = A.shape()[A.dim() - 1];
  const Shape batch(A.shape().begin(), A.shape().end() - 2);
  const int64_t count = shape_numel(batch);
  Shape w_shape = batch;
  w_shape.push_back(n);
  Tensor W = Tensor::empty(w_shape, A.dtype(), dev);
  Tensor V = compute_v ? Tensor::empty(A.shape(), A.dtype(), dev) : Tensor::empty({0}, A.dtype(), dev);
  if (W.numel() == 0) return {W, V};  // an empty batch or 0x0 matrices: nothing to launch
  const bool lower = UPLO == "L";
  // finite: (..., 1, 1) per matrix, over the triangle syevd reads.
  const Tensor finite = ops::all(ops::isfinite(lower ? ops::tril(A, 0) : ops::triu(A, 0)), DimVector{-2, -1}, true);
  const Tensor zero = wrapped_number_tensor(Scalar(0.0));
  const Tensor a = row_major_copy(ops::where(finite, A, zero));  // A^T column-major
  const Tensor info = info_array(count, dev);
  {
    const SolverHandle s = solver_for(dev);
    const cudaDataType t = data_type(A.dtype());
    const cusolverEigMode_t jobz = compute_v ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
    const cublasFillMode_t uplo = lower ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
    size_t dev_bytes = 0, host_bytes = 0;
    HY_CUSOLVER_CHECK(cusolverDnXsyevd_bufferSize(s.handle, s.params, jobz, uplo, n, t, a.raw_data(), n, t,
                                                  W.raw_data(), t, &dev_bytes, &host_bytes));
    const Tensor work = workspace(dev_bytes, dev);
    std::vector<char> host_work(host_bytes);
    // One call per matrix in stream order (docs/cuda.md, "Linear algebra", says why not syevjBatched).
    for (int64_t b = 0; b < count; ++b)
      HY_CUSOLVER_CHECK(cusolverDnXsyevd(s.handle, s.params, jobz, uplo, n, t, matrix_ptr(a, b, n * n), n, t,
                                         matrix_ptr(W, b, n), t, work.raw_data(), dev_bytes, host_work.data(),
                                         host_bytes, info_ptr(info, b)));
  }
  const Tensor finite_flat = ops::reshape(finite, DimVector{count});
  const Tensor nan = wrapped_number_tensor(Scalar(static_cast<double>(NAN)));
  // A matrix replaced by zeros reports no failure; the others' info is read back (the call's one synchronization).
  const Tensor info_kept = ops::where(finite_flat, info, wrapped_number_tensor(Scalar(int64_t{0})));
  hy::cpu::linalg_raise_first_failure(read_info(info_kept), A, op, LinAlgFailure::LinAlgFailure_EighNoConvergence);
  W = ops::where(ops::squeeze(finite, DimVector{-1}), W, nan);
  if (compute_v) V = ops::where(finite, ops::transpose(a, -2, -1), nan);
  return {W, V};
}

}  // namespace hy::kernels::cuda
