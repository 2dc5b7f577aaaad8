// dot and mv on the row engine (reduce_rows.cuh): row r of the result is the sum over c of
// a[r, c] * b[c], read through the operands' strides. float16/bfloat16 accumulate in float32 and
// float32/float64 in their own type, as the CPU's GEMM does; int32/int64 accumulate in int64 with
// wrapping arithmetic, which modulo 2^32 (2^64) is the CPU's exact wrapping loop.
#include "cuda/reduce_rows.cuh"

namespace hy::cuda {
namespace {

template <typename S>
struct DotReducer {
  using Acc = acc_t<S>;
  const S* a;
  int64_t a_row, a_col;
  const S* b;
  int64_t b_step;
  S* out;
  __device__ Acc identity() const { return Acc(0); }
  __device__ Acc combine(Acc x, Acc y) const { return wrap_add(x, y); }
  __device__ Acc lift(int64_t row, int64_t c) const {
    return wrap_mul(to_compute<Acc>(a[row * a_row + c * a_col]), to_compute<Acc>(b[c * b_step]));
  }
  __device__ void store(int64_t row, Acc x) const { out[row] = from_compute<S>(x); }
};

}  // namespace

void launch_dot_rows(DType dtype, void* out, const void* a, int64_t a_row, int64_t a_col, const void* b,
                     int64_t b_step, int64_t rows, int64_t cols, void* scratch, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
#define HY_DOT_AS(S)                                                                                        \
  run_reduce_rows(DotReducer<S>{static_cast<const S*>(a), a_row, a_col, static_cast<const S*>(b), b_step,  \
                                static_cast<S*>(out)},                                                     \
                  rows, cols, scratch, s)
  switch (dtype) {
    case DType::Int32: { HY_DOT_AS(int32_t); break; }
    case DType::Int64: { HY_DOT_AS(int64_t); break; }
    case DType::Float16: { HY_DOT_AS(__half); break; }
    case DType::BFloat16: { HY_DOT_AS(__nv_bfloat16); break; }
    case DType::Float32: { HY_DOT_AS(float); break; }
    case DType::Float64: { HY_DOT_AS(double); break; }
    default: throw NotImplementedError(str("CUDA dot/mv: dtype ", dtype_name(dtype), " is not supported"));
  }
#undef HY_DOT_AS
}

}  // namespace hy::cuda
