// Order reductions (the op table's reduce family, part 2): amax/amin, max/min over everything,
// max_dim/min_dim (values and indices) and argmax/argmin. NaN is the extreme of every comparison, so it
// propagates to values and its first position is the index, like NumPy and PyTorch. None of these has an
// identity: reducing zero elements raises ValueError.
#include <algorithm>

#include "hyflow/ops/ops_common.h"
#include "kernels/cpu/reduce_impl.h"

namespace hy::kernels::cpu {
using namespace hy::cpu;  // NOLINT: the reduction engine's vocabulary
using std::optional;

namespace {

// Comparisons run on int32/int64/float/double: bool widens to int32, float16/bfloat16 to float32
// (both exact, so values round-trip back to the input dtype unchanged).
DType compare_dtype(DType t) {
  if (t == DType::Bool) return DType::Int32;
  return compute_dtype(t);
}

Tensor extreme(const char* op, bool is_max, const Tensor& self, const optional<DimVector>& dim, bool keepdim) {
  check_defined(self, op, "self");
  const DType c = compare_dtype(self.dtype());
  ReduceInput in = reduce_prepare(self, dim, keepdim, c, op, /*lowp_in_place=*/true);
  reduce_check_nonempty(in, self, op);
  Tensor out = in.new_output(c);
  reduce_dispatch(c, op, [&](auto tag) {
    using T = decltype(tag);
    if (is_max) reduce_run(in, ExtremeReducer<T, true>{MapIdentity<T>{}, out.data<T>()});
    else reduce_run(in, ExtremeReducer<T, false>{MapIdentity<T>{}, out.data<T>()});
  });
  return reduce_result(out, self.dtype());
}

// Values (when wanted) and first indices of the extremes over the dims in `mask`.
std::tuple<Tensor, Tensor> extreme_with_index(const char* op, bool is_max, const Tensor& self,
                                              const std::vector<bool>& mask, bool keepdim, bool want_values) {
  const DType c = compare_dtype(self.dtype());
  // Indices count the reduced dims in logical (row-major) order; a permuted input read in memory order
  // would number them differently when several dims are reduced, so make those inputs contiguous.
  const bool several = std::count(mask.begin(), mask.end(), true) > 1;
  ReduceInput in = reduce_prepare(several ? contiguous(self) : self, mask, keepdim, c, /*lowp_in_place=*/true);
  reduce_check_nonempty(in, self, op);
  Tensor values = want_values ? in.new_output(c) : Tensor();
  Tensor indices = in.new_output(DType::Int64);
  reduce_dispatch(c, op, [&](auto tag) {
    using T = decltype(tag);
    T* v = want_values ? values.data<T>() : nullptr;
    if (is_max) reduce_run(in, ArgReducer<T, true>{v, indices.data<int64_t>()});
    else reduce_run(in, ArgReducer<T, false>{v, indices.data<int64_t>()});
  });
  return {want_values ? reduce_result(values, self.dtype()) : values, reduce_result(indices, DType::Int64)};
}

std::tuple<Tensor, Tensor> extreme_dim(const char* op, bool is_max, const Tensor& self, int64_t dim, bool keepdim) {
  check_defined(self, op, "self");
  return extreme_with_index(op, is_max, self, reduce_dim_mask(self, DimVector{dim}, op), keepdim, true);
}

Tensor arg_extreme(const char* op, bool is_max, const Tensor& self, optional<int64_t> dim, bool keepdim) {
  check_defined(self, op, "self");
  // dim=None indexes the flattened tensor; keepdim then keeps every dim as size 1, like torch.
  std::optional<DimVector> dims;
  if (dim) dims = DimVector{*dim};
  return std::get<1>(extreme_with_index(op, is_max, self, reduce_dim_mask(self, dims, op), keepdim, false));
}

}  // namespace

Tensor amax(const Tensor& self, const optional<DimVector>& dim, bool keepdim) {
  return extreme("amax", true, self, dim, keepdim);
}

Tensor amin(const Tensor& self, const optional<DimVector>& dim, bool keepdim) {
  return extreme("amin", false, self, dim, keepdim);
}

Tensor max(const Tensor& self) { return extreme("max", true, self, std::nullopt, false); }

Tensor min(const Tensor& self) { return extreme("min", false, self, std::nullopt, false); }

std::tuple<Tensor, Tensor> max_dim(const Tensor& self, int64_t dim, bool keepdim) {
  return extreme_dim("max", true, self, dim, keepdim);
}

std::tuple<Tensor, Tensor> min_dim(const Tensor& self, int64_t dim, bool keepdim) {
  return extreme_dim("min", false, self, dim, keepdim);
}

Tensor argmax(const Tensor& self, optional<int64_t> dim, bool keepdim) {
  return arg_extreme("argmax", true, self, dim, keepdim);
}

Tensor argmin(const Tensor& self, optional<int64_t> dim, bool keepdim) {
  return arg_extreme("argmin", false, self, dim, keepdim);
}

}  // namespace hy::kernels::cpu
