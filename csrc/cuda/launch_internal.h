// The boundary between the CUDA kernels (.cu, compiled by nvcc) and their C++ glue (.cpp, compiled by
// the host compiler): plain pointers, dtypes and strided geometries, no Tensor and no CUDA types, so the
// .cu files include almost nothing and compile fast.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace hy::cuda {

/// Most dims an elementwise launch indexes (the glue refuses more with a clear error).
constexpr int kMaxDims = 8;

/// The iteration space of an elementwise launch over N tensors (output first): sizes and element strides;
/// `contiguous` when every tensor is dense row-major over the same shape (the vectorized path).
template <int N>
struct Geometry {
  int ndim = 0;
  int64_t numel = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
  bool contiguous = true;
};

/// Binary ops whose element math is the op table's `scalar:` expression (hy::scalar_ops).
enum class BinaryOp { BinaryOp_Add, BinaryOp_Sub, BinaryOp_Mul, BinaryOp_Div, BinaryOp_Maximum, BinaryOp_Minimum, BinaryOp_Pow };
/// Unary ops, likewise.
enum class UnaryOp {
  UnaryOp_Neg, UnaryOp_Abs, UnaryOp_Relu, UnaryOp_Exp, UnaryOp_Log, UnaryOp_Sqrt, UnaryOp_Sigmoid,
  UnaryOp_Tanh, UnaryOp_Sin, UnaryOp_Cos, UnaryOp_Square
};
/// Comparisons: inputs of one dtype, a bool output.
enum class CompareOp { CompareOp_Eq, CompareOp_Ne, CompareOp_Lt, CompareOp_Le, CompareOp_Gt, CompareOp_Ge };
enum class ReduceOp { ReduceOp_Sum, ReduceOp_Max, ReduceOp_Min };

/// Streams cross this boundary as void* (a cudaStream_t).
void launch_binary(BinaryOp op, DType dtype, double alpha, void* out, const void* a, const void* b,
                   const Geometry<3>& g, void* stream);
void launch_compare(CompareOp op, DType dtype, void* out, const void* a, const void* b, const Geometry<3>& g,
                    void* stream);
void launch_unary(UnaryOp op, DType dtype, void* out, const void* in, const Geometry<2>& g, void* stream);
/// out[i] = static_cast<out dtype>(in[i]) over the geometry (copies, casts, broadcasts).
void launch_copy(DType out_dtype, DType in_dtype, void* out, const void* in, const Geometry<2>& g, void* stream);
/// A dense buffer of `numel` elements set to `value`.
void launch_fill(DType dtype, void* out, double value, int64_t numel, void* stream);
/// Row reduction of a dense [rows, cols] input into `rows` outputs of `out_dtype`, times `scale` (mean).
void launch_reduce_rows(ReduceOp op, DType in_dtype, DType out_dtype, void* out, const void* in, int64_t rows,
                        int64_t cols, double scale, void* stream);
/// softmax (or log_softmax) of each row of a dense [rows, cols] floating input; `out` may be `in`.
/// Philox draws into a dense floating buffer: uniform in [a, b), or normal with mean a and std b.
void launch_random(bool normal, DType dtype, void* out, int64_t numel, uint64_t key, uint64_t base, double a,
                   double b, void* stream);
void launch_softmax_rows(bool log, DType dtype, void* out, const void* in, int64_t rows, int64_t cols, void* stream);
/// layer_norm of each row of a dense [rows, cols] input of `dtype`: `out` in that dtype, `mean`/`rstd` (one
/// per row) and `weight`/`bias` (cols each, either may be null) in float32 (float64 for a float64 input).
void launch_layer_norm_rows(DType dtype, void* out, void* mean, void* rstd, const void* in, const void* weight,
                            const void* bias, int64_t rows, int64_t cols, double eps, void* stream);
/// Its backward: `dx` like the input; `dw`/`db` (cols each, the statistics' dtype) summed over rows in order.
void launch_layer_norm_backward_rows(DType dtype, void* dx, void* dw, void* db, const void* grad, const void* in,
                                     const void* mean, const void* rstd, const void* weight, int64_t rows,
                                     int64_t cols, void* stream);

}  // namespace hy::cuda
