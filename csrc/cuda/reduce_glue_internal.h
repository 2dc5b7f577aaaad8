// Host-side helpers shared by the glue of the CUDA reductions, scans and vector products
// (kernels_reduce.cpp, kernels_scan.cpp, kernels_linalg_vec.cpp): the CPU's dim handling and wording,
// the [rows, cols] layout the row engine reads, and its scratch memory.
#pragma once
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::cuda {

// The CPU kernels' own argument checks (kernels/cpu/kernel_util.h), so both devices raise alike.
inline void require_defined(const Tensor& t, const char* op, const char* arg) { hy::cpu::check_defined(t, op, arg); }
using hy::cpu::reduce_dim_mask;
using hy::cpu::reduce_wrap_dim;

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
