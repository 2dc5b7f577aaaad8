// sum, mean, amax/amin and max/min on the row engine (reduce_rows.cuh): one reducer per input type, so a
// cold build compiles 21 of them. The glue (kernels_reduce.cpp) converts inputs whose type would
// accumulate differently (an integer sum into float32, ...) before the launch and results after it.
#include "cuda/reduce_rows.cuh"

namespace hy::cuda {
namespace {

// Sum in acc_t<S>, stored as acc_out_t<S> after dividing by `divisor` (mean; 1 for sum).
template <typename S>
struct SumReducer {
  using Acc = acc_t<S>;
  using Out = acc_out_t<S>;
  const S* in;
  int64_t cols;
  Out* out;
  double divisor;
  __device__ Acc identity() const { return Acc(0); }
  __device__ Acc combine(Acc a, Acc b) const { return wrap_add(a, b); }
  __device__ Acc lift(int64_t row, int64_t c) const { return to_compute<Acc>(in[row * cols + c]); }
  __device__ void store(int64_t row, Acc a) const {
    if (divisor != 1.0) a = a / static_cast<Acc>(divisor);  // s / n, as the CPU's mean divides
    out[row] = from_compute<Out>(a);
  }
};

// The largest (smallest) element; NaN propagates. Compared in compute_t<S> (exact), stored as S.
template <typename S, bool IsMax>
struct ExtremeReducer {
  using Acc = compute_t<S>;
  const S* in;
  int64_t cols;
  S* out;
  __device__ Acc identity() const { return extreme_identity<IsMax, Acc>(); }
  __device__ Acc combine(Acc a, Acc b) const { return extreme_of<IsMax>(a, b); }
  __device__ Acc lift(int64_t row, int64_t c) const { return to_compute<Acc>(in[row * cols + c]); }
  __device__ void store(int64_t row, Acc a) const { out[row] = from_compute<S>(a); }
};

template <typename S>
void reduce_as(ReduceOp op, void* out, const void* in_raw, int64_t rows, int64_t cols, double divisor, void* scratch,
               cudaStream_t s) {
  const S* in = static_cast<const S*>(in_raw);
  switch (op) {
    case ReduceOp::ReduceOp_Sum:
      return run_reduce_rows(SumReducer<S>{in, cols, static_cast<acc_out_t<S>*>(out), divisor}, rows, cols, scratch, s);
    case ReduceOp::ReduceOp_Max:
      return run_reduce_rows(ExtremeReducer<S, true>{in, cols, static_cast<S*>(out)}, rows, cols, scratch, s);
    case ReduceOp::ReduceOp_Min:
      return run_reduce_rows(ExtremeReducer<S, false>{in, cols, static_cast<S*>(out)}, rows, cols, scratch, s);
    case ReduceOp::ReduceOp_Prod:
      break;
  }
  throw NotImplementedError("CUDA reduction: prod goes through launch_prod_rows");
}

}  // namespace

void launch_reduce_rows(ReduceOp op, DType in_dtype, void* out, const void* in, int64_t rows, int64_t cols,
                        double divisor, void* scratch, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
#define HY_REDUCE_AS(S) reduce_as<S>(op, out, in, rows, cols, divisor, scratch, s)
  HY_CUDA_DTYPE_SWITCH(in_dtype, HY_REDUCE_AS,
                       throw NotImplementedError(str("CUDA reduction: dtype ", dtype_name(in_dtype),
                                                     " is not supported yet")))
#undef HY_REDUCE_AS
}

}  // namespace hy::cuda
