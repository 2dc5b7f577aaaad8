// Unary ops with a floating result (the op table's promote_float unary ops that elementwise.cu does not
// carry): expm1, log1p, rsqrt, tan, gelu (both forms), silu, softplus, erf, reciprocal. The element math is
// each op's generated hy::scalar_ops functor, the definition the CPU kernels share; CUDA's libm versions
// of exp/erf/tanh... replace Eigen's packet math (within a few ulp of each other).
//
// Only the floating storage types are instantiated: the glue converts integer and bool inputs to float32
// first, exactly as the CPU's dtype rule does.
#include "cuda/elementwise.cuh"
#include "cuda/launch_elem_internal.h"
#include "hyflow/ops/scalar_ops_generated.h"

namespace hy::cuda {
namespace {

template <typename S, typename F>
void run(F f, void* out, const void* in, const Geometry<2>& g, void* stream) {
  launch_elementwise<S, S, 1>(static_cast<S*>(out), InPtrs<S, 1>{{static_cast<const S*>(in)}}, g, f, stream);
}

}  // namespace

void launch_float_unary(FloatUnaryOp op, DType dtype, double p0, double p1, void* out, const void* in,
                        const Geometry<2>& g, void* stream) {
  namespace so = hy::scalar_ops;
  using O = FloatUnaryOp;
#define HY_FLOAT_UNARY(S)                                                                                   \
  switch (op) {                                                                                             \
    case O::FloatUnaryOp_Expm1: return run<S>(so::expm1{}, out, in, g, stream);                            \
    case O::FloatUnaryOp_Log1p: return run<S>(so::log1p{}, out, in, g, stream);                            \
    case O::FloatUnaryOp_Rsqrt: return run<S>(so::rsqrt{}, out, in, g, stream);                            \
    case O::FloatUnaryOp_Tan: return run<S>(so::tan{}, out, in, g, stream);                                \
    case O::FloatUnaryOp_GeluNone: return run<S>(so::gelu_none{}, out, in, g, stream);                     \
    case O::FloatUnaryOp_GeluTanh: return run<S>(so::gelu_tanh{}, out, in, g, stream);                     \
    case O::FloatUnaryOp_Silu: return run<S>(so::silu{}, out, in, g, stream);                              \
    case O::FloatUnaryOp_Softplus: return run<S>(so::softplus(p0, p1), out, in, g, stream);                \
    case O::FloatUnaryOp_Erf: return run<S>(so::erf{}, out, in, g, stream);                                \
    case O::FloatUnaryOp_Reciprocal: return run<S>(so::reciprocal{}, out, in, g, stream);                  \
  }
  switch (dtype) {
    case DType::Float16: { HY_FLOAT_UNARY(__half) break; }
    case DType::BFloat16: { HY_FLOAT_UNARY(__nv_bfloat16) break; }
    case DType::Float32: { HY_FLOAT_UNARY(float) break; }
    case DType::Float64: { HY_FLOAT_UNARY(double) break; }
    default: break;
  }
#undef HY_FLOAT_UNARY
  throw NotImplementedError(str("CUDA floating unary kernel: dtype ", dtype_name(dtype), " is not supported"));
}

}  // namespace hy::cuda
