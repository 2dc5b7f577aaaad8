// matmul, mm, bmm and addmm on CUDA through cuBLAS (cublasGemmStridedBatchedEx; addmm with a bias vector
// first tries cuBLASLt, gemm_lt.cpp). Row-major operands are handed to column-major cuBLAS as their
// transposes (C^T = B^T A^T), so a dense or a transposed-dense matrix is passed without a copy; anything
// else is made dense first. float16/bfloat16 accumulate in float32, float32 in float32 without TF32
// (cuBLAS's default math mode, like torch's default), float64 in float64. Integer dtypes have no cuBLAS
// GEMM: they raise "no CUDA kernel yet".
#include <cublas_v2.h>

#include <map>
#include <string>

#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "cuda/cublas/gemm_internal.h"
#include "cuda/cuda_backend.h"
#include "cuda/gemm_lt_cache.h"
#include "cuda/glue_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cuda {
using hy::cpu::check_inner;
namespace {

#define HY_CUBLAS_CHECK(expr)                                                                          \
  do {                                                                                                 \
    cublasStatus_t hy_st_ = (expr);                                                                    \
    if (hy_st_ != CUBLAS_STATUS_SUCCESS)                                                               \
      throw RuntimeError(str("cuBLAS error ", cublasGetStatusName(hy_st_), " (", cublasGetStatusString(hy_st_), \
                             ") in ", #expr));                                                         \
  } while (0)

// One handle per (thread, device): creating one is expensive, and a handle must not be shared by threads
// that set different streams on it. Never destroyed (the process's exit may outlive the CUDA context).
cublasHandle_t handle_for(int device) {
  thread_local std::map<int, cublasHandle_t> handles;
  auto it = handles.find(device);
  if (it != handles.end()) return it->second;
  hy::cuda::set_current_device(device);
  cublasHandle_t h = nullptr;
  HY_CUBLAS_CHECK(cublasCreate(&h));
  handles[device] = h;
  return h;
}

DType gemm_dtype(const char* op, const Tensor& a, const char* an, const Tensor& b, const char* bn) {
  HY_CHECK(a.dtype() == b.dtype(), RuntimeError, op, ": expected ", an, " and ", bn,
           " to have the same dtype, but got: ", dtype_name(a.dtype()), " != ", dtype_name(b.dtype()),
           "; convert one with .to(dtype)");
  HY_CHECK(dtype_is_floating(a.dtype()), NotImplementedError, "op '", op, "' has no CUDA kernel yet for dtype ",
           dtype_name(a.dtype()), " (cuBLAS multiplies floating-point matrices; convert with .float())");
  return a.dtype();
}

// out[b] = alpha * a[b] @ b[b] + beta * out[b] for [batch, m, k] x [batch, k, n] into a dense out
// (beta == 0: out is not read, so NaN there does not propagate, as BLAS and torch do).
void gemm_into(const Tensor& out, const Tensor& a3, const Tensor& b3, DType dtype, double alpha_v, double beta_v) {
  const Device device = a3.device();
  const int64_t batch = a3.shape()[0], m = a3.shape()[1], k = a3.shape()[2], n = b3.shape()[2];
  if (out.numel() == 0) return;
  if (k == 0) {  // an empty sum: beta * out
    if (beta_v == 0) ops::zero_(out);
    else ops::mul(out, wrapped_number_tensor(Scalar(beta_v)), out);
    return;
  }
  HY_CHECK(m <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX && batch <= INT32_MAX, ValueError,
           "matmul on CUDA: dims above 2^31 are not supported (got ", a3.shape(), " x ", b3.shape(), ")");
  const GemmOperand A = gemm_operand(a3), B = gemm_operand(b3);
  cublasHandle_t h = handle_for(device.index);
  HY_CUBLAS_CHECK(cublasSetStream(h, static_cast<cudaStream_t>(hy::cuda::launch_stream(device))));
  const cudaDataType_t type = gemm_cuda_type(dtype);
  const cublasComputeType_t compute = dtype == DType::Float64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
  const float alpha32 = static_cast<float>(alpha_v), beta32 = static_cast<float>(beta_v);
  const void* alpha = dtype == DType::Float64 ? static_cast<const void*>(&alpha_v) : &alpha32;
  const void* beta = dtype == DType::Float64 ? static_cast<const void*>(&beta_v) : &beta32;
  // Column-major: out^T (n x m) = op(B) (n x k) * op(A) (k x m).
  HY_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      h, B.op, A.op, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), alpha, B.t.raw_data(), type,
      static_cast<int>(B.ld), B.batch_stride, A.t.raw_data(), type, static_cast<int>(A.ld), A.batch_stride, beta,
      out.raw_data(), type, static_cast<int>(n), m * n, static_cast<int>(batch), compute, CUBLAS_GEMM_DEFAULT));
}

Tensor gemm(const Tensor& a3, const Tensor& b3, DType dtype) {
  Tensor out = Tensor::empty({a3.shape()[0], a3.shape()[1], b3.shape()[2]}, dtype, a3.device());
  gemm_into(out, a3, b3, dtype, 1.0, 0.0);
  return out;
}

Tensor as_batch(const Tensor& t) { return ops::unsqueeze(t, 0); }

// The bias vector of addmm when cuBLASLt can add it in its epilogue: self is a dense row of the product's
// n columns (1-D [n] or [1, n], nn.Linear's bias), of the product's dtype, and the op is exactly
// mat1 @ mat2 + self (alpha = beta = 1). Otherwise an undefined Tensor.
Tensor lt_bias(const Tensor& self, const Shape& shape, DType dtype, double alpha, double beta) {
  if (alpha != 1 || beta != 1 || self.dtype() != dtype || dtype == DType::Float64) return {};
  if (shape[0] == 0 || shape[1] == 0) return {};
  if (self.dim() == 0 || self.dim() > 2 || (self.dim() == 2 && self.shape()[0] != 1)) return {};
  const int64_t n = shape[1];
  if (self.shape()[self.dim() - 1] != n || (n > 1 && self.strides()[self.dim() - 1] != 1)) return {};
  return self;
}

}  // namespace

GemmOperand gemm_operand(const Tensor& x) {
  const int64_t rows = x.shape()[1], cols = x.shape()[2];
  const int64_t s0 = x.strides()[0], s1 = x.strides()[1], s2 = x.strides()[2];
  if ((s2 == 1 || cols == 1) && (s1 == cols || rows == 1)) return {x, CUBLAS_OP_N, std::max<int64_t>(cols, 1), s0};
  if ((s1 == 1 || rows == 1) && (s2 == rows || cols == 1)) return {x, CUBLAS_OP_T, std::max<int64_t>(rows, 1), s0};
  Tensor d = Tensor::empty(x.shape(), x.dtype(), x.device());
  hy::cuda::copy_into(d, x);
  return {d, CUBLAS_OP_N, std::max<int64_t>(cols, 1), rows * cols};
}

cudaDataType_t gemm_cuda_type(DType d) {
  switch (d) {
    case DType::Float16: return CUDA_R_16F;
    case DType::BFloat16: return CUDA_R_16BF;
    case DType::Float64: return CUDA_R_64F;
    default: return CUDA_R_32F;
  }
}

Tensor mm(const Tensor& self, const Tensor& mat2) {
  const DType d = gemm_dtype("mm", self, "self", mat2, "mat2");
  HY_CHECK(self.dim() == 2 && mat2.dim() == 2, ValueError, "mm: self and mat2 must be 2-D, got shapes ",
           self.shape(), " and ", mat2.shape());
  check_inner("mm", self, mat2, self.shape()[1], mat2.shape()[0]);
  return ops::squeeze(gemm(as_batch(self), as_batch(mat2), d), std::optional<DimVector>(DimVector{0}));
}

Tensor bmm(const Tensor& self, const Tensor& mat2) {
  const DType d = gemm_dtype("bmm", self, "self", mat2, "mat2");
  HY_CHECK(self.dim() == 3 && mat2.dim() == 3, ValueError, "bmm: self and mat2 must be 3-D, got shapes ",
           self.shape(), " and ", mat2.shape());
  HY_CHECK(self.shape()[0] == mat2.shape()[0], ValueError, "bmm: batch sizes of shapes ", self.shape(), " and ",
           mat2.shape(), " differ (bmm does not broadcast; use matmul)");
  check_inner("bmm", self, mat2, self.shape()[2], mat2.shape()[1]);
  return gemm(self, mat2, d);
}

Tensor addmm(const Tensor& self, const Tensor& mat1, const Tensor& mat2, const Scalar& beta, const Scalar& alpha) {
  const DType d = gemm_dtype("addmm", mat1, "mat1", mat2, "mat2");
  gemm_dtype("addmm", mat1, "mat1", self, "self");
  HY_CHECK(mat1.dim() == 2 && mat2.dim() == 2, ValueError, "addmm: mat1 and mat2 must be 2-D, got shapes ",
           mat1.shape(), " and ", mat2.shape());
  check_inner("addmm", mat1, mat2, mat1.shape()[1], mat2.shape()[0]);
  const Shape shape{mat1.shape()[0], mat2.shape()[1]};
  bool fits = self.dim() <= 2;
  for (int64_t i = 0; fits && i < self.dim(); ++i) {
    const int64_t have = self.shape()[i], want = shape[2 - self.dim() + i];
    fits = have == want || have == 1;
  }
  HY_CHECK(fits, ValueError, "addmm: self of shape ", self.shape(), " does not broadcast to the product's shape ",
           shape, " (mat1 ", mat1.shape(), ", mat2 ", mat2.shape(), ")");
  Tensor out = Tensor::empty(shape, d, mat1.device());
  const double a = alpha.to_double(), b = beta.to_double();
  // nn.Linear's case: cuBLASLt adds the bias in the GEMM's epilogue (docs/cuda.md says why only here).
  const int64_t m = shape[0], n = shape[1], k = mat1.shape()[1];
  const Tensor bias = hy::cuda::gemm_lt_allowed() ? lt_bias(self, shape, d, a, b) : Tensor();
  if (bias.defined() && k > 0 && m <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX) {
    if (gemm_lt_bias(out, gemm_operand(as_batch(mat1)), gemm_operand(as_batch(mat2)), bias, m, n, k, d)) return out;
  }
  // Otherwise C starts as self broadcast, then cuBLAS adds alpha * mat1 @ mat2 to beta * C.
  if (b != 0) hy::cuda::copy_into(out, self);
  gemm_into(ops::unsqueeze(out, 0), as_batch(mat1), as_batch(mat2), d, a, b);
  return out;
}

Tensor matmul(const Tensor& self, const Tensor& other) {
  const DType d = gemm_dtype("matmul", self, "self", other, "other");
  HY_CHECK(self.dim() >= 1 && other.dim() >= 1, ValueError, "matmul: both arguments need at least 1 dim, got shapes ",
           self.shape(), " and ", other.shape());
  // NumPy rules, as on the CPU: a 1-D left operand is a row, a 1-D right one a column (dropped from the
  // result); leading dims are batch dims and broadcast.
  const Tensor a = self.dim() == 1 ? ops::unsqueeze(self, 0) : self;
  const Tensor b = other.dim() == 1 ? ops::unsqueeze(other, 1) : other;
  check_inner("matmul", self, other, a.shape()[a.dim() - 1], b.shape()[b.dim() - 2]);
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(ba, bb);
  const int64_t nb = shape_numel(batch), m = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1],
                n = b.shape()[b.dim() - 1];
  auto flat = [&](const Tensor& x, int64_t rows, int64_t cols) {
    Shape full = batch;
    full.push_back(rows);
    full.push_back(cols);
    // Broadcast batch dims are materialized by reshape (a copy on the device) unless there are none.
    return ops::reshape(ops::expand(x, full), {nb, rows, cols});
  };
  Tensor out = gemm(flat(a, m, k), flat(b, k, n), d);
  Shape shape = batch;
  if (self.dim() > 1) shape.push_back(m);
  if (other.dim() > 1) shape.push_back(n);
  return ops::reshape(out, shape);
}

}  // namespace hy::kernels::cuda
