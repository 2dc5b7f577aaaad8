// Unary ops that keep their input's dtype (sign, floor, ceil, trunc, round, bitwise_not) and the bool
// predicates (isnan, isinf, isfinite, logical_not). The element math is each op's generated
// hy::scalar_ops functor. Each op is instantiated only for the storage types it can receive: rounding for
// the floating types (an integer is its own floor: the glue copies it), bitwise_not for bool and integers,
// the float predicates for floating inputs (integers and bools give a constant: the glue fills).
#include "cuda/elementwise.cuh"
#include "cuda/launch_elem_internal.h"
#include "hyflow/ops/scalar_ops_generated.h"

namespace hy::cuda {
namespace {

template <typename S, typename F>
void run(F f, void* out, const void* in, const Geometry<2>& g, void* stream) {
  launch_elementwise<S, S, 1>(static_cast<S*>(out), InPtrs<S, 1>{{static_cast<const S*>(in)}}, g, f, stream);
}

template <typename S, typename F>
void run_bool(F f, bool* out, const void* in, const Geometry<2>& g, void* stream) {
  launch_elementwise<S, bool, 1>(out, InPtrs<S, 1>{{static_cast<const S*>(in)}}, g, f, stream);
}

// Ops of one family that share their dtypes are one kernel with the op as a flag (uniform across a
// launch) instead of one instantiation each: less to compile, the same generated functors.
struct WholeRounding {
  ExactUnaryOp op;
  template <typename T> __device__ T operator()(T x) const {
    switch (op) {
      case ExactUnaryOp::ExactUnaryOp_Floor: return hy::scalar_ops::floor{}(x);
      case ExactUnaryOp::ExactUnaryOp_Ceil: return hy::scalar_ops::ceil{}(x);
      case ExactUnaryOp::ExactUnaryOp_Trunc: return hy::scalar_ops::trunc{}(x);
      default: return hy::scalar_ops::round_whole{}(x);
    }
  }
};

struct FloatClass {
  PredicateOp op;
  template <typename T> __device__ bool operator()(T x) const {
    if (op == PredicateOp::PredicateOp_IsNan) return hy::scalar_ops::isnan{}(x);
    if (op == PredicateOp::PredicateOp_IsInf) return hy::scalar_ops::isinf{}(x);
    return hy::scalar_ops::isfinite{}(x);
  }
};

[[noreturn]] void unsupported(const char* what, DType dtype) {
  throw NotImplementedError(str("CUDA ", what, " kernel: dtype ", dtype_name(dtype), " is not supported"));
}

}  // namespace

#define HY_CASE(D, S, ...) \
  case DType::D: { using S_ = S; __VA_ARGS__; return; }
#define HY_FLOAT_CASES(...)                   \
  HY_CASE(Float16, __half, __VA_ARGS__)       \
  HY_CASE(BFloat16, __nv_bfloat16, __VA_ARGS__) \
  HY_CASE(Float32, float, __VA_ARGS__)        \
  HY_CASE(Float64, double, __VA_ARGS__)
#define HY_INT_CASES(...)              \
  HY_CASE(Int32, int32_t, __VA_ARGS__) \
  HY_CASE(Int64, int64_t, __VA_ARGS__)

void launch_exact_unary(ExactUnaryOp op, DType dtype, int64_t decimals, void* out, const void* in,
                        const Geometry<2>& g, void* stream) {
  namespace so = hy::scalar_ops;
  using O = ExactUnaryOp;
  switch (op) {
    case O::ExactUnaryOp_Sign:
      switch (dtype) {
        HY_INT_CASES(run<S_>(so::sign{}, out, in, g, stream))
        HY_FLOAT_CASES(run<S_>(so::sign{}, out, in, g, stream))
        default: break;
      }
      break;
    case O::ExactUnaryOp_Floor:
    case O::ExactUnaryOp_Ceil:
    case O::ExactUnaryOp_Trunc:
    case O::ExactUnaryOp_RoundWhole:
      switch (dtype) { HY_FLOAT_CASES(run<S_>(WholeRounding{op}, out, in, g, stream)) default: break; }
      break;
    case O::ExactUnaryOp_RoundUp:
      switch (dtype) { HY_FLOAT_CASES(run<S_>(so::round_up(decimals), out, in, g, stream)) default: break; }
      break;
    case O::ExactUnaryOp_RoundDown:
      switch (dtype) { HY_FLOAT_CASES(run<S_>(so::round_down(decimals), out, in, g, stream)) default: break; }
      break;
    case O::ExactUnaryOp_RoundIntDown:
      switch (dtype) { HY_INT_CASES(run<S_>(so::round_int_down(decimals), out, in, g, stream)) default: break; }
      break;
    case O::ExactUnaryOp_BitwiseNot:
      switch (dtype) {
        HY_CASE(Bool, bool, run<S_>(so::bitwise_not{}, out, in, g, stream))
        HY_INT_CASES(run<S_>(so::bitwise_not{}, out, in, g, stream))
        default: break;
      }
      break;
  }
  unsupported("unary", dtype);
}

void launch_predicate(PredicateOp op, DType in_dtype, bool* out, const void* in, const Geometry<2>& g,
                      void* stream) {
  namespace so = hy::scalar_ops;
  using O = PredicateOp;
  switch (op) {
    case O::PredicateOp_IsNan:
    case O::PredicateOp_IsInf:
    case O::PredicateOp_IsFinite:
      switch (in_dtype) { HY_FLOAT_CASES(run_bool<S_>(FloatClass{op}, out, in, g, stream)) default: break; }
      break;
    case O::PredicateOp_LogicalNot:
      switch (in_dtype) {
        HY_CASE(Bool, bool, run_bool<S_>(so::logical_not{}, out, in, g, stream))
        HY_INT_CASES(run_bool<S_>(so::logical_not{}, out, in, g, stream))
        HY_FLOAT_CASES(run_bool<S_>(so::logical_not{}, out, in, g, stream))
        default: break;
      }
      break;
  }
  unsupported("predicate", in_dtype);
}

#undef HY_INT_CASES
#undef HY_FLOAT_CASES
#undef HY_CASE

}  // namespace hy::cuda
