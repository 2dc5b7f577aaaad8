// sort / argsort / topk (csrc/ops/table/sort.yaml).
//
// The input is seen as a contiguous [P, R, Q] buffer with R the sorted dim (as the reduction engine
// does); each of the P*Q lines is gathered into a buffer, its positions ordered by an index sort, and
// the first k written out. Ties are broken by position, so the order is a total order: every sort is
// stable (stable=True and False agree), and topk is deterministic. NaN is larger than every number and
// equal to itself, as in PyTorch: ascending sorts put NaNs last, descending sorts first.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "core/shape_util.h"
#include "hyflow/ops/ops_common.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cpu {
using std::tuple;

namespace {

// Comparisons run on int32/int64/float/double: bool widens to int32 and float16/bfloat16 to float32, both
// exactly, so sorted values convert back to the input dtype unchanged.
DType compare_dtype(DType t) {
  if (t == DType::Bool) return DType::Int32;
  if (t == DType::Float16 || t == DType::BFloat16) return DType::Float32;
  return t;
}

struct Lines {
  Tensor data;  // contiguous, compare dtype
  int64_t P = 1, R = 1, Q = 1, dim = 0;
};

Lines lines_along(const Tensor& self, int64_t dim, const char* op) {
  hy::cpu::check_defined(self, op, "self");
  Lines in;
  try {
    in.dim = wrap_dim(dim, self.dim());
  } catch (const IndexError& e) {
    throw IndexError(str(op, ": ", e.what()));
  }
  for (int64_t k = 0; k < self.dim(); ++k) (k < in.dim ? in.P : k == in.dim ? in.R : in.Q) *= self.shape()[k];
  in.data = hy::cpu::contiguous(hy::cpu::cast_to(self, compare_dtype(self.dtype())));
  return in;
}

template <typename T>
bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(x);
  else return false;
}

// a before b in the requested order (NaN largest); equal values (and two NaNs) are not ordered here.
template <typename T>
bool precedes(T a, T b, bool descending) {
  if (is_nan(a) || is_nan(b)) return descending ? (is_nan(a) && !is_nan(b)) : (!is_nan(a) && is_nan(b));
  return descending ? a > b : a < b;
}

// The first k positions of every line in order; values[P, k, Q] and indices[P, k, Q].
template <typename T>
void select_lines(const Lines& in, int64_t k, bool descending, T* values, int64_t* indices) {
  const T* x = in.data.data<T>();
  const int64_t R = in.R, Q = in.Q;
  parallel_for(0, in.P * Q, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(R, 1)),
               [&](int64_t b, int64_t e) {
    std::vector<T> v(static_cast<size_t>(R));
    std::vector<int64_t> pos(static_cast<size_t>(R));
    for (int64_t line = b; line < e; ++line) {
      const int64_t p = line / Q, q = line % Q;
      const T* src = x + p * R * Q + q;
      for (int64_t r = 0; r < R; ++r) v[r] = src[r * Q];
      std::iota(pos.begin(), pos.end(), int64_t{0});
      auto before = [&](int64_t i, int64_t j) {
        if (precedes(v[i], v[j], descending)) return true;
        if (precedes(v[j], v[i], descending)) return false;
        return i < j;  // ties keep their input order: stable
      };
      if (k == R) std::sort(pos.begin(), pos.end(), before);
      else std::partial_sort(pos.begin(), pos.begin() + k, pos.end(), before);
      T* vo = values + p * k * Q + q;
      int64_t* io = indices + p * k * Q + q;
      for (int64_t j = 0; j < k; ++j) {
        vo[j * Q] = v[pos[j]];
        io[j * Q] = pos[j];
      }
    }
  });
}

tuple<Tensor, Tensor> sorted_prefix(const char* op, const Tensor& self, int64_t k_or_all, int64_t dim, bool descending) {
  Lines in = lines_along(self, dim, op);
  const int64_t k = k_or_all < 0 ? in.R : k_or_all;
  HY_CHECK(k <= in.R, RuntimeError, op, ": k (", k, ") is out of range: expected 0 <= k <= ", in.R,
           ", the size of dim ", dim, " of the input (", self.describe(), ")");
  Shape shape = self.shape();
  if (self.dim() > 0) shape[in.dim] = k;
  const DType c = in.data.dtype();
  Tensor values = Tensor::empty(shape, c), indices = Tensor::empty(shape, DType::Int64);
  switch (c) {
    case DType::Int32: select_lines(in, k, descending, values.data<int32_t>(), indices.data<int64_t>()); break;
    case DType::Int64: select_lines(in, k, descending, values.data<int64_t>(), indices.data<int64_t>()); break;
    case DType::Float32: select_lines(in, k, descending, values.data<float>(), indices.data<int64_t>()); break;
    case DType::Float64: select_lines(in, k, descending, values.data<double>(), indices.data<int64_t>()); break;
    default: throw NotImplementedError(str("op '", op, "' has no CPU kernel for dtype ", dtype_name(self.dtype())));
  }
  return {hy::cpu::cast_to(values, self.dtype()), indices};
}

}  // namespace

tuple<Tensor, Tensor> sort(const Tensor& self, int64_t dim, bool descending, bool /*stable: always*/) {
  return sorted_prefix("sort", self, -1, dim, descending);
}

Tensor argsort(const Tensor& self, int64_t dim, bool descending, bool /*stable: always*/) {
  return std::get<1>(sorted_prefix("argsort", self, -1, dim, descending));
}

tuple<Tensor, Tensor> topk(const Tensor& self, int64_t k, int64_t dim, bool largest, bool /*sorted: always*/) {
  HY_CHECK(k >= 0, RuntimeError, "topk: k (", k, ") is out of range: expected k >= 0");
  return sorted_prefix("topk", self, k, dim, largest);
}

}  // namespace hy::kernels::cpu
