// Helpers shared by the LAPACK-backed kernels (linalg_solve.cpp, linalg_factor.cpp): argument checks, the
// matrices of a batch (any strides) to and from LAPACK's column-major buffers, running a batch over the pool
// with LAPACK single-threaded, and raising the first failed matrix as LinAlgError.
//
// Each matrix of a batch is copied into a column-major buffer (LAPACK's layout; the copy is O(n^2) against
// the factorization's O(n^3) and reads any strides, so inputs are never made contiguous first), factored
// there, and its results written to fresh row-major outputs. Matrices are spread over the TBB pool with
// LAPACK single-threaded, as the GEMMs are (docs/design.md, "Library choices"). A matrix that cannot be
// factored is recorded, and after the loop the first one raises LinAlgError with torch's message and its
// batch index (kernel_util.h's linalg_raise_first_failure; no exception crosses a pool thread).
#pragma once

#include <algorithm>
#include <climits>
#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include "core/linalg_error.h"
#include "core/parallel.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/linalg_checks.h"
#include "kernels/cpu/lapack.h"
#include "kernels/cpu/lapack_internal.h"

namespace hy::kernels::cpu::linalg_batch {

namespace lapack = hy::cpu::lapack;

// ---- argument checks ----

inline int64_t rows_of(const Tensor& t) { return t.shape()[t.dim() - 2]; }
inline int64_t cols_of(const Tensor& t) { return t.shape()[t.dim() - 1]; }

// Refuses what the kernels cannot take: a missing LAPACK, then the device-independent checks shared with
// the CUDA kernels (kernel_util.h: dtype, dims, squareness).
inline void check_matrix(const Tensor& A, const char* op, const char* arg, bool square) {
  hy::cpu::check_defined(A, op, arg);
  HY_CHECK(lapack::available(), NotImplementedError, op, ": this build of hyflow has no LAPACK (its BLAS exports "
           "none and no separate LAPACK was found); rebuild with OpenBLAS (Debian: libopenblas-dev)");
  hy::cpu::linalg_check_matrix(A, op, arg, square);
}

inline void check_same_dtype(const Tensor& A, const Tensor& B, const char* op) {
  hy::cpu::linalg_check_same_dtype(A, B, op);
}

// LAPACK runs single-threaded inside the pool (its own threads would fight TBB's).
inline void lapack_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (openblas_set_num_threads) openblas_set_num_threads(1);
  });
}

// ---- batches of matrices ----

inline Shape batch_shape(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

inline Shape with_matrix(Shape batch, int64_t rows, int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

// The matrices of a tensor (any strides, broadcast views included): matrix b starts at data + offset(b).
template <typename T>
struct Matrices {
  const T* data;
  Shape batch;
  Strides batch_strides;
  int64_t rows, cols, rs, cs;

  explicit Matrices(const Tensor& t)
      : data(t.data<T>()), batch(batch_shape(t)), batch_strides(t.strides().begin(), t.strides().end() - 2),
        rows(rows_of(t)), cols(cols_of(t)), rs(t.strides()[t.dim() - 2]), cs(t.strides()[t.dim() - 1]) {}

  int64_t offset(int64_t b) const {
    int64_t off = 0;
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
      off += (b % batch[d]) * batch_strides[d];
      b /= batch[d];
    }
    return off;
  }
  // Matrix b into a column-major buffer with leading dim ld (>= rows).
  void load(int64_t b, T* dst, int64_t ld) const {
    const T* src = data + offset(b);
    for (int64_t j = 0; j < cols; ++j)
      for (int64_t i = 0; i < rows; ++i) dst[i + j * ld] = src[i * rs + j * cs];
  }
};

// Writes the rows x cols column-major matrix `src` (leading dim ld) to the row-major matrix at dst.
template <typename T>
void store(const T* src, int64_t ld, int64_t rows, int64_t cols, T* dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[i * cols + j] = src[i + j * ld];
}

template <typename T>
void set_identity(T* a, int64_t n, int64_t ld) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) a[i + j * ld] = i == j ? T(1) : T(0);
}

// Runs f(b) for every matrix of a batch on the pool; a chunk holds enough matrices to be worth a task.
template <typename F>
void for_each_matrix(int64_t count, int64_t n, F&& f) {
  lapack_single_threaded();
  const double flops = std::max<double>(1.0, static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n));
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(65536.0 / flops));
  parallel_for(0, count, grain, [&](int64_t begin, int64_t end) { f(begin, end); });
}

// Whether the column-major rows x cols matrix at a (leading dim ld) is finite: all of it, or only its upper
// or lower triangle (what a symmetric solver reads).
template <typename T>
bool finite(const T* a, int64_t rows, int64_t cols, int64_t ld, char triangle = 'A') {
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < rows; ++i) {
      if ((triangle == 'L' && i < j) || (triangle == 'U' && i > j)) continue;
      if (!std::isfinite(a[i + j * ld])) return false;
    }
  return true;
}

// The workspace size a LAPACK query (lwork = -1) returned, in its element type. A float cannot hold every
// large integer (older LAPACKs round the size down), so a float query gets a margin.
template <typename T>
int work_size(T query, const char* op) {
  const double size = static_cast<double>(query) * (sizeof(T) == 4 ? 1.0 + 1e-6 : 1.0) + 1.0;
  HY_CHECK(size <= INT_MAX, ValueError, op, ": the matrices are too large for LAPACK's workspace (32-bit sizes)");
  return std::max(1, static_cast<int>(size));
}

// The dtype-specific body of each kernel: f.template operator()<float>() or <double>().
template <typename F>
auto dispatch(DType dt, F&& f) {
  if (dt == DType::Float32) return f(float{});
  return f(double{});
}

}  // namespace hy::kernels::cpu::linalg_batch
