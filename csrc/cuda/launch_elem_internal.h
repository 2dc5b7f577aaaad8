// The .cu <-> .cpp boundary of the second batch of elementwise kernels (unary_math.cu, unary_exact.cu,
// binary_extra.cu, ternary.cu, creation.cu), in the style of launch_internal.h: plain pointers, dtypes and
// strided geometries. Each launch accepts only the storage dtypes its ops' dtype rules can produce (the
// glue converts first); any other dtype raises NotImplementedError naming the launch and the dtype.
#pragma once
#include <cstdint>

#include "cuda/launch_internal.h"

namespace hy::cuda {

// --- unary_math.cu: ops with a floating result (dtype_rule promote_float) --------------------------------
/// Element math: the op table's generated hy::scalar_ops functor. Storage dtypes float16, bfloat16 (computed
/// in float32, rounded once), float32, float64. `p0`/`p1`: softplus's beta and threshold (unused otherwise).
enum class FloatUnaryOp {
  FloatUnaryOp_Expm1, FloatUnaryOp_Log1p, FloatUnaryOp_Rsqrt, FloatUnaryOp_Tan, FloatUnaryOp_GeluNone,
  FloatUnaryOp_GeluTanh, FloatUnaryOp_Silu, FloatUnaryOp_Softplus, FloatUnaryOp_Erf, FloatUnaryOp_Reciprocal
};
void launch_float_unary(FloatUnaryOp op, DType dtype, double p0, double p1, void* out, const void* in,
                        const Geometry<2>& g, void* stream);

// --- unary_exact.cu: ops that keep the dtype, and predicates ---------------------------------------------
/// Sign: int32, int64 and the floating dtypes. Floor/Ceil/Trunc/RoundWhole/RoundUp/RoundDown: floating
/// dtypes only (an integer is its own floor: the glue copies). RoundIntDown: int32/int64 (round to
/// 10^-decimals, ties to even, exactly). BitwiseNot: bool, int32, int64.
enum class ExactUnaryOp {
  ExactUnaryOp_Sign, ExactUnaryOp_Floor, ExactUnaryOp_Ceil, ExactUnaryOp_Trunc, ExactUnaryOp_RoundWhole,
  ExactUnaryOp_RoundUp, ExactUnaryOp_RoundDown, ExactUnaryOp_RoundIntDown, ExactUnaryOp_BitwiseNot
};
void launch_exact_unary(ExactUnaryOp op, DType dtype, int64_t decimals, void* out, const void* in,
                        const Geometry<2>& g, void* stream);
/// Bool results. IsNan/IsInf/IsFinite: floating inputs (integers and bools are constant: the glue fills);
/// LogicalNot: any non-complex input dtype.
enum class PredicateOp { PredicateOp_IsNan, PredicateOp_IsInf, PredicateOp_IsFinite, PredicateOp_LogicalNot };
void launch_predicate(PredicateOp op, DType in_dtype, bool* out, const void* in, const Geometry<2>& g,
                      void* stream);

// --- binary_extra.cu ---------------------------------------------------------------------------------------
/// Both inputs and the output in `dtype`. FloorDivide/Remainder/DivTrunc: int32, int64 and the floating
/// dtypes (the glue has refused integer division by zero first). Atan2/GeluBackward/ReluBackward: the
/// floating dtypes. Bitwise*: bool, int32, int64.
enum class BinaryExtraOp {
  BinaryExtraOp_FloorDivide, BinaryExtraOp_Remainder, BinaryExtraOp_DivTrunc, BinaryExtraOp_Atan2,
  BinaryExtraOp_GeluBackward, BinaryExtraOp_ReluBackward, BinaryExtraOp_BitwiseAnd, BinaryExtraOp_BitwiseOr,
  BinaryExtraOp_BitwiseXor
};
void launch_binary_extra(BinaryExtraOp op, DType dtype, void* out, const void* a, const void* b,
                         const Geometry<3>& g, void* stream);
/// Logical ops on bool inputs (the glue converts others to bool, as the CPU does), bool output.
enum class LogicalOp { LogicalOp_And, LogicalOp_Or, LogicalOp_Xor };
void launch_logical(LogicalOp op, bool* out, const bool* a, const bool* b, const Geometry<3>& g, void* stream);
/// isclose of two inputs of one floating dtype, bool output.
void launch_isclose(DType dtype, double rtol, double atol, bool equal_nan, bool* out, const void* a,
                    const void* b, const Geometry<3>& g, void* stream);
/// Sets *found (device memory, zeroed by the caller) to 1 when an element of tensor 0 of the geometry (int32,
/// int64 or bool) is zero: the check before an integer division.
void launch_any_zero(DType dtype, const void* data, const Geometry<2>& g, int32_t* found, void* stream);

// --- ternary.cu ------------------------------------------------------------------------------------------
/// out = condition ? a : b over a geometry of (out, condition, a, b); elements are moved as raw bits of
/// `itemsize` bytes (1, 2, 4 or 8: complex operands are refused before any kernel), so every dtype takes
/// one of four kernels.
void launch_where(int itemsize, void* out, const bool* condition, const void* a, const void* b,
                  const Geometry<4>& g, void* stream);
/// clamp with tensor bounds, all of `dtype` (int32, int64, floating): both bounds over (out, x, lo, hi)...
void launch_clamp2(DType dtype, void* out, const void* x, const void* lo, const void* hi, const Geometry<4>& g,
                   void* stream);
/// ...or one bound over (out, x, bound).
void launch_clamp1(bool is_min, DType dtype, void* out, const void* x, const void* bound, const Geometry<3>& g,
                   void* stream);
/// clamp with number bounds, already converted on the host to the compute type of `dtype` (exactly as the
/// CPU converts them): integer dtypes read lo_i/hi_i, floating ones lo_f/hi_f (float32 compute: a double
/// holding the float32 value).
struct ClampScalars {
  bool has_lo = false, has_hi = false;
  int64_t lo_i = 0, hi_i = 0;
  double lo_f = 0, hi_f = 0;
};
void launch_clamp_scalar(DType dtype, const ClampScalars& bounds, void* out, const void* x, const Geometry<2>& g,
                         void* stream);

// --- creation.cu -----------------------------------------------------------------------------------------
/// arange into a dense buffer of n elements: start_i + i * step_i (int64, wrapping) when `int_values`, else
/// start + i * step in double (each product and sum rounded on its own, as the CPU computes it), then
/// converted to `dtype`.
void launch_arange(DType dtype, void* out, int64_t n, bool int_values, int64_t start_i, int64_t step_i,
                   double start, double step, void* stream);
/// linspace: the first half from start, the rest from end (the CPU's formula, no fused multiply-adds).
void launch_linspace(DType dtype, void* out, int64_t steps, double start, double end, double step, void* stream);
/// A dense rows x cols identity matrix.
void launch_eye(DType dtype, void* out, int64_t rows, int64_t cols, void* stream);
/// tril/triu over a geometry of (out, in) whose last two dims are the matrix: elements with col - row <=
/// diagonal (lower) or >= diagonal (upper) are copied as raw bits of `itemsize` bytes, the rest zeroed.
void launch_triangle(bool lower, int itemsize, void* out, const void* in, const Geometry<2>& g, int64_t diagonal,
                     void* stream);

}  // namespace hy::cuda
