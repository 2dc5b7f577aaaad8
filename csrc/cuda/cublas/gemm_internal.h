// Shared by the GEMM glue (kernels_gemm.cpp, plain cuBLAS) and its cuBLASLt path (gemm_lt.cpp): how a
// row-major operand is handed to column-major cuBLAS, and the Lt entry point addmm tries first.
#pragma once
#include <cublas_api.h>

#include "core/tensor.h"

namespace hy::kernels::cuda {

/// A [batch, rows, cols] operand as cuBLAS sees it: op N over a dense row-major matrix (leading dim cols),
/// op T over a transposed-dense one (leading dim rows), else a dense copy (`t` is then that copy).
struct GemmOperand {
  Tensor t;
  cublasOperation_t op;
  int64_t ld;
  int64_t batch_stride;
};

/// `x` ([batch, rows, cols]) as a GemmOperand, copied to dense only when neither layout fits.
GemmOperand gemm_operand(const Tensor& x);
/// cuBLAS's name of a floating dtype (float32 for anything else).
cudaDataType_t gemm_cuda_type(DType d);

/// out (a fresh dense [m, n]) = A @ B + bias (a dense vector of n elements) through cublasLtMatmul with the
/// bias added in its epilogue, for float32/float16/bfloat16 with m, n, k >= 1 (A from a [1, m, k] operand,
/// B from [1, k, n]). False, with nothing written, when cuBLASLt has no algorithm for the case or the path
/// is switched off (hy.backends.cuda.matmul.allow_cublaslt): the caller then runs plain cuBLAS.
bool gemm_lt_bias(const Tensor& out, const GemmOperand& a, const GemmOperand& b, const Tensor& bias, int64_t m,
                  int64_t n, int64_t k, DType dtype);

}  // namespace hy::kernels::cuda
