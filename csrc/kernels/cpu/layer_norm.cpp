// layer_norm and layer_norm_backward (the op table's reduce family): the input is seen as M rows of the
// N = prod(normalized_shape) trailing elements, made dense first (a non-contiguous input is copied in
// its own dtype). Each row is one task unit: its mean and centred variance are two Eigen reductions over
// the row while it sits in cache (two-pass, so no Welford drift and no catastrophic cancellation), then
// one pass writes (x - mean) * rstd * weight + bias. Eigen vectorizes the row loops, and this file is a
// hot-kernel source of the AVX2/AVX-512 CPU variants (cmake/cpu_variants.cmake).
//
// float16/bfloat16 rows are widened one row at a time into a float32 buffer owned by the task (never the
// whole tensor), computed in float32, and rounded once on the way out; mean and rstd are float32 (float64
// for a float64 input), as are the statistics the backward reads.
//
// The backward computes grad_input row by row from the saved mean/rstd; the weight and bias gradients
// are column sums over the rows, summed per fixed block of rows into a partial row and the partials then
// added in block order. Blocks depend only on (M, N), never on the thread count, so the result is
// bit-identical whatever the parallelism.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <tuple>
#include <type_traits>
#include <vector>

#include "core/half.h"
#include "core/parallel.h"
#include "hyflow/ops/ops_common.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/lowp_convert.h"
#include "kernels/cpu/reduce_impl.h"

namespace hy::kernels::cpu {
using namespace hy::cpu;  // NOLINT: the kernel helpers' vocabulary
using std::optional;

namespace {

template <typename T> using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;

/// A task's scratch row. Eigen peels a vectorized reduction to the first packet-aligned element of a
/// row, so the summation order (and the last bit of a sum) follows the row's address: scratch rows are
/// always packet-aligned, whichever task allocates them, or results would change with the thread count.
template <typename T> using RowBuffer = std::vector<T, Eigen::aligned_allocator<T>>;

/// Rows whose column sums (weight/bias gradients) one partial result covers: about 64K elements, so a
/// block is a worthwhile task and the partials stay a small fraction of the input.
constexpr int64_t kColumnBlockElements = 1 << 16;

std::string shape_text(const Shape& s) {  // Python's tuple spelling, as the Python layer's messages use
  std::ostringstream o;
  o << "(";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << (s.size() == 1 ? ",)" : ")");
  return o.str();
}

/// The rows view of one call: M rows of N elements, and the shape of mean/rstd (the input's shape with
/// the normalized dims kept as 1, like torch's native_layer_norm).
struct RowGeometry {
  int64_t M = 0, N = 1;
  Shape stat_shape;
};

RowGeometry row_geometry(const Tensor& input, const DimVector& normalized_shape, const char* op) {
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  HY_CHECK(k > 0, ValueError, op, "(): normalized_shape must name at least one dim, got ()");
  Shape ns(normalized_shape.begin(), normalized_shape.end());
  const Shape& shape = input.shape();
  const int64_t nd = input.dim();
  bool ok = nd >= k;
  for (int64_t i = 0; ok && i < k; ++i) ok = shape[nd - k + i] == ns[i];
  HY_CHECK(ok, ValueError, op, "(): input of shape ", shape_text(shape), " does not end with normalized_shape ",
           shape_text(ns));
  RowGeometry g;
  g.stat_shape = shape;
  for (int64_t i = nd - k; i < nd; ++i) {
    g.N *= shape[i];
    g.stat_shape[i] = 1;
  }
  g.M = g.N == 0 ? shape_numel(g.stat_shape) : input.numel() / g.N;
  return g;
}

/// Float32 for float32/float16/bfloat16 inputs, float64 for float64: the statistics' dtype.
DType stat_dtype(DType input) { return input == DType::Float64 ? DType::Float64 : DType::Float32; }

/// weight/bias: the normalized shape, and the input's dtype (or float32 next to a 16-bit input, the
/// usual mixed-precision layout); returned dense in the compute dtype (N elements, cheap to convert).
Tensor affine_operand(const optional<Tensor>& t, const char* name, const Tensor& input, const DimVector& ns,
                      DType acc, const char* op) {
  if (!t) return Tensor();
  HY_CHECK(t->defined(), ValueError, op, "(): ", name, " is an undefined tensor");
  Shape want(ns.begin(), ns.end());
  HY_CHECK(t->shape() == want, ValueError, op, "(): ", name, " of shape ", shape_text(t->shape()),
           " does not match normalized_shape ", shape_text(want));
  const bool lowp = input.dtype() == DType::Float16 || input.dtype() == DType::BFloat16;
  HY_CHECK(t->dtype() == input.dtype() || (lowp && t->dtype() == DType::Float32), TypeError, op, "(): ", name,
           " has dtype ", dtype_name(t->dtype()), " but input is ", dtype_name(input.dtype()),
           " (expected the same dtype", lowp ? ", or float32" : "", ")");
  HY_CHECK(t->device() == input.device(), RuntimeError, op, "(): ", name, " is on ", device_str(t->device()),
           " but input is on ", device_str(input.device()));
  return contiguous(cast_to(*t, acc));
}

/// A row of N elements in the compute dtype A: the input's own memory when S is A, else widened into
/// `buf` (float16/bfloat16 rows).
template <typename S, typename A>
const A* load_row(const S* src, int64_t N, RowBuffer<A>& buf) {
  if constexpr (std::is_same_v<S, A>) {
    return src;
  } else {
    lowp_widen(src, buf.data(), N);
    return buf.data();
  }
}

/// Where a row's result of N elements is computed: the output itself when S is A, else `buf` (then
/// store_row rounds it into the output).
template <typename S, typename A>
A* result_row(S* dst, RowBuffer<A>& buf) {
  if constexpr (std::is_same_v<S, A>) return dst;
  else return buf.data();
}

template <typename S, typename A>
void store_row(const A* row, S* dst, int64_t N) {
  if constexpr (!std::is_same_v<S, A>) lowp_narrow(row, dst, N);
}

template <typename S, typename A>
void forward_rows(const S* x, S* y, A* mean, A* rstd, const A* w, const A* b, int64_t M, int64_t N, double eps) {
  parallel_for(0, M, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(N, 1)), [&](int64_t lo, int64_t hi) {
    RowBuffer<A> xbuf(std::is_same_v<S, A> ? 0 : N), ybuf(std::is_same_v<S, A> ? 0 : N);
    for (int64_t r = lo; r < hi; ++r) {
      const A* xr = load_row<S, A>(x + r * N, N, xbuf);
      A* yr = result_row<S, A>(y + r * N, ybuf);
      EigenSpan<A> xa(xr, N);
      const A mu = xa.sum() / static_cast<A>(N);
      const A var = (xa - mu).square().sum() / static_cast<A>(N);
      const A rs = A(1) / std::sqrt(var + static_cast<A>(eps));
      mean[r] = mu;
      rstd[r] = rs;
      ArrayMap<A> ya(yr, N);
      if (w && b) ya = (xa - mu) * rs * EigenSpan<A>(w, N) + EigenSpan<A>(b, N);
      else if (w) ya = (xa - mu) * rs * EigenSpan<A>(w, N);
      else if (b) ya = (xa - mu) * rs + EigenSpan<A>(b, N);
      else ya = (xa - mu) * rs;
      store_row<S, A>(yr, y + r * N, N);
    }
  });
}

/// Calls f(S{}, A{}) for the storage type S of `dt` and its compute type A.
template <typename F>
void visit_float(DType dt, const char* op, const F& f) {
  switch (dt) {
    case DType::Float32: return f(float{}, float{});
    case DType::Float64: return f(double{}, double{});
    case DType::Float16: return f(Half{}, float{});
    case DType::BFloat16: return f(BFloat16{}, float{});
    default: throw TypeError(str(op, "(): expected a floating-point input, got ", dtype_name(dt)));
  }
}

// grad_input of each row, and per block of rows the partial column sums of grad * xhat (weight) and
// grad (bias): dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = grad * weight.
template <typename S, typename A>
void backward_rows(const S* g, const S* x, const A* mean, const A* rstd, const A* w, S* dx, A* dw_part, A* db_part,
                   int64_t M, int64_t N, int64_t block_rows) {
  const int64_t blocks = (M + block_rows - 1) / block_rows;
  parallel_for(0, blocks, 1, [&](int64_t lo, int64_t hi) {
    const bool widen = !std::is_same_v<S, A>;
    RowBuffer<A> gbuf(widen ? N : 0), xbuf(widen ? N : 0), obuf(widen ? N : 0), xhat(N), gw(w ? N : 0);
    for (int64_t blk = lo; blk < hi; ++blk) {
      ArrayMap<A> dw(dw_part + blk * N, N), db(db_part + blk * N, N);
      dw.setZero();
      db.setZero();
      for (int64_t r = blk * block_rows; r < std::min(M, (blk + 1) * block_rows); ++r) {
        EigenSpan<A> ga(load_row<S, A>(g + r * N, N, gbuf), N);
        EigenSpan<A> xa(load_row<S, A>(x + r * N, N, xbuf), N);
        ArrayMap<A> xh(xhat.data(), N);
        xh = (xa - mean[r]) * rstd[r];
        dw += ga * xh;
        db += ga;
        A* out = result_row<S, A>(dx + r * N, obuf);
        ArrayMap<A> o(out, N);
        const A inv_n = A(1) / static_cast<A>(N);
        if (w) {
          ArrayMap<A> gwa(gw.data(), N);
          gwa = ga * EigenSpan<A>(w, N);
          const A a = gwa.sum() * inv_n, c = (gwa * xh).sum() * inv_n;
          o = rstd[r] * (gwa - a - xh * c);
        } else {
          const A a = ga.sum() * inv_n, c = (ga * xh).sum() * inv_n;
          o = rstd[r] * (ga - a - xh * c);
        }
        store_row<S, A>(out, dx + r * N, N);
      }
    }
  });
}

/// out[j] = sum over blocks (in block order) of part[blk * N + j], columns in parallel.
template <typename A>
void sum_partials(const A* part, int64_t blocks, int64_t N, A* out) {
  parallel_for(0, N, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(blocks, 1)), [&](int64_t lo, int64_t hi) {
    ArrayMap<A> o(out + lo, hi - lo);
    o.setZero();
    for (int64_t blk = 0; blk < blocks; ++blk) o += EigenSpan<A>(part + blk * N + lo, hi - lo);
  });
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor> layer_norm(const Tensor& input, const DimVector& normalized_shape,
                                              const optional<Tensor>& weight, const optional<Tensor>& bias,
                                              double eps) {
  const char* op = "layer_norm";
  check_defined(input, op, "input");
  check_floating(input, op, "input");
  const RowGeometry geo = row_geometry(input, normalized_shape, op);
  const DType acc = stat_dtype(input.dtype());
  const Tensor w = affine_operand(weight, "weight", input, normalized_shape, acc, op);
  const Tensor b = affine_operand(bias, "bias", input, normalized_shape, acc, op);
  const Tensor x = contiguous(input);  // in its own dtype: a 16-bit input is never widened as a whole
  Tensor out = Tensor::empty(input.shape(), input.dtype());
  Tensor mean = Tensor::empty(geo.stat_shape, acc), rstd = Tensor::empty(geo.stat_shape, acc);
  visit_float(input.dtype(), op, [&](auto s, auto a) {
    using S = decltype(s);
    using A = decltype(a);
    if (geo.N == 0) {  // nothing to normalize: the statistics of an empty row are undefined
      std::fill_n(mean.data<A>(), geo.M, std::numeric_limits<A>::quiet_NaN());
      std::fill_n(rstd.data<A>(), geo.M, std::numeric_limits<A>::quiet_NaN());
      return;
    }
    forward_rows<S, A>(x.data<S>(), out.data<S>(), mean.data<A>(), rstd.data<A>(),
                       w.defined() ? w.data<A>() : nullptr, b.defined() ? b.data<A>() : nullptr, geo.M, geo.N, eps);
  });
  return {out, mean, rstd};
}

std::tuple<Tensor, Tensor, Tensor> layer_norm_backward(const Tensor& grad_out, const Tensor& input, const Tensor& mean,
                                                       const Tensor& rstd, const DimVector& normalized_shape,
                                                       const optional<Tensor>& weight) {
  const char* op = "layer_norm_backward";
  check_defined(grad_out, op, "grad_out");
  check_defined(input, op, "input");
  check_floating(input, op, "input");
  const RowGeometry geo = row_geometry(input, normalized_shape, op);
  HY_CHECK(grad_out.shape() == input.shape(), ValueError, op, "(): grad_out of shape ", shape_text(grad_out.shape()),
           " does not match input of shape ", shape_text(input.shape()));
  HY_CHECK(mean.numel() == geo.M && rstd.numel() == geo.M, ValueError, op, "(): mean and rstd need ", geo.M,
           " elements (one per row), got ", mean.numel(), " and ", rstd.numel());
  const DType acc = stat_dtype(input.dtype());
  const Tensor w = affine_operand(weight, "weight", input, normalized_shape, acc, op);
  const DType param_dtype = weight ? weight->dtype() : input.dtype();
  const Tensor x = contiguous(input);
  const Tensor g = contiguous(cast_to(grad_out, input.dtype()));
  const Tensor mu = contiguous(cast_to(mean, acc)), rs = contiguous(cast_to(rstd, acc));
  Shape ns(normalized_shape.begin(), normalized_shape.end());
  Tensor dx = Tensor::empty(input.shape(), input.dtype());
  Tensor dw = Tensor::empty(ns, acc), db = Tensor::empty(ns, acc);
  visit_float(input.dtype(), op, [&](auto s, auto a) {
    using S = decltype(s);
    using A = decltype(a);
    const int64_t N = geo.N, M = geo.M;
    if (N == 0) return;
    if (M == 0) {
      std::fill_n(dw.data<A>(), N, A(0));
      std::fill_n(db.data<A>(), N, A(0));
      return;
    }
    const int64_t block_rows = std::max<int64_t>(1, kColumnBlockElements / N);
    const int64_t blocks = (M + block_rows - 1) / block_rows;
    std::vector<A> dw_part(static_cast<size_t>(blocks * N)), db_part(static_cast<size_t>(blocks * N));
    backward_rows<S, A>(g.data<S>(), x.data<S>(), mu.data<A>(), rs.data<A>(), w.defined() ? w.data<A>() : nullptr,
                        dx.data<S>(), dw_part.data(), db_part.data(), M, N, block_rows);
    sum_partials<A>(dw_part.data(), blocks, N, dw.data<A>());
    sum_partials<A>(db_part.data(), blocks, N, db.data<A>());
  });
  return {dx, cast_to(dw, param_dtype), cast_to(db, param_dtype)};
}

}  // namespace hy::kernels::cpu
