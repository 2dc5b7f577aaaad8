// float32 GEMM through oneDNN's dnnl_sgemm, one block of gemm_batched (kernels/cpu/gemm.cpp). Only
// sgemm_onednn.cpp sees oneDNN's headers, so gemm.cpp compiles the same with or without it.
#pragma once
#include <cstdint>

namespace hy::cpu {

/// C (m x n, row-major, ldc) = alpha * op(A) * op(B) + beta * C on the calling thread, with op(X) = X or,
/// when ta/tb, the stored matrix read transposed (the same conventions as the CBLAS row-major call).
/// False when oneDNN declined the call (the caller then takes the BLAS path).
bool onednn_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace hy::cpu
