// Batched GEMM on hyflow's thread pool: C[b] = alpha * A[b] * B[b] + beta * C[b] for every batch b.
// float/double go to the BLAS (OpenBLAS, kept single-threaded) or Eigen; int32/int64 use a blocked loop.
// The work is split over the batch and over row (or column) blocks of one product, so a single large
// GEMM uses every thread of the pool and no second pool competes for the cores.
//
//   GemmMatrix<float> a{pa, offs_a.data(), /*ld=*/k, /*trans=*/false}, b{pb, offs_b.data(), n, false};
//   gemm_batched<float>(batch, m, n, k, 1.0, a, b, 0.0, c_data);   // C dense row-major (batch, m, n)
#pragma once
#include <cstdint>

namespace hy::cpu {

/// One operand of a batched GEMM. Matrix b starts at base + batch_offsets[b] (elements) and is either
/// row-major with leading dimension ld (trans=false) or stored transposed, i.e. its transpose is
/// row-major with leading dimension ld (trans=true). ld >= 1.
template <typename T>
struct GemmMatrix {
  const T* base;
  const int64_t* batch_offsets;
  int64_t ld;
  bool trans;
};

/// C[b] (m x n, dense row-major, b-th block of `c`) = alpha * A[b] (m x k) * B[b] (k x n) + beta * C[b].
/// beta == 0 overwrites C (its old contents may be uninitialized). T is float, double, int32_t or int64_t.
template <typename T>
void gemm_batched(int64_t batch, int64_t m, int64_t n, int64_t k, T alpha, const GemmMatrix<T>& a,
                  const GemmMatrix<T>& b, T beta, T* c);

/// True when float32 products go to oneDNN's sgemm: a build with oneDNN (HYFLOW_ONEDNN) unless the
/// environment variable HYFLOW_SGEMM=blas asks for the BLAS (or Eigen) path.
bool gemm_f32_uses_onednn();

/// The library float32 products use now: "onednn", "blas" or "eigen" (hy.build_info()["gemm_f32_library"]).
const char* gemm_f32_library();

/// True when a (rows x cols) matrix with element strides (row_stride, col_stride) can be handed to
/// gemm_batched without a copy; sets ld/trans accordingly. Always true (and always sets them) for a
/// dense row-major matrix and for an empty one.
bool gemm_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride, int64_t* ld, bool* trans);

}  // namespace hy::cpu
