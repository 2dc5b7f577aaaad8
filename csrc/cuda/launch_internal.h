// The boundary between the CUDA kernels (.cu, compiled by nvcc) and their C++ glue (.cpp, compiled by
// the host compiler): plain pointers, dtypes and strided geometries, no Tensor and no CUDA types, so the
// .cu files include almost nothing and compile fast.
#pragma once
#include <cstddef>
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
/// softmax (or log_softmax) of each row of a dense [rows, cols] floating input; `out` may be `in`.
/// Philox draws into a dense floating buffer: uniform in [a, b), or normal with mean a and std b.
void launch_random(bool normal, DType dtype, void* out, int64_t numel, uint64_t key, uint64_t base, double a,
                   double b, void* stream);
/// randint: low + (64 random bits * range >> 64) per element (Philox on (key, base + i)), as on the CPU.
void launch_randint(DType dtype, void* out, int64_t numel, uint64_t key, uint64_t base, int64_t low, uint64_t range,
                    void* stream);
/// multinomial over dense float64 weights [rows, n]: first the per-row validity (status, see random.cu),
/// then the draws into out [rows, num_samples]; scratch holds rows * n doubles.
void launch_multinomial_check(const double* weights, int64_t rows, int64_t n, int64_t num_samples, bool replacement,
                              int64_t* status, void* stream);
void launch_multinomial(const double* weights, int64_t rows, int64_t n, int64_t num_samples, bool replacement,
                        uint64_t key, uint64_t base, double* scratch, int64_t* out, void* stream);
void launch_softmax_rows(bool log, DType dtype, void* out, const void* in, int64_t rows, int64_t cols, void* stream);
/// layer_norm of each row of a dense [rows, cols] input of `dtype`: `out` in that dtype, `mean`/`rstd` (one
/// per row) and `weight`/`bias` (cols each, either may be null) in float32 (float64 for a float64 input).
void launch_layer_norm_rows(DType dtype, void* out, void* mean, void* rstd, const void* in, const void* weight,
                            const void* bias, int64_t rows, int64_t cols, double eps, void* stream);
/// Its backward: `dx` like the input; `dw`/`db` (cols each, the statistics' dtype) summed over rows in order.
void launch_layer_norm_backward_rows(DType dtype, void* dx, void* dw, void* db, const void* grad, const void* in,
                                     const void* mean, const void* rstd, const void* weight, int64_t rows,
                                     int64_t cols, void* stream);

// --- stencils (stencil.cu) ---------------------------------------------------------------------------
enum class StencilOp { StencilOp_Laplacian, StencilOp_Gradient, StencilOp_Divergence };
/// A checked stencil grid (kernels/stencil_grid.h) as the kernel reads it: dense [batch, (nd,) grid]
/// data, weights w[k] per grid axis (1/h^2 for the laplacian, 1/(2h) for differences), boundary 0
/// periodic, 1 dirichlet, 2 neumann.
struct StencilGeometry {
  int nd = 0;
  int boundary = 0;
  int64_t n[3] = {1, 1, 1};
  int64_t stride[3] = {0, 0, 0};
  double w[3] = {0, 0, 0};
  int64_t points = 0;
  int64_t batch = 0;
};
/// One thread per grid point, float32 or float64 (the CPU's compute dtypes), the CPU kernels'
/// expressions in their order, products rounded separately (no fused multiply-adds).
void launch_stencil(StencilOp op, DType dtype, void* out, const void* in, const StencilGeometry& g, double value,
                    void* stream);

// --- convolution and pooling (conv.cu) ------------------------------------------------------------------
/// The checked geometry of an im2col/col2im/pooling call (N, C, H, W input; kernel, dilation, padding,
/// stride; Ho, Wo output).
struct ConvGeometry {
  int64_t n, c, h, w, kh, kw, dh, dw, ph, pw, sh, sw, ho, wo;
};
/// im2col into a dense (C*kh*kw, N, Ho*Wo) block from a dense (N, C, H, W) input (float32/float64).
void launch_im2col(DType dtype, void* block, const void* in, const ConvGeometry& g, void* stream);
/// col2im: each input element sums its patch entries (kernel taps in row-major order) from `cols`, an
/// (N, Ho*Wo, C*kh*kw) tensor read through its element strides; no atomics, so the result is the same
/// run after run.
void launch_col2im(DType dtype, void* out, const void* cols, const int64_t (&col_strides)[3], const ConvGeometry& g,
                   void* stream);
/// Max pooling of a dense input: values and int64 indices (into H*W) of each window's first maximum, or
/// its first NaN (the CPU kernel's rule).
void launch_max_pool2d(DType dtype, void* out, int64_t* indices, const void* in, const ConvGeometry& g, void* stream);

// --- fused optimizer steps (optim.cu) -----------------------------------------------------------------
/// A piece of at most kOptimChunk elements of one parameter: its tensors (state pointers null when
/// unused) and the element range. The chunks of every parameter of a step go to the device as one table,
/// so one launch updates all of them (multi-tensor apply).
struct OptimChunk {
  void* param;
  const void* grad;
  void* state[3];  // SGD: momentum buffer; Adam: exp_avg, exp_avg_sq, max_exp_avg_sq
  int64_t begin, end;
};
constexpr int64_t kOptimChunk = 65536;
struct SgdHyper {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize, first_step, use_momentum;
};
struct AdamHyper {
  double lr, beta1, beta2, weight_decay, eps, bias_correction1, bias_correction2_sqrt;
  bool amsgrad, decoupled, maximize;
};
/// `chunks` is the device copy of the table (n entries); float32 or float64.
void launch_fused_sgd(DType dtype, const OptimChunk* chunks, int64_t n, const SgdHyper& h, void* stream);
void launch_fused_adam(DType dtype, const OptimChunk* chunks, int64_t n, const AdamHyper& h, void* stream);

// --- indexing (gather_scatter.cu) -------------------------------------------------------------------
/// Index entries (int64, over the geometry's tensor 0) outside [0, size): the smallest bad position in
/// row-major order is written to *first_bad (device memory set to all ones beforehand, "none").
void launch_index_check(const int64_t* index, const Geometry<2>& g, int64_t size, unsigned long long* first_bad,
                        void* stream);
/// out[p] = base[p + index[p] * dim_stride] over the geometry (out, base, int64 index), elements moved as
/// `itemsize` raw bytes (gather, index_select: the CPU kernels' "base view" with stride 0 along dim).
void launch_gather(int itemsize, void* out, const void* base, const int64_t* index, int64_t dim_stride,
                   const Geometry<3>& g, void* stream);
/// Deterministic scatter-add, *(target + p + index[p] * dim_stride) += src[p] over the geometry
/// (target view, int64 index, src of the target's dtype): the entries are sorted by the element they
/// write (stable radix sort, so repeats keep their row-major order) and each run of one element is
/// summed by one thread in that order, the CPU kernel's order: results are bit-identical to the CPU's.
/// `key_bits` bounds the target offsets; scratch comes from the caller (scatter_add_scratch_bytes).
size_t scatter_add_scratch_bytes(int64_t n, int key_bits);
void launch_scatter_add(DType dtype, void* target, const int64_t* index, const void* src, int64_t dim_stride,
                        const Geometry<3>& g, int key_bits, void* scratch, size_t scratch_bytes, void* stream);
/// out[p] = value (its storage bytes, `itemsize` wide) where mask[p] is true, over (out, bool mask).
void launch_masked_fill(int itemsize, void* out, const bool* mask, uint64_t value_bits, const Geometry<2>& g,
                        void* stream);

// --- reductions (the row engine of reduce_rows.cuh: reduce.cu, reduce_extra.cu, reduce_arg.cu, linalg_vec.cu) ---
// Every reduction sees its input as a dense [rows, cols] buffer and reduces each row to one output (the
// glue moves the reduced dims last). Rows too few to fill the GPU are split into pieces of at least
// kReducePiece elements whose partial results a second launch combines: the plan depends on the shape
// only, so results are the same run after run and on every GPU. The partial results live in scratch
// memory from the caller, reduce_scratch_bytes(rows, cols) bytes (none when 0; pass nullptr).
constexpr int64_t kReducePiece = 16384;
constexpr int64_t kReduceTargetTasks = 1024;
/// Bytes of one partial result (the largest accumulator: a value and its int64 index).
constexpr int64_t kReduceAccBytes = 16;
inline int64_t reduce_row_pieces(int64_t rows, int64_t cols) {
  if (rows >= kReduceTargetTasks / 2 || cols < 2 * kReducePiece) return 1;
  const int64_t want = (kReduceTargetTasks + rows - 1) / rows, most = cols / kReducePiece;
  return want < most ? want : most;
}
inline size_t reduce_scratch_bytes(int64_t rows, int64_t cols) {
  const int64_t pieces = reduce_row_pieces(rows, cols);
  return pieces > 1 ? static_cast<size_t>(rows * pieces * kReduceAccBytes) : 0;
}

enum class ReduceOp { ReduceOp_Sum, ReduceOp_Max, ReduceOp_Min, ReduceOp_Prod };
/// sum/prod (accumulating in float for float16/bfloat16/float32, double, int64 for bool and integers; the
/// result divided by `divisor` for mean) and max/min (NaN propagates) of each row. `out` has in_dtype for
/// floating inputs and for max/min, int64 for sum/prod of bool and integers. Sum/Max/Min: reduce.cu;
/// Prod: reduce_extra.cu.
void launch_reduce_rows(ReduceOp op, DType in_dtype, void* out, const void* in, int64_t rows, int64_t cols,
                        double divisor, void* scratch, void* stream);
void launch_prod_rows(DType in_dtype, void* out, const void* in, int64_t rows, int64_t cols, void* scratch,
                      void* stream);
/// all (or any) of each row of a bool input.
void launch_all_any_rows(bool all, bool* out, const bool* in, int64_t rows, int64_t cols, void* scratch,
                         void* stream);
/// var (take_sqrt: std) of each row of a floating input in two passes: the row means into `means` (rows
/// entries of the compute dtype: float32, or float64 for float64), then sum((x - mean)^2) / max(0, n -
/// correction), written in the input's dtype.
void launch_var_rows(DType dtype, void* out, void* means, const void* in, int64_t rows, int64_t cols,
                     double correction, bool take_sqrt, void* scratch, void* stream);
/// Which vector norm (the CPU's cases of p): max |x| (inf), min |x| (-inf), count of nonzeros (0), sum |x|
/// (1), sqrt(sum x^2) (2), (sum |x|^p)^(1/p) (any other p).
enum class NormKind { NormKind_MaxAbs, NormKind_MinAbs, NormKind_NonZero, NormKind_AbsSum, NormKind_Euclid, NormKind_Pow };
void launch_norm_rows(DType dtype, NormKind kind, double p, void* out, const void* in, int64_t rows, int64_t cols,
                      void* scratch, void* stream);
/// logsumexp of each row of a floating input: the row max into `shift` (rows entries of the compute
/// dtype; an infinite max shifts by 0), then log(sum exp(x - shift)) + shift in the input's dtype.
void launch_logsumexp_rows(DType dtype, void* out, void* shift, const void* in, int64_t rows, int64_t cols,
                           void* scratch, void* stream);
/// The first largest (is_max) or smallest element of each row: its value into `values` (in_dtype; may be
/// null) and its column into `indices`. NaN counts as the extreme (the first NaN wins), as on the CPU.
/// reduce_arg.cu.
void launch_arg_rows(bool is_max, DType dtype, void* values, int64_t* indices, const void* in, int64_t rows,
                     int64_t cols, void* scratch, void* stream);
/// out[r] = sum over c of a[r * a_row + c * a_col] * b[c * b_step] (dot: one row; mv), all of `dtype`:
/// float16/bfloat16 accumulate in float32, integers in int64 and wrap to the dtype. linalg_vec.cu.
void launch_dot_rows(DType dtype, void* out, const void* a, int64_t a_row, int64_t a_col, const void* b,
                     int64_t b_step, int64_t rows, int64_t cols, void* scratch, void* stream);

// --- scans (scan.cu) ------------------------------------------------------------------------------------
/// Inclusive cumsum (or cumprod) along each row of a dense [rows, cols] buffer of int64, float32 or float64
/// into `out` (same dtype): one CUB scan-by-key over all rows (key = row), accumulating in int64
/// (wrapping) or float64. Scratch: scan_scratch_bytes(dtype, prod, rows * cols) bytes from the caller.
size_t scan_scratch_bytes(DType dtype, bool prod, int64_t n);
void launch_scan_rows(DType dtype, bool prod, void* out, const void* in, int64_t rows, int64_t cols, void* scratch,
                      size_t scratch_bytes, void* stream);

// --- complex arithmetic and scaling (complex.cu) ---------------------------------------------------------
enum class ComplexOp { ComplexOp_Mul, ComplexOp_Div };
/// out = a * b (or a / b) over the geometry, complex64 or complex128 elements of one dtype.
void launch_complex_binary(ComplexOp op, DType dtype, void* out, const void* a, const void* b, const Geometry<3>& g,
                           void* stream);
/// data[i] *= scale over a dense buffer of n float32 or float64 values (scale rounded to the dtype
/// first, as the CPU's FFTs scale): the FFT normalizations, applied to the (re, im) parts.
void launch_scale(DType dtype, void* data, int64_t n, double scale, void* stream);

// --- index-mapped copies (shape_copy.cu): flip, pad, repeat, tile ----------------------------------------
/// Most dims of an index-mapped copy.
constexpr int kMaxMapDims = 16;
/// How an output coordinate c along one dim becomes a source coordinate (source size n).
enum class AxisMap : uint8_t {
  AxisMap_Same,    // c
  AxisMap_Flip,    // n - 1 - c
  AxisMap_Repeat,  // c % n
  AxisMap_Pad,     // c - before, mapped into [0, n) by the pad mode (constant: outside writes fill_bits)
};
enum class PadMode : uint8_t { PadMode_Constant, PadMode_Reflect, PadMode_Replicate, PadMode_Circular };
struct IndexMapGeometry {
  int ndim = 0;
  int64_t numel = 0;  // of the (dense, row-major) output
  int64_t out_sizes[kMaxMapDims] = {};
  int64_t in_sizes[kMaxMapDims] = {};
  int64_t in_strides[kMaxMapDims] = {};  // elements
  int64_t before[kMaxMapDims] = {};      // AxisMap_Pad: the left padding (negative: a crop)
  AxisMap map[kMaxMapDims] = {};
  PadMode mode = PadMode::PadMode_Constant;
  uint64_t fill_bits = 0;  // the constant pad value in the element's storage format
};
/// out (dense) = in read through the geometry, moving `itemsize`-byte elements (1, 2, 4, 8 or 16).
void launch_index_map_copy(int itemsize, void* out, const void* in, const IndexMapGeometry& g, void* stream);

}  // namespace hy::cuda
