// The CUDA kernels of sort, argsort and topk (sort.cu). Argument checks, messages and the order are the
// CPU kernel's (kernels/cpu/sort.cpp): every sort is stable (stable=True and False agree), NaN is larger
// than every number, and topk is the first k of the stable sort (sorted=True and False agree), so the
// indices equal the CPU's exactly, ties included.
//
// The input is read in place through a view with the sorted dim moved last; sort.cu writes the sorted
// positions of every row into a dense buffer, and the values are gathered from the input through them
// (launch_gather), so they are the input's own elements (a -0.0 stays -0.0, a NaN keeps its payload).
// topk sorts whole rows and keeps the first k (a radix sort costs about the same for any k).
#include <tuple>

#include "core/shape_util.h"
#include "cuda/glue_internal.h"
#include "cuda/launch_index_internal.h"
#include "hyflow/ops/ops_generated.h"

namespace hy::kernels::cuda {
namespace {
using std::tuple;

// `t` with dim d moved last, its size there `last` (a prefix of the dim when smaller): a view.
Tensor dim_last(const Tensor& t, int64_t d, int64_t last) {
  Shape shape;
  Strides strides;
  for (int64_t i = 0; i < t.dim(); ++i) {
    if (i == d) continue;
    shape.push_back(t.shape()[i]);
    strides.push_back(t.strides()[i]);
  }
  shape.push_back(last);
  strides.push_back(t.strides()[d]);
  return Tensor::make_view(t, shape, strides, t.offset());
}

// A 0-d tensor as the 1-D tensor of its one element (a view), others unchanged.
Tensor at_least_1d(const Tensor& t) {
  return t.dim() == 0 ? Tensor::make_view(t, Shape{1}, Strides{1}, t.offset()) : t;
}

tuple<Tensor, Tensor> sorted_prefix(const char* op, const Tensor& self, int64_t k_or_all, int64_t dim,
                                    bool descending, bool want_values) {
  HY_CHECK(self.defined(), ValueError, op, ": self is undefined (None)");
  int64_t d = 0;
  try {
    d = wrap_dim(dim, self.dim());
  } catch (const IndexError& e) {
    throw IndexError(str(op, ": ", e.what()));
  }
  const int64_t R = self.dim() == 0 ? 1 : self.shape()[d];
  const int64_t k = k_or_all < 0 ? R : k_or_all;
  HY_CHECK(k <= R, RuntimeError, op, ": k (", k, ") is out of range: expected 0 <= k <= ", R,
           ", the size of dim ", dim, " of the input (", self.describe(), ")");
  HY_CHECK(!dtype_is_complex(self.dtype()), NotImplementedError, "op '", op, "' has no CUDA kernel for dtype ",
           dtype_name(self.dtype()));
  Shape shape = self.shape();
  if (self.dim() > 0) shape[d] = k;
  Tensor values = want_values ? Tensor::empty(shape, self.dtype(), self.device()) : Tensor();
  if (shape_numel(shape) == 0 || k == 0) return {values, Tensor::empty(shape, DType::Int64, self.device())};

  const Tensor s = at_least_1d(self);
  const int64_t sd = self.dim() == 0 ? 0 : d;
  const Tensor in = dim_last(s, sd, R);  // [rows..., R], read in place
  const int64_t rows = s.numel() / R;
  Tensor positions = Tensor::empty(in.shape(), DType::Int64, self.device());  // dense [rows..., R]
  void* stream = hy::cuda::launch_stream(self.device());
  {
    auto g = hy::cuda::make_geometry<2>(op, in.shape(), {&positions, &in});
    const size_t bytes = hy::cuda::sort_scratch_bytes(self.dtype(), rows, R);
    Tensor scratch = Tensor::empty(Shape{static_cast<int64_t>((bytes + 7) / 8)}, DType::Int64, self.device());
    hy::cuda::launch_sort_positions(self.dtype(), in.raw_data(), g, rows, R, descending,
                                    static_cast<int64_t*>(positions.raw_data()), scratch.raw_data(), bytes, stream);
  }
  // The first k positions of each row, in the outputs' own layout (dim d of size k).
  const Tensor first_k = Tensor::make_view(positions, dim_last(s, sd, k).shape(), positions.strides(), 0);
  Tensor indices = positions;  // already the result's layout when all of the last dim is kept
  if (k != R || sd != s.dim() - 1 || self.dim() == 0) {
    indices = Tensor::empty(shape, DType::Int64, self.device());
    hy::cuda::copy_into(dim_last(at_least_1d(indices), sd, k), first_k);
  }
  if (want_values) {
    // values[.., j] = in[.., first_k[.., j]]: the input with stride 0 along the row, offset by the position.
    const Tensor value_out = dim_last(at_least_1d(values), sd, k);
    Strides base_strides = in.strides();
    base_strides.back() = 0;
    const Tensor base = Tensor::make_view(in, value_out.shape(), base_strides, in.offset());
    auto g = hy::cuda::make_geometry<3>(op, value_out.shape(), {&value_out, &base, &first_k});
    hy::cuda::launch_gather(static_cast<int>(self.itemsize()), value_out.raw_data(), base.raw_data(),
                            static_cast<const int64_t*>(first_k.raw_data()), in.strides().back(), g, stream);
  }
  return {values, indices};
}

}  // namespace

tuple<Tensor, Tensor> sort(const Tensor& self, int64_t dim, bool descending, bool /*stable: always*/) {
  return sorted_prefix("sort", self, -1, dim, descending, true);
}

Tensor argsort(const Tensor& self, int64_t dim, bool descending, bool /*stable: always*/) {
  return std::get<1>(sorted_prefix("argsort", self, -1, dim, descending, false));
}

tuple<Tensor, Tensor> topk(const Tensor& self, int64_t k, int64_t dim, bool largest, bool /*sorted: always*/) {
  HY_CHECK(k >= 0, RuntimeError, "topk: k (", k, ") is out of range: expected k >= 0");
  return sorted_prefix("topk", self, k, dim, largest, true);
}

}  // namespace hy::kernels::cuda
