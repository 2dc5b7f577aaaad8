// Elementwise kernels: binary and unary ops of the table (their element math is the generated
// hy::scalar_ops functor, the same definition the CPU kernels run), copies/casts and fills.
#include "cuda/elementwise.cuh"
#include "hyflow/ops/scalar_ops_generated.h"

namespace hy::cuda {
namespace {

[[noreturn]] void unsupported(const char* what, DType dtype) {
  throw NotImplementedError(str("CUDA ", what, " kernel: dtype ", dtype_name(dtype), " is not supported yet"));
}

template <typename S, typename F>
void binary_as(F f, void* out, const void* a, const void* b, const Geometry<3>& g, void* stream) {
  launch_elementwise<S, S, 2>(static_cast<S*>(out), InPtrs<S, 2>{{static_cast<const S*>(a), static_cast<const S*>(b)}},
                              g, f, stream);
}

template <typename S, typename F>
void unary_as(F f, void* out, const void* in, const Geometry<2>& g, void* stream) {
  launch_elementwise<S, S, 1>(static_cast<S*>(out), InPtrs<S, 1>{{static_cast<const S*>(in)}}, g, f, stream);
}

// Returns its input: the conversion happens in the launcher's load (to_compute) and store (from_compute).
struct Identity {
  template <typename T> __host__ __device__ T operator()(T x) const { return x; }
};

template <typename S>
__global__ void fill_kernel(S* out, S value, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = value;
}

// The fill value in the storage type, converted once on the host. float16/bfloat16 go through float32
// as the CPU's fill_ converts them (Scalar::to: double -> float -> 16 bits); rounding the double straight
// to 16 bits would differ where the float32 rounding lands on a 16-bit tie (1 + 2^-11 + 2^-40: 1.0 on the
// CPU, 1 + 2^-10 directly).
template <typename S> S from_value(double v) {
  if constexpr (std::is_same_v<S, __half>) return __float2half_rn(static_cast<float>(v));
  else if constexpr (std::is_same_v<S, __nv_bfloat16>) return __float2bfloat16_rn(static_cast<float>(v));
  else if constexpr (std::is_same_v<S, bool>) return v != 0;
  else return static_cast<S>(v);
}

template <typename SO>
void copy_from(DType in_dtype, void* out, const void* in, const Geometry<2>& g, void* stream) {
#define HY_COPY_FROM(SI) \
  launch_elementwise<SI, SO, 1>(static_cast<SO*>(out), InPtrs<SI, 1>{{static_cast<const SI*>(in)}}, g, Identity{}, stream)
  HY_CUDA_DTYPE_SWITCH(in_dtype, HY_COPY_FROM, unsupported("copy", in_dtype))
#undef HY_COPY_FROM
}

}  // namespace

void launch_binary(BinaryOp op, DType dtype, double alpha, void* out, const void* a, const void* b,
                   const Geometry<3>& g, void* stream) {
  namespace so = hy::scalar_ops;
#define HY_BINARY(S)                                                                         \
  switch (op) {                                                                              \
    case BinaryOp::BinaryOp_Add: return binary_as<S>(so::add(alpha), out, a, b, g, stream);  \
    case BinaryOp::BinaryOp_Sub: return binary_as<S>(so::sub(alpha), out, a, b, g, stream);  \
    case BinaryOp::BinaryOp_Mul: return binary_as<S>(so::mul{}, out, a, b, g, stream);      \
    case BinaryOp::BinaryOp_Div: return binary_as<S>(so::div_none{}, out, a, b, g, stream); \
    case BinaryOp::BinaryOp_Maximum: return binary_as<S>(so::maximum{}, out, a, b, g, stream); \
    case BinaryOp::BinaryOp_Minimum: return binary_as<S>(so::minimum{}, out, a, b, g, stream); \
    case BinaryOp::BinaryOp_Pow: return binary_as<S>(so::pow{}, out, a, b, g, stream);         \
  }
  // Arithmetic on bool is not a table dtype for these ops; the glue never asks for it.
  switch (dtype) {
    case DType::Int32: { HY_BINARY(int32_t) break; }
    case DType::Int64: { HY_BINARY(int64_t) break; }
    case DType::Float16: { HY_BINARY(__half) break; }
    case DType::BFloat16: { HY_BINARY(__nv_bfloat16) break; }
    case DType::Float32: { HY_BINARY(float) break; }
    case DType::Float64: { HY_BINARY(double) break; }
    default: unsupported("binary", dtype);
  }
#undef HY_BINARY
}

void launch_compare(CompareOp op, DType dtype, void* out, const void* a, const void* b, const Geometry<3>& g,
                    void* stream) {
  namespace so = hy::scalar_ops;
#define HY_COMPARE_AS(S, F)                                                                                  \
  launch_elementwise<S, bool, 2>(static_cast<bool*>(out),                                                   \
                                 InPtrs<S, 2>{{static_cast<const S*>(a), static_cast<const S*>(b)}}, g, F, stream)
#define HY_COMPARE(S)                                                                  \
  switch (op) {                                                                        \
    case CompareOp::CompareOp_Eq: HY_COMPARE_AS(S, so::eq{}); return;                 \
    case CompareOp::CompareOp_Ne: HY_COMPARE_AS(S, so::ne{}); return;                 \
    case CompareOp::CompareOp_Lt: HY_COMPARE_AS(S, so::lt{}); return;                 \
    case CompareOp::CompareOp_Le: HY_COMPARE_AS(S, so::le{}); return;                 \
    case CompareOp::CompareOp_Gt: HY_COMPARE_AS(S, so::gt{}); return;                 \
    case CompareOp::CompareOp_Ge: HY_COMPARE_AS(S, so::ge{}); return;                 \
  }
  HY_CUDA_DTYPE_SWITCH(dtype, HY_COMPARE, unsupported("compare", dtype))
#undef HY_COMPARE
#undef HY_COMPARE_AS
}

void launch_unary(UnaryOp op, DType dtype, void* out, const void* in, const Geometry<2>& g, void* stream) {
  namespace so = hy::scalar_ops;
#define HY_UNARY(S)                                                                        \
  switch (op) {                                                                            \
    case UnaryOp::UnaryOp_Neg: return unary_as<S>(so::neg{}, out, in, g, stream);         \
    case UnaryOp::UnaryOp_Abs: return unary_as<S>(so::abs{}, out, in, g, stream);         \
    case UnaryOp::UnaryOp_Relu: return unary_as<S>(so::relu{}, out, in, g, stream);       \
    case UnaryOp::UnaryOp_Square: return unary_as<S>(so::square{}, out, in, g, stream);   \
    case UnaryOp::UnaryOp_Exp: return unary_as<S>(so::exp{}, out, in, g, stream);         \
    case UnaryOp::UnaryOp_Log: return unary_as<S>(so::log{}, out, in, g, stream);         \
    case UnaryOp::UnaryOp_Sqrt: return unary_as<S>(so::sqrt{}, out, in, g, stream);       \
    case UnaryOp::UnaryOp_Sigmoid: return unary_as<S>(so::sigmoid{}, out, in, g, stream); \
    case UnaryOp::UnaryOp_Tanh: return unary_as<S>(so::tanh{}, out, in, g, stream);       \
    case UnaryOp::UnaryOp_Sin: return unary_as<S>(so::sin{}, out, in, g, stream);         \
    case UnaryOp::UnaryOp_Cos: return unary_as<S>(so::cos{}, out, in, g, stream);         \
  }
  // Transcendental ops reach here only with floating dtypes (their dtype rule promotes integers first).
  switch (dtype) {
    case DType::Int32: { HY_UNARY(int32_t) break; }
    case DType::Int64: { HY_UNARY(int64_t) break; }
    case DType::Float16: { HY_UNARY(__half) break; }
    case DType::BFloat16: { HY_UNARY(__nv_bfloat16) break; }
    case DType::Float32: { HY_UNARY(float) break; }
    case DType::Float64: { HY_UNARY(double) break; }
    default: unsupported("unary", dtype);
  }
#undef HY_UNARY
}

void launch_copy(DType out_dtype, DType in_dtype, void* out, const void* in, const Geometry<2>& g, void* stream) {
#define HY_COPY_TO(SO) copy_from<SO>(in_dtype, out, in, g, stream)
  HY_CUDA_DTYPE_SWITCH(out_dtype, HY_COPY_TO, unsupported("copy", out_dtype))
#undef HY_COPY_TO
}

void launch_fill(DType dtype, void* out, double value, int64_t numel, void* stream) {
  if (numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_FILL(S)                                                                                   \
  fill_kernel<S><<<grid_for(numel), kThreads, 0, s>>>(static_cast<S*>(out), from_value<S>(value), numel); \
  HY_CUDA_CHECK(cudaGetLastError())
  HY_CUDA_DTYPE_SWITCH(dtype, HY_FILL, unsupported("fill", dtype))
#undef HY_FILL
}

}  // namespace hy::cuda
