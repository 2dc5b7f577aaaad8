// What the cuSOLVER kernels of hy.linalg (csrc/cuda/cusolver/kernels_*.cpp) share: the per-thread, per-device
// cuSOLVER and cuBLAS handles bound to the current stream, workspaces from the caching allocator, the
// column-major copies cuSOLVER factors, and reading the per-matrix `info` values back.
//
//   const Device dev = A.device();
//   Tensor a = column_major_copy(A);                      // (..., n, m) row-major == A column-major
//   Tensor info = info_array(count, dev);
//   SolverHandle s = solver_for(dev);                     // bound to dev's current stream
//   ... cusolverDnXpotrf(s.handle, s.params, ..., matrix_ptr(a, b), ..., info_ptr(info, b));
//   hy::cpu::linalg_raise_first_failure(read_info(info), A, "linalg.cholesky", ...);   // one synchronization
#pragma once
#include <cublas_v2.h>
#include <cusolverDn.h>

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace hy::cuda::solver {

/// Throws RuntimeError naming the failed call and cuSOLVER's status.
void check_cusolver(cusolverStatus_t status, const char* what);
/// Throws RuntimeError naming the failed call and cuBLAS's status.
void check_cublas(cublasStatus_t status, const char* what);

#define HY_CUSOLVER_CHECK(expr) ::hy::cuda::solver::check_cusolver((expr), #expr)
#define HY_SOLVER_CUBLAS_CHECK(expr) ::hy::cuda::solver::check_cublas((expr), #expr)

/// A cuSOLVER dense handle and its (default) parameters for the 64-bit API.
struct SolverHandle {
  cusolverDnHandle_t handle;
  cusolverDnParams_t params;
};

/// This thread's cuSOLVER handle for `device`, made current and bound to the device's current stream.
SolverHandle solver_for(Device device);
/// This thread's cuBLAS handle for `device` (the triangular solves), bound likewise.
cublasHandle_t blas_for(Device device);

/// cuSOLVER's name of float32 / float64.
cudaDataType data_type(DType dtype);

/// At least `bytes` of device memory from the caching allocator on the current stream, as a tensor: it goes
/// back to that stream's cache when the caller drops it, after the work already queued (stream order).
Tensor workspace(size_t bytes, Device device);
/// A new dense buffer holding A (..., m, n) column-major: a row-major (..., n, m) tensor equal to A^T. Always a
/// copy (the factorizations overwrite it), reading any strides and broadcast batch dims.
Tensor column_major_copy(const Tensor& A);
/// A new dense row-major copy of A (same shape).
Tensor row_major_copy(const Tensor& A);
/// `count` zeroed int32 info slots on `device`.
Tensor info_array(int64_t count, Device device);
/// The info values read back to the host: the call's one synchronization (the CPU's semantics, an exception
/// for a singular or non-positive-definite matrix, need the answer on the host).
std::vector<int> read_info(const Tensor& info);

/// Matrix b of a dense buffer of matrices of `matrix_numel` elements each.
inline void* matrix_ptr(const Tensor& dense, int64_t b, int64_t matrix_numel) {
  return static_cast<char*>(dense.raw_data()) + b * matrix_numel * dtype_itemsize(dense.dtype());
}
/// Info slot b.
inline int* info_ptr(const Tensor& info, int64_t b) { return static_cast<int*>(info.raw_data()) + b; }

/// `v` as the 32-bit int the non-64-bit entry points take (orgqr, trsm); ValueError naming `op` past 2^31.
int to_int(int64_t v, const char* op);

}  // namespace hy::cuda::solver
