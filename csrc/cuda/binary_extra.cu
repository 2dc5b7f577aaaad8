// Binary elementwise ops beyond elementwise.cu's arithmetic: floor_divide, remainder, div(rounding_mode=
// 'trunc'), atan2, the fused gradients gelu_backward and relu_backward, the bitwise and logical ops, and
// isclose; plus the zero-divisor check of integer division. The element math is each op's generated
// hy::scalar_ops functor (integer wrap, Python's floor division and modulo, NaN rules: kernels/scalar_math.h).
// Each op is instantiated only for the storage types its dtype rule lets through.
#include "cuda/elementwise.cuh"
#include "cuda/launch_elem_internal.h"
#include "hyflow/ops/scalar_ops_generated.h"

namespace hy::cuda {
namespace {

template <typename S, typename F>
void run(F f, void* out, const void* a, const void* b, const Geometry<3>& g, void* stream) {
  launch_elementwise<S, S, 2>(static_cast<S*>(out),
                              InPtrs<S, 2>{{static_cast<const S*>(a), static_cast<const S*>(b)}}, g, f, stream);
}

template <typename S, typename F>
void run_bool(F f, bool* out, const void* a, const void* b, const Geometry<3>& g, void* stream) {
  launch_elementwise<S, bool, 2>(out, InPtrs<S, 2>{{static_cast<const S*>(a), static_cast<const S*>(b)}}, g, f,
                                 stream);
}

// Ops of one family that share their dtypes are one kernel with the op as a flag (uniform across a
// launch) instead of one instantiation each: less to compile, the same generated functors.
struct Bitwise {
  BinaryExtraOp op;
  template <typename T> __device__ T operator()(T x, T y) const {
    if (op == BinaryExtraOp::BinaryExtraOp_BitwiseAnd) return hy::scalar_ops::bitwise_and{}(x, y);
    if (op == BinaryExtraOp::BinaryExtraOp_BitwiseOr) return hy::scalar_ops::bitwise_or{}(x, y);
    return hy::scalar_ops::bitwise_xor{}(x, y);
  }
};

struct Logical {
  LogicalOp op;
  __device__ bool operator()(bool x, bool y) const {
    if (op == LogicalOp::LogicalOp_And) return hy::scalar_ops::logical_and{}(x, y);
    if (op == LogicalOp::LogicalOp_Or) return hy::scalar_ops::logical_or{}(x, y);
    return hy::scalar_ops::logical_xor{}(x, y);
  }
};

struct IsClose {
  hy::scalar_ops::isclose_nan_equal nan_equal;
  hy::scalar_ops::isclose_nan_unequal nan_unequal;
  bool equal_nan;
  template <typename T> __device__ bool operator()(T x, T y) const {
    return equal_nan ? nan_equal(x, y) : nan_unequal(x, y);
  }
};

[[noreturn]] void unsupported(const char* what, DType dtype) {
  throw NotImplementedError(str("CUDA ", what, " kernel: dtype ", dtype_name(dtype), " is not supported"));
}

// One thread per element of the divisor; any zero stores 1 (a benign race: every writer writes 1).
template <typename S>
__global__ void any_zero_kernel(const S* p, Geometry<2> g, int32_t* found) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += stride) {
    int64_t offset = i;
    if (!g.contiguous) {
      int64_t rest = i;
      offset = 0;
      for (int d = g.ndim - 1; d >= 0; --d) {
        offset += (rest % g.sizes[d]) * g.strides[0][d];
        rest /= g.sizes[d];
      }
    }
    if (p[offset] == S(0)) *found = 1;
  }
}

}  // namespace

#define HY_CASE(D, S, ...) \
  case DType::D: { using S_ = S; __VA_ARGS__; return; }
#define HY_FLOAT_CASES(...)                     \
  HY_CASE(Float16, __half, __VA_ARGS__)         \
  HY_CASE(BFloat16, __nv_bfloat16, __VA_ARGS__) \
  HY_CASE(Float32, float, __VA_ARGS__)          \
  HY_CASE(Float64, double, __VA_ARGS__)
#define HY_INT_CASES(...)              \
  HY_CASE(Int32, int32_t, __VA_ARGS__) \
  HY_CASE(Int64, int64_t, __VA_ARGS__)

void launch_binary_extra(BinaryExtraOp op, DType dtype, void* out, const void* a, const void* b,
                         const Geometry<3>& g, void* stream) {
  namespace so = hy::scalar_ops;
  using O = BinaryExtraOp;
#define HY_RUN(F) run<S_>(F, out, a, b, g, stream)
  switch (op) {
    case O::BinaryExtraOp_FloorDivide:
      switch (dtype) {
        HY_INT_CASES(HY_RUN(so::floor_divide{}))
        HY_FLOAT_CASES(HY_RUN(so::floor_divide{}))
        default: break;
      }
      break;
    case O::BinaryExtraOp_Remainder:
      switch (dtype) { HY_INT_CASES(HY_RUN(so::remainder{})) HY_FLOAT_CASES(HY_RUN(so::remainder{})) default: break; }
      break;
    case O::BinaryExtraOp_DivTrunc:
      switch (dtype) { HY_INT_CASES(HY_RUN(so::div_trunc{})) HY_FLOAT_CASES(HY_RUN(so::div_trunc{})) default: break; }
      break;
    case O::BinaryExtraOp_Atan2:
      switch (dtype) { HY_FLOAT_CASES(HY_RUN(so::atan2{})) default: break; }
      break;
    case O::BinaryExtraOp_GeluBackward:
      switch (dtype) { HY_FLOAT_CASES(HY_RUN(so::gelu_backward{})) default: break; }
      break;
    case O::BinaryExtraOp_ReluBackward:
      switch (dtype) { HY_FLOAT_CASES(HY_RUN(so::relu_backward{})) default: break; }
      break;
    case O::BinaryExtraOp_BitwiseAnd:
    case O::BinaryExtraOp_BitwiseOr:
    case O::BinaryExtraOp_BitwiseXor:
      switch (dtype) { HY_CASE(Bool, bool, HY_RUN(Bitwise{op})) HY_INT_CASES(HY_RUN(Bitwise{op})) default: break; }
      break;
  }
#undef HY_RUN
  unsupported("binary", dtype);
}

void launch_logical(LogicalOp op, bool* out, const bool* a, const bool* b, const Geometry<3>& g, void* stream) {
  run_bool<bool>(Logical{op}, out, a, b, g, stream);
}

void launch_isclose(DType dtype, double rtol, double atol, bool equal_nan, bool* out, const void* a,
                    const void* b, const Geometry<3>& g, void* stream) {
  namespace so = hy::scalar_ops;
  const IsClose f{so::isclose_nan_equal(rtol, atol), so::isclose_nan_unequal(rtol, atol), equal_nan};
  switch (dtype) { HY_FLOAT_CASES(run_bool<S_>(f, out, a, b, g, stream)) default: break; }
  unsupported("isclose", dtype);
}

void launch_any_zero(DType dtype, const void* data, const Geometry<2>& g, int32_t* found, void* stream) {
  if (g.numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_ANY_ZERO(S)                                                                                      \
  any_zero_kernel<S><<<grid_for(g.numel), kThreads, 0, s>>>(static_cast<const S*>(data), g, found); \
  HY_CUDA_CHECK(cudaGetLastError())
  switch (dtype) {
    case DType::Bool: { HY_ANY_ZERO(bool); return; }
    case DType::Int32: { HY_ANY_ZERO(int32_t); return; }
    case DType::Int64: { HY_ANY_ZERO(int64_t); return; }
    default: break;
  }
#undef HY_ANY_ZERO
  unsupported("zero-divisor check", dtype);
}

#undef HY_INT_CASES
#undef HY_FLOAT_CASES
#undef HY_CASE

}  // namespace hy::cuda
