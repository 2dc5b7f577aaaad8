// Index helpers of the CUDA indexing kernels (kernels_indexing.cpp) that other CUDA kernels reuse
// (max_pool2d_backward is a scatter-add along each plane).
#pragma once
#include "core/tensor.h"

namespace hy::kernels::cuda {

/// How an out-of-range index is worded, as the CPU op words it.
enum class IndexWording {
  IndexWording_Bounds,  // "op: index v is out of bounds for dim d with size s" (gather, scatter_add, ...)
  IndexWording_Range,   // "op: index v is out of range for dim d of size s" (index_add)
  IndexWording_Plane,   // "op: index v out of range for s input elements per plane" (max_pool2d_backward)
};
/// Throws IndexError naming the first index (row-major) of the int64 CUDA tensor ix64 outside [0, size).
/// Reads one word back from the device (a synchronization); copies the index only on failure.
void check_index_range(const Tensor& ix64, int64_t size, int64_t dim, const char* op, IndexWording wording);
/// result (its dim `dim` indexed by ix64) += src over ix64's shape, deterministic and in the CPU's
/// order (repeats summed in row-major order); src has result's dtype; ix64's values are checked.
void scatter_add_into(const Tensor& result, const Tensor& ix64, const Tensor& src, int64_t dim);

}  // namespace hy::kernels::cuda
