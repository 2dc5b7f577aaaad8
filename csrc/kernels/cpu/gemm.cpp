// Batched GEMM: work decomposition over hyflow's pool, then one single-threaded GEMM per block.
//
// Why single-threaded BLAS: OpenBLAS (pthreads build) would start its own pool; two pools on the same
// cores slow both down (machine.md measured 4x). We set it to one thread at first use and split the
// work ourselves: over the batch, and over row blocks of M (or column blocks of N when N > M), so one
// big product still runs on hy.get_num_threads() cores.
#include "kernels/cpu/gemm.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <type_traits>

#include "core/error.h"
#include "core/parallel.h"

#ifdef HYFLOW_WITH_ONEDNN
#include "kernels/cpu/onednn/sgemm_onednn_internal.h"
#endif

#ifdef HYFLOW_WITH_BLAS
// Declared here rather than through <cblas.h>: distributions ship that header under different paths.
// The enums are passed as the int values every CBLAS uses.
extern "C" {
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc);
void cblas_dgemm(int order, int trans_a, int trans_b, int m, int n, int k, double alpha, const double* a,
                 int lda, const double* b, int ldb, double beta, double* c, int ldc);
void cblas_sgemv(int order, int trans, int m, int n, float alpha, const float* a, int lda, const float* x, int incx,
                 float beta, float* y, int incy);
void cblas_dgemv(int order, int trans, int m, int n, double alpha, const double* a, int lda, const double* x,
                 int incx, double beta, double* y, int incy);
// Weak: a non-OpenBLAS BLAS has no such function (and no pool of its own to silence).
void openblas_set_num_threads(int n) __attribute__((weak));
}
#else
// GCC 12 reports false -Wmaybe-uninitialized inside Eigen's AVX-512 GEMM packing code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#endif

namespace hy::cpu {
namespace {

// Below this many flops a product runs on the calling thread: waking the pool costs more.
constexpr double kParallelFlops = 1 << 20;
// Row/column blocks handed to one thread are multiples of this (a cache line of floats in C).
constexpr int64_t kBlockAlign = 16;

#ifdef HYFLOW_WITH_BLAS
constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111, kCblasTrans = 112;

void blas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (openblas_set_num_threads) openblas_set_num_threads(1);
  });
}

int blas_int(int64_t v) {
  HY_CHECK(v <= INT_MAX, ValueError, "matmul: dimension ", v, " is too large for the BLAS (int32 sizes)");
  return static_cast<int>(v);
}

// y = alpha * op(A) x + beta * y, where A (rows x cols as stored, leading dim lda) is read transposed
// when `trans`.
template <typename T>
void gemv(bool trans, int64_t rows, int64_t cols, T alpha, const T* a, int64_t lda, const T* x, int64_t incx,
          T beta, T* y, int64_t incy) {
  const int t = trans ? kCblasTrans : kCblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemv(kCblasRowMajor, t, blas_int(rows), blas_int(cols), alpha, a, blas_int(lda), x, blas_int(incx), beta,
                y, blas_int(incy));
  } else {
    cblas_dgemv(kCblasRowMajor, t, blas_int(rows), blas_int(cols), alpha, a, blas_int(lda), x, blas_int(incx), beta,
                y, blas_int(incy));
  }
}

template <typename T>
void gemm_block(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, bool ta, const T* b,
                int64_t ldb, bool tb, T beta, T* c, int64_t ldc) {
  // Matrix-vector shapes go to gemv: OpenBLAS's gemm does not forward them and is several times slower.
  if (n == 1) {  // C column = op(A) * B column; B[p, 0] sits at b[p] when B is stored transposed
    if (ta) gemv<T>(true, k, m, alpha, a, lda, b, tb ? 1 : ldb, beta, c, ldc);
    else gemv<T>(false, m, k, alpha, a, lda, b, tb ? 1 : ldb, beta, c, ldc);
    return;
  }
  if (m == 1) {  // C row = A row * B, i.e. C^T = B^T * A^T
    if (tb) gemv<T>(false, n, k, alpha, b, ldb, a, ta ? lda : 1, beta, c, 1);
    else gemv<T>(true, k, n, alpha, b, ldb, a, ta ? lda : 1, beta, c, 1);
    return;
  }
  const int oa = ta ? kCblasTrans : kCblasNoTrans, ob = tb ? kCblasTrans : kCblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(kCblasRowMajor, oa, ob, blas_int(m), blas_int(n), blas_int(k), alpha, a, blas_int(lda), b,
                blas_int(ldb), beta, c, blas_int(ldc));
  } else {
    cblas_dgemm(kCblasRowMajor, oa, ob, blas_int(m), blas_int(n), blas_int(k), alpha, a, blas_int(lda), b,
                blas_int(ldb), beta, c, blas_int(ldc));
  }
}
#else
void blas_single_threaded() {}

template <typename T>
void gemm_block(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, bool ta, const T* b,
                int64_t ldb, bool tb, T beta, T* c, int64_t ldc) {
  using Row = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Col = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<Row, 0, Stride> C(c, m, n, Stride(ldc));
  auto run = [&](const auto& A, const auto& B) {
    if (beta == T(0)) {
      C.noalias() = alpha * (A * B);
    } else {
      C *= beta;
      C.noalias() += alpha * (A * B);
    }
  };
  // A transposed operand is its transpose stored row-major, i.e. the operand itself column-major.
  auto with_b = [&](const auto& A) {
    if (tb) run(A, Eigen::Map<const Col, 0, Stride>(b, k, n, Stride(ldb)));
    else run(A, Eigen::Map<const Row, 0, Stride>(b, k, n, Stride(ldb)));
  };
  if (ta) with_b(Eigen::Map<const Col, 0, Stride>(a, m, k, Stride(lda)));
  else with_b(Eigen::Map<const Row, 0, Stride>(a, m, k, Stride(lda)));
}
#endif

// Integer GEMM: no BLAS has one. i-p-j order so the innermost loop runs over a contiguous row of B and
// C (vectorized); B is walked in kc x nc blocks that stay in L2. Unsigned arithmetic wraps on overflow
// like NumPy and PyTorch instead of being undefined behaviour.
template <typename T>
void int_gemm_block(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, bool ta, const T* b,
                    int64_t ldb, bool tb, T beta, T* c, int64_t ldc) {
  using U = std::make_unsigned_t<T>;
  constexpr int64_t kc = 128, nc = 1024;
  for (int64_t i = 0; i < m; ++i) {
    U* crow = reinterpret_cast<U*>(c + i * ldc);
    for (int64_t j = 0; j < n; ++j) crow[j] = beta == 0 ? U(0) : U(beta) * crow[j];
  }
  for (int64_t p0 = 0; p0 < k; p0 += kc) {
    const int64_t p1 = std::min(k, p0 + kc);
    for (int64_t j0 = 0; j0 < n; j0 += nc) {
      const int64_t j1 = std::min(n, j0 + nc);
      for (int64_t i = 0; i < m; ++i) {
        U* crow = reinterpret_cast<U*>(c + i * ldc);
        for (int64_t p = p0; p < p1; ++p) {
          const U av = U(alpha) * U(ta ? a[p * lda + i] : a[i * lda + p]);
          if (av == 0) continue;
          if (!tb) {
            const U* brow = reinterpret_cast<const U*>(b + p * ldb);
            for (int64_t j = j0; j < j1; ++j) crow[j] += av * brow[j];
          } else {
            for (int64_t j = j0; j < j1; ++j) crow[j] += av * U(b[j * ldb + p]);
          }
        }
      }
    }
  }
}

template <typename T>
void block_product(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, bool ta, const T* b,
                   int64_t ldb, bool tb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty sum: C = beta * C (BLAS would also want ld >= 1 of empty operands)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : T(beta * c[i * ldc + j]);
    return;
  }
#ifdef HYFLOW_WITH_ONEDNN
  // float32 products go to oneDNN's sgemm (5x the system OpenBLAS here, see onednn/sgemm_onednn.cpp);
  // matrix-vector shapes stay on the BLAS gemv, which oneDNN's sgemm does not beat.
  if constexpr (std::is_same_v<T, float>) {
    if (m > 1 && n > 1 && gemm_f32_uses_onednn() &&
        onednn_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
      return;
  }
#endif
  if constexpr (std::is_floating_point_v<T>) gemm_block<T>(m, n, k, alpha, a, lda, ta, b, ldb, tb, beta, c, ldc);
  else int_gemm_block<T>(m, n, k, alpha, a, lda, ta, b, ldb, tb, beta, c, ldc);
}

}  // namespace

// Read on every call (a getenv is nanoseconds next to a GEMM block), so a test can compare both paths.
bool gemm_f32_uses_onednn() {
#ifdef HYFLOW_WITH_ONEDNN
  const char* v = std::getenv("HYFLOW_SGEMM");
  return !(v && std::strcmp(v, "blas") == 0);
#else
  return false;
#endif
}

const char* gemm_f32_library() {
  if (gemm_f32_uses_onednn()) return "onednn";
#ifdef HYFLOW_WITH_BLAS
  return "blas";
#else
  return "eigen";
#endif
}

bool gemm_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride, int64_t* ld, bool* trans) {
  // An empty matrix has no element to address, so any layout describes it; its strides may be anything
  // (NumPy gives (0, 0) for a (3, 0) array), and a contiguous copy would not change them.
  if (rows == 0 || cols == 0) {
    *trans = false;
    *ld = std::max<int64_t>(1, cols);
    return true;
  }
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= std::max<int64_t>(1, cols))) {
    *trans = false;
    *ld = rows == 1 ? std::max<int64_t>(1, cols) : row_stride;
    return true;
  }
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= std::max<int64_t>(1, rows))) {
    *trans = true;
    *ld = cols == 1 ? std::max<int64_t>(1, rows) : col_stride;
    return true;
  }
  return false;
}

template <typename T>
void gemm_batched(int64_t batch, int64_t m, int64_t n, int64_t k, T alpha, const GemmMatrix<T>& a,
                  const GemmMatrix<T>& b, T beta, T* c) {
  if (batch == 0 || m == 0 || n == 0) return;
  if constexpr (std::is_floating_point_v<T>) blas_single_threaded();
  const int threads = in_parallel_region() ? 1 : get_num_threads();
  const double flops = 2.0 * static_cast<double>(batch) * static_cast<double>(m) * static_cast<double>(n) *
                       static_cast<double>(k);
  // Split one product into `parts` blocks when the batch alone does not spread evenly over the threads.
  const bool split_rows = m >= n;
  const int64_t extent = split_rows ? m : n;
  int64_t parts = 1;
  if (threads > 1 && flops >= kParallelFlops && batch % threads != 0 && batch < 8 * threads)
    parts = std::min<int64_t>(threads, (extent + kBlockAlign - 1) / kBlockAlign);
  int64_t step = (extent + parts - 1) / parts;
  step = (step + kBlockAlign - 1) / kBlockAlign * kBlockAlign;

  auto run_item = [&](int64_t item) {
    const int64_t bi = item / parts, part = item % parts;
    const int64_t lo = part * step, hi = std::min(extent, lo + step);
    if (lo >= hi) return;
    const T* pa = a.base + a.batch_offsets[bi];
    const T* pb = b.base + b.batch_offsets[bi];
    T* pc = c + bi * m * n;
    if (split_rows) {  // rows lo..hi of A and C
      block_product<T>(hi - lo, n, k, alpha, pa + (a.trans ? lo : lo * a.ld), a.ld, a.trans, pb, b.ld, b.trans,
                       beta, pc + lo * n, n);
    } else {  // columns lo..hi of B and C
      block_product<T>(m, hi - lo, k, alpha, pa, a.ld, a.trans, pb + (b.trans ? lo * b.ld : lo), b.ld, b.trans,
                       beta, pc + lo, n);
    }
  };
  const int64_t items = batch * parts;
  if (threads == 1 || flops < kParallelFlops) {
    for (int64_t i = 0; i < items; ++i) run_item(i);
    return;
  }
  parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) run_item(i);
  });
}

template void gemm_batched<float>(int64_t, int64_t, int64_t, int64_t, float, const GemmMatrix<float>&,
                                  const GemmMatrix<float>&, float, float*);
template void gemm_batched<double>(int64_t, int64_t, int64_t, int64_t, double, const GemmMatrix<double>&,
                                   const GemmMatrix<double>&, double, double*);
template void gemm_batched<int32_t>(int64_t, int64_t, int64_t, int64_t, int32_t, const GemmMatrix<int32_t>&,
                                    const GemmMatrix<int32_t>&, int32_t, int32_t*);
template void gemm_batched<int64_t>(int64_t, int64_t, int64_t, int64_t, int64_t, const GemmMatrix<int64_t>&,
                                    const GemmMatrix<int64_t>&, int64_t, int64_t*);

}  // namespace hy::cpu
