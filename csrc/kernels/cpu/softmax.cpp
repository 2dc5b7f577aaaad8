// Ops that reduce along one dim but keep the shape (the op table's reduce family, part 3): softmax,
// log_softmax, cumsum and cumprod. All see their input as the [P, R, Q] layout of reduce_impl.h with R the
// dim being normalized or scanned.
//
// GCC 12 reports false (maybe-)uninitialized warnings inside its own AVX-512 intrinsics once the packet
// exp/log are inlined here; the pragmas must precede the includes.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "hyflow/ops/ops_common.h"
#include "kernels/cpu/packet_math.h"
#include "kernels/cpu/reduce_impl.h"

namespace hy::kernels::cpu {
using namespace hy::cpu;  // NOLINT: the reduction engine's vocabulary
using hy::eigen_packet::exp_of;
using hy::eigen_packet::log_of;
using std::optional;

namespace {

/// exp and log cost tens of cycles an element: go parallel at fewer elements than plain arithmetic.
constexpr int64_t kGrainSoftmax = kGrainElementwise / 4;

template <typename T> using EigenArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;

// One row of R contiguous elements, normalized in cache: max, exp and sum, scale.
template <typename T, bool Log>
void softmax_row(const T* x, T* y, int64_t n) {
  EigenSpan<T> a(x, n);
  EigenArrayMap<T> b(y, n);
  const T m = a.template maxCoeff<Eigen::PropagateNaN>();  // a row of -inf gives NaN, as in torch
  if constexpr (Log) {
    b = a - m;
    b -= std::log(exp_of(b).sum());
  } else {
    b = exp_of(a - m);
    b *= T(1) / b.sum();
  }
}

// Softmax down the columns of one [R, n] block whose rows are `stride` apart: column max, then
// exp(x - max) written out while the column sums accumulate, then one scaling pass (one exp an element).
template <typename T, bool Log>
void softmax_columns(const T* x, T* y, int64_t R, int64_t n, int64_t stride, T* m, T* s) {
  EigenArrayMap<T> mx(m, n), sum(s, n);
  std::copy(x, x + n, m);
  for (int64_t r = 1; r < R; ++r) {
    const T* row = x + r * stride;
    for (int64_t j = 0; j < n; ++j) m[j] = ExtremeReducer<T, true>::pick(m[j], row[j]);
  }
  sum.setZero();
  for (int64_t r = 0; r < R; ++r) {
    EigenSpan<T> a(x + r * stride, n);
    if constexpr (Log) {
      sum += exp_of(a - mx);
    } else {
      EigenArrayMap<T> b(y + r * stride, n);
      b = exp_of(a - mx);
      sum += b;
    }
  }
  if constexpr (Log) {
    sum = mx + log_of(sum);  // y = x - (max + log(sum))
    for (int64_t r = 0; r < R; ++r) EigenArrayMap<T>(y + r * stride, n) = EigenSpan<T>(x + r * stride, n) - sum;
  } else {
    sum = sum.inverse();
    for (int64_t r = 0; r < R; ++r) EigenArrayMap<T>(y + r * stride, n) *= sum;
  }
}

// y = softmax of x along R for every (p, q). Rows, and blocks of columns of an outer dim, run fused in
// one task each; a few very long rows, or a very tall outer dim with few columns, use the reduction
// engine (which splits rows across threads) for the max and the sum, then one elementwise pass.
template <typename T, bool Log>
void softmax_kernel(const ReduceInput& in, T* y) {
  const T* x = in.data.template data<T>();
  const int64_t P = in.P, R = in.R, Q = in.Q;
  if (P * R * Q == 0) return;
  const bool long_rows = P < kReduceFewOutputs && R > kReduceChunk;
  if (Q == 1 && !long_rows) {
    parallel_for(0, P, std::max<int64_t>(1, kGrainSoftmax / R), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) softmax_row<T, Log>(x + p * R, y + p * R, R);
    });
    return;
  }
  const int64_t qblock = std::min(Q, kReduceColumnBlock);
  const int64_t nqb = (Q + qblock - 1) / qblock;
  if (Q > 1 && (P * nqb >= 2 || !long_rows)) {
    parallel_for(0, P * nqb, std::max<int64_t>(1, kGrainSoftmax / (R * qblock)), [&](int64_t b, int64_t e) {
      std::vector<T> m(static_cast<size_t>(qblock)), s(static_cast<size_t>(qblock));
      for (int64_t t = b; t < e; ++t) {
        const int64_t p = t / nqb, q0 = (t % nqb) * qblock, off = p * R * Q + q0;
        softmax_columns<T, Log>(x + off, y + off, R, std::min(qblock, Q - q0), Q, m.data(), s.data());
      }
    });
    return;
  }
  const int64_t M = P * Q;
  std::vector<T> shift(static_cast<size_t>(M)), scale(static_cast<size_t>(M));
  T* m = shift.data();
  T* s = scale.data();
  reduce_run(in, ExtremeReducer<T, true>{MapIdentity<T>{}, m});
  // Log: y = x - m - log(sum); else y = exp(x - m) / sum.
  reduce_run(in, make_sum_reducer<T>(MapShiftedExp<T>{m}, s, [](T sum, int64_t) {
    return Log ? std::log(sum) : T(1) / sum;
  }));
  auto apply = [&](const T* xs, T* ys, int64_t n, const T* ms, const T* ss, bool per_element) {
    EigenSpan<T> a(xs, n);
    EigenArrayMap<T> b(ys, n);
    if (per_element) {
      EigenSpan<T> mm(ms, n), sc(ss, n);
      if constexpr (Log) b = a - mm - sc;
      else b = exp_of(a - mm) * sc;
    } else {
      if constexpr (Log) b = a - (*ms + *ss);
      else b = exp_of(a - *ms) * *ss;
    }
  };
  if (Q == 1) {  // few long rows: chunks of each row in parallel, one scalar shift per row
    const int64_t nchunks = (R + kReduceChunk - 1) / kReduceChunk;
    parallel_for(0, P * nchunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t w = b; w < e; ++w) {
        int64_t p = w / nchunks, r0 = (w % nchunks) * kReduceChunk, n = std::min(kReduceChunk, R - r0);
        apply(x + p * R + r0, y + p * R + r0, n, m + p, s + p, false);
      }
    });
    return;
  }
  // A tall outer dim with few columns: every row of Q elements uses the Q shifts and scales of slab p.
  parallel_for(0, P * R, std::max<int64_t>(1, kGrainSoftmax / Q), [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      int64_t p = w / R;
      apply(x + w * Q, y + w * Q, Q, m + p * Q, s + p * Q, true);
    }
  });
}

// softmax of 16-bit rows (Q == 1, not the few-long-rows case): each row is widened into a per-thread
// float32 buffer, normalized there by softmax_row and written out once (rounded when Out is S). The
// buffer starts at the 64-byte phase row p has in a float32 copy ((p * R) % 16), so Eigen's vector sum
// peels the same elements and the result is the float32 path's, bit for bit (reduce_lowp.h).
template <typename S, typename Out, bool Log>
void softmax_rows_lowp(const ReduceInput& in, Out* y) {
  const S* x = in.data.template data<S>();
  const int64_t P = in.P, R = in.R;
  parallel_for(0, P, std::max<int64_t>(1, kGrainSoftmax / R), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      float* f = lowp_phase_buffer(R, (p * R) % kLowpPhases);
      lowp_widen(x + p * R, f, R);
      if constexpr (std::is_same_v<Out, float>) {
        softmax_row<float, Log>(f, y + p * R, R);
      } else {
        softmax_row<float, Log>(f, f, R);
        lowp_narrow(f, y + p * R, R);
      }
    }
  });
}

Tensor softmax_common(const char* op, bool log, const Tensor& self, int64_t dim, optional<DType> dtype) {
  check_defined(self, op, "self");
  const DType result = dtype.value_or(self.dtype());
  HY_CHECK(dtype_is_floating(result), TypeError, op, " needs a floating-point dtype, got a ", self.describe(),
           dtype ? str(" with dtype=", dtype_name(*dtype)) : std::string(), "; pass dtype=hy.float32");
  const DType acc = compute_dtype(result);
  ReduceInput in = reduce_prepare_along(self, dim, acc, op, /*lowp_in_place=*/true);
  if (dtype_is_lowp_float(in.data.dtype())) {
    // Rows (the last dim, attention's case) read and write 16 bits; a softmax down the columns of an
    // outer dim, or over a few very long rows, still widens the whole input first.
    if (in.Q == 1 && !(in.P < kReduceFewOutputs && in.R > kReduceChunk) && in.P * in.R > 0 &&
        (result == self.dtype() || result == DType::Float32)) {
      Tensor out = Tensor::empty(self.shape(), result);
      visit_lowp_type(self.dtype(), [&](auto tag) {
        using S = decltype(tag);
        auto run = [&](auto* y) {
          if (log) softmax_rows_lowp<S, std::remove_pointer_t<decltype(y)>, true>(in, y);
          else softmax_rows_lowp<S, std::remove_pointer_t<decltype(y)>, false>(in, y);
        };
        if (result == DType::Float32) run(out.data<float>());
        else run(out.data<S>());
      });
      return out;
    }
    in.data = cast_to(in.data, DType::Float32);
  }
  Tensor out = Tensor::empty(self.shape(), acc);
  reduce_dispatch_float(acc, op, [&](auto tag) {
    using T = decltype(tag);
    if (log) softmax_kernel<T, true>(in, out.data<T>());
    else softmax_kernel<T, false>(in, out.data<T>());
  });
  return cast_to(out, result);
}

template <typename T, bool Prod>
inline T scan_step(T acc, T x) {
  if constexpr (!Prod) {
    return acc + x;
  } else if constexpr (std::is_integral_v<T>) {  // wrap like NumPy instead of signed-overflow UB
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(acc) * static_cast<std::make_unsigned_t<T>>(x));
  } else {
    return acc * x;
  }
}

// Inclusive scan along R. A scan cannot be split into independent pairwise pieces, so float32 runs
// accumulate in double (as torch does on the CPU): a running float32 sum drifts by ~1e-5 per 10^4 terms.
// Rows scan in parallel; one very long row is split into fixed chunks (chunk totals first, then each
// chunk rescanned from its offset); an outer dim scans whole rows of Q at once.
// S is the storage type (T itself, or Half/BFloat16 with T = float: elements are widened as they are read
// and each output rounded to float32 and then to S, the two roundings of the float32 path).
template <typename T, bool Prod, typename S = T>
void scan_kernel(const ReduceInput& in, S* y) {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
  const S* x = in.data.template data<S>();
  const int64_t P = in.P, R = in.R, Q = in.Q;
  if (P * R * Q == 0) return;
  const Acc identity = Prod ? Acc(1) : Acc(0);
  auto scan_span = [&](const S* xs, S* ys, int64_t n, Acc acc) {
    for (int64_t k = 0; k < n; ++k) {
      acc = scan_step<Acc, Prod>(acc, static_cast<Acc>(static_cast<T>(xs[k])));
      ys[k] = static_cast<S>(static_cast<T>(acc));
    }
  };
  if (Q == 1 && P < kReduceFewOutputs && R > kReduceChunk) {
    const int64_t nchunks = (R + kReduceChunk - 1) / kReduceChunk;
    std::vector<Acc> carry(static_cast<size_t>(nchunks));
    for (int64_t p = 0; p < P; ++p) {
      const S* xr = x + p * R;
      S* yr = y + p * R;
      parallel_for(0, nchunks, 1, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {
          int64_t r0 = c * kReduceChunk, n = std::min(kReduceChunk, R - r0);
          Acc t = identity;
          for (int64_t k = 0; k < n; ++k) t = scan_step<Acc, Prod>(t, static_cast<Acc>(static_cast<T>(xr[r0 + k])));
          carry[c] = t;
        }
      });
      Acc run = identity;  // exclusive prefix of chunk totals
      for (int64_t c = 0; c < nchunks; ++c) {
        Acc t = carry[c];
        carry[c] = run;
        run = scan_step<Acc, Prod>(run, t);
      }
      parallel_for(0, nchunks, 1, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {
          int64_t r0 = c * kReduceChunk;
          scan_span(xr + r0, yr + r0, std::min(kReduceChunk, R - r0), carry[c]);
        }
      });
    }
    return;
  }
  if (Q == 1) {
    parallel_for(0, P, std::max<int64_t>(1, kGrainElementwise / R), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) scan_span(x + p * R, y + p * R, R, identity);
    });
    return;
  }
  const int64_t qblock = std::min(Q, kReduceColumnBlock);
  const int64_t nqb = (Q + qblock - 1) / qblock;
  parallel_for(0, P * nqb, std::max<int64_t>(1, kGrainElementwise / (R * qblock)), [&](int64_t b, int64_t e) {
    std::vector<Acc> acc(static_cast<size_t>(qblock));
    for (int64_t t = b; t < e; ++t) {
      const int64_t p = t / nqb, q0 = (t % nqb) * qblock, n = std::min(qblock, Q - q0);
      const S* xs = x + p * R * Q + q0;
      S* ys = y + p * R * Q + q0;
      std::fill(acc.begin(), acc.end(), identity);
      for (int64_t r = 0; r < R; ++r) {  // a whole row of columns per step: vectorizes across columns
        for (int64_t j = 0; j < n; ++j) {
          acc[j] = scan_step<Acc, Prod>(acc[j], static_cast<Acc>(static_cast<T>(xs[r * Q + j])));
          ys[r * Q + j] = static_cast<S>(static_cast<T>(acc[j]));
        }
      }
    }
  });
}

Tensor scan_common(const char* op, bool prod, const Tensor& self, int64_t dim, optional<DType> dtype) {
  check_defined(self, op, "self");
  // Like sum: bool and integers accumulate into int64 unless a dtype is given.
  const DType result = dtype ? *dtype : (dtype_is_floating(self.dtype()) ? self.dtype() : DType::Int64);
  const DType acc = dtype_is_floating(result) ? compute_dtype(result) : DType::Int64;
  // A float16/bfloat16 scan into its own dtype reads and writes 16 bits (scan_kernel's S).
  const bool lowp = dtype_is_lowp_float(self.dtype()) && result == self.dtype();
  ReduceInput in = reduce_prepare_along(self, dim, acc, op, lowp);
  if (lowp) {
    Tensor out = Tensor::empty(self.shape(), result);
    visit_lowp_type(result, [&](auto tag) {
      using S = decltype(tag);
      if (prod) scan_kernel<float, true, S>(in, out.data<S>());
      else scan_kernel<float, false, S>(in, out.data<S>());
    });
    return out;
  }
  Tensor out = Tensor::empty(self.shape(), acc);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    if (prod) scan_kernel<T, true>(in, out.data<T>());
    else scan_kernel<T, false>(in, out.data<T>());
  };
  switch (acc) {
    case DType::Int64: run(int64_t{}); break;
    case DType::Float32: run(float{}); break;
    case DType::Float64: run(double{}); break;
    default: throw NotImplementedError(str("op '", op, "' has no CPU kernel for dtype ", dtype_name(acc)));
  }
  return cast_to(out, result);
}

}  // namespace

Tensor softmax(const Tensor& self, int64_t dim, optional<DType> dtype) {
  return softmax_common("softmax", false, self, dim, dtype);
}

Tensor log_softmax(const Tensor& self, int64_t dim, optional<DType> dtype) {
  return softmax_common("log_softmax", true, self, dim, dtype);
}

Tensor cumsum(const Tensor& self, int64_t dim, optional<DType> dtype) {
  return scan_common("cumsum", false, self, dim, dtype);
}

Tensor cumprod(const Tensor& self, int64_t dim, optional<DType> dtype) {
  return scan_common("cumprod", true, self, dim, dtype);
}

}  // namespace hy::kernels::cpu
