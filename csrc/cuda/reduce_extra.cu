// prod, all/any, var/std, norm and logsumexp on the row engine (reduce_rows.cuh). var/std and logsumexp
// make two passes over each row as the CPU kernels do (the mean, then squared deviations from it; the
// max, then exp(x - max)), each pass one engine launch with the same reducer type and a pass flag.
#include "cuda/reduce_rows.cuh"

namespace hy::cuda {
namespace {

// Product in acc_t<S> (integers wrap modulo 2^64, as on the CPU), stored as acc_out_t<S>.
template <typename S>
struct ProdReducer {
  using Acc = acc_t<S>;
  using Out = acc_out_t<S>;
  const S* in;
  int64_t cols;
  Out* out;
  __device__ Acc identity() const { return Acc(1); }
  __device__ Acc combine(Acc a, Acc b) const { return wrap_mul(a, b); }
  __device__ Acc lift(int64_t row, int64_t c) const { return to_compute<Acc>(in[row * cols + c]); }
  __device__ void store(int64_t row, Acc a) const { out[row] = from_compute<Out>(a); }
};

struct AllAnyReducer {
  using Acc = int;
  const bool* in;
  int64_t cols;
  bool* out;
  bool all;
  __device__ Acc identity() const { return all ? 1 : 0; }
  __device__ Acc combine(Acc a, Acc b) const { return all ? (a & b) : (a | b); }
  __device__ Acc lift(int64_t row, int64_t c) const { return in[row * cols + c] ? 1 : 0; }
  __device__ void store(int64_t row, Acc a) const { out[row] = a != 0; }
};

// Pass 1 (!second): means[row] = sum(x) / n. Pass 2: out[row] = sum((x - mean)^2) / max(0, n - correction),
// its square root for std; both in acc_t<S> like the CPU's two passes.
template <typename S>
struct VarReducer {
  using Acc = acc_t<S>;
  const S* in;
  int64_t cols;
  Acc* means;
  S* out;
  double correction;
  bool second, take_sqrt;
  __device__ Acc identity() const { return Acc(0); }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Acc lift(int64_t row, int64_t c) const {
    const Acc x = to_compute<Acc>(in[row * cols + c]);
    if (!second) return x;
    const Acc d = x - means[row];
    return d * d;
  }
  __device__ void store(int64_t row, Acc a) const {
    const Acc n = static_cast<Acc>(cols);  // no elements: 0 / 0 = NaN, as on the CPU
    if (!second) {
      means[row] = a / n;
      return;
    }
    const Acc dof = n - static_cast<Acc>(correction);
    const Acc denom = Acc(0) < dof ? dof : Acc(0);  // std::max(0, n - correction), NaN-for-NaN as there
    const Acc v = a / denom;
    out[row] = from_compute<S>(take_sqrt ? sqrt(v) : v);
  }
};

template <typename S>
struct NormReducer {
  using Acc = acc_t<S>;
  const S* in;
  int64_t cols;
  S* out;
  NormKind kind;
  Acc p, inv_p;
  __device__ Acc identity() const {
    if (kind == NormKind::NormKind_MaxAbs) return extreme_identity<true, Acc>();
    if (kind == NormKind::NormKind_MinAbs) return extreme_identity<false, Acc>();
    return Acc(0);
  }
  __device__ Acc combine(Acc a, Acc b) const {
    if (kind == NormKind::NormKind_MaxAbs) return extreme_of<true>(a, b);
    if (kind == NormKind::NormKind_MinAbs) return extreme_of<false>(a, b);
    return a + b;
  }
  __device__ Acc lift(int64_t row, int64_t c) const {
    const Acc x = to_compute<Acc>(in[row * cols + c]);
    switch (kind) {
      case NormKind::NormKind_NonZero: return x != Acc(0) ? Acc(1) : Acc(0);
      case NormKind::NormKind_Euclid: return x * x;
      case NormKind::NormKind_Pow: return pow(fabs(x), p);
      default: return fabs(x);
    }
  }
  __device__ void store(int64_t row, Acc a) const {
    if (kind == NormKind::NormKind_Euclid) a = sqrt(a);
    else if (kind == NormKind::NormKind_Pow) a = pow(a, inv_p);
    out[row] = from_compute<S>(a);
  }
};

// Pass 1 (!second): shift[row] = the row max (NaN propagates), 0 when infinite. Pass 2:
// out[row] = log(sum(exp(x - shift))) + shift.
template <typename S>
struct LogSumExpReducer {
  using Acc = acc_t<S>;
  const S* in;
  int64_t cols;
  Acc* shift;
  S* out;
  bool second;
  __device__ Acc identity() const { return second ? Acc(0) : extreme_identity<true, Acc>(); }
  __device__ Acc combine(Acc a, Acc b) const { return second ? a + b : extreme_of<true>(a, b); }
  __device__ Acc lift(int64_t row, int64_t c) const {
    const Acc x = to_compute<Acc>(in[row * cols + c]);
    return second ? exp(x - shift[row]) : x;
  }
  __device__ void store(int64_t row, Acc a) const {
    if (!second) shift[row] = isinf(a) ? Acc(0) : a;
    else out[row] = from_compute<S>(log(a) + shift[row]);
  }
};

[[noreturn]] void unsupported(const char* what, DType dtype) {
  throw NotImplementedError(str("CUDA ", what, ": dtype ", dtype_name(dtype), " is not supported"));
}

}  // namespace

void launch_prod_rows(DType in_dtype, void* out, const void* in, int64_t rows, int64_t cols, void* scratch,
                      void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
#define HY_PROD_AS(S)                                                                                            \
  run_reduce_rows(ProdReducer<S>{static_cast<const S*>(in), cols, static_cast<acc_out_t<S>*>(out)}, rows, cols, \
                  scratch, s)
  HY_CUDA_DTYPE_SWITCH(in_dtype, HY_PROD_AS, unsupported("prod", in_dtype))
#undef HY_PROD_AS
}

void launch_all_any_rows(bool all, bool* out, const bool* in, int64_t rows, int64_t cols, void* scratch,
                         void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  run_reduce_rows(AllAnyReducer{in, cols, out, all}, rows, cols, scratch, s);
}

void launch_var_rows(DType dtype, void* out, void* means, const void* in, int64_t rows, int64_t cols,
                     double correction, bool take_sqrt, void* scratch, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
#define HY_VAR_AS(S)                                                                                      \
  {                                                                                                      \
    VarReducer<S> red{static_cast<const S*>(in), cols, static_cast<acc_t<S>*>(means), static_cast<S*>(out), \
                      correction, false, take_sqrt};                                                      \
    run_reduce_rows(red, rows, cols, scratch, s);                                                        \
    red.second = true;                                                                                   \
    run_reduce_rows(red, rows, cols, scratch, s);                                                        \
  }
  HY_CUDA_FLOAT_SWITCH(dtype, HY_VAR_AS, unsupported("var", dtype))
#undef HY_VAR_AS
}

void launch_norm_rows(DType dtype, NormKind kind, double p, void* out, const void* in, int64_t rows, int64_t cols,
                      void* scratch, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
#define HY_NORM_AS(S)                                                                                   \
  run_reduce_rows(NormReducer<S>{static_cast<const S*>(in), cols, static_cast<S*>(out), kind,           \
                                 static_cast<acc_t<S>>(p), static_cast<acc_t<S>>(1.0 / p)},            \
                  rows, cols, scratch, s)
  HY_CUDA_FLOAT_SWITCH(dtype, HY_NORM_AS, unsupported("norm", dtype))
#undef HY_NORM_AS
}

void launch_logsumexp_rows(DType dtype, void* out, void* shift, const void* in, int64_t rows, int64_t cols,
                           void* scratch, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
#define HY_LSE_AS(S)                                                                                          \
  {                                                                                                          \
    LogSumExpReducer<S> red{static_cast<const S*>(in), cols, static_cast<acc_t<S>*>(shift), static_cast<S*>(out), \
                            false};                                                                          \
    run_reduce_rows(red, rows, cols, scratch, s);                                                            \
    red.second = true;                                                                                       \
    run_reduce_rows(red, rows, cols, scratch, s);                                                            \
  }
  HY_CUDA_FLOAT_SWITCH(dtype, HY_LSE_AS, unsupported("logsumexp", dtype))
#undef HY_LSE_AS
}

}  // namespace hy::cuda
