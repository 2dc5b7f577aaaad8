// Host-side helpers shared by the glue of the CUDA reductions, scans and vector products
// (kernels_reduce.cpp, kernels_scan.cpp, kernels_linalg_vec.cpp): the CPU's dim handling and wording,
// the [rows, cols] layout the row engine reads, and its scratch memory.
#pragma once
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace hy::cuda {

/// ValueError "op: arg is undefined (None)", as the CPU kernels word it.
void require_defined(const Tensor& t, const char* op, const char* arg);
/// The CPU reductions' dim wrapping: IndexError prefixed with "op: ".
int64_t reduce_wrap_dim(int64_t dim, int64_t ndim, const char* op);
/// Which dims a reduction combines, as the CPU's reduce_dim_mask: None or [] means all, negative dims
/// wrap, a dim listed twice raises ValueError, one out of range IndexError.
std::vector<bool> reduce_dim_mask(const Tensor& self, const std::optional<DimVector>& dim, const char* op);

/// A reduction of `self` over the dims flagged in a mask, seen as [rows, cols] with the reduced dims
/// last (in order) and the kept dims first (in order): outputs come out in the result's row-major order.
struct RowLayout {
  Tensor perm;  // the permuted view of self (kept dims, then reduced dims)
  int64_t rows = 1, cols = 1;
  Shape out_shape;  // keepdim applied
};
RowLayout row_layout(const Tensor& self, const std::vector<bool>& reduced, bool keepdim);
/// `view` as a dense row-major buffer of `dtype`: the view itself when it already is one, else a copy
/// (dims that are contiguous in `view` are merged first, so the copy kernel sees as few dims as possible).
Tensor dense_as(const Tensor& view, DType dtype);
/// Scratch for the row engine's split reductions (undefined when none is needed) and its pointer.
Tensor reduce_scratch(int64_t rows, int64_t cols, Device device);
inline void* data_or_null(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

}  // namespace hy::cuda
