// max_dim/min_dim and argmax/argmin on the row engine (reduce_rows.cuh): each partial result carries the
// value and its column. The combine is the CPU's rule made order-free: the larger (smaller) value wins,
// NaN beats every number, and equal values (or two NaNs) go to the smaller column, so the first
// occurrence wins whichever way the threads and pieces of a row are combined.
#include "cuda/reduce_rows.cuh"

namespace hy::cuda {
namespace {

template <typename A>
struct ArgAcc {
  A v;
  int64_t i;  // -1: nothing seen yet
};

template <typename S>
struct ArgReducer {
  using A = compute_t<S>;
  using Acc = ArgAcc<A>;
  const S* in;
  int64_t cols;
  S* values;  // may be null (argmax)
  int64_t* indices;
  bool is_max;

  __device__ bool better(A x, A cur) const {
    if constexpr (std::is_floating_point_v<A>) {
      if (isnan(cur)) return false;
      if (isnan(x)) return true;
    }
    return is_max ? x > cur : x < cur;
  }
  __device__ Acc identity() const { return Acc{A(0), -1}; }
  __device__ Acc combine(const Acc& a, const Acc& b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    if (better(b.v, a.v)) return b;
    if (better(a.v, b.v)) return a;
    return b.i < a.i ? b : a;
  }
  __device__ Acc lift(int64_t row, int64_t c) const { return Acc{to_compute<A>(in[row * cols + c]), c}; }
  __device__ void store(int64_t row, const Acc& a) const {
    if (values) values[row] = from_compute<S>(a.v);
    indices[row] = a.i;
  }
};

}  // namespace

void launch_arg_rows(bool is_max, DType dtype, void* values, int64_t* indices, const void* in, int64_t rows,
                     int64_t cols, void* scratch, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
#define HY_ARG_AS(S)                                                                                        \
  run_reduce_rows(ArgReducer<S>{static_cast<const S*>(in), cols, static_cast<S*>(values), indices, is_max}, rows, \
                  cols, scratch, s)
  HY_CUDA_DTYPE_SWITCH(dtype, HY_ARG_AS,
                       throw NotImplementedError(str("CUDA argmax/argmin: dtype ", dtype_name(dtype),
                                                     " is not supported")))
#undef HY_ARG_AS
}

}  // namespace hy::cuda
