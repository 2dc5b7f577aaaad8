// Result dtype of an op over several inputs, following PyTorch's rules: dimensioned tensors decide
// the dtype; 0-d tensors and then Python numbers only matter when they are of a higher category
// (bool < integral < floating). So float32_tensor + 2.5 stays float32 and int_tensor + 2.5 is float32.
#pragma once
#include <vector>

#include "core/scalar.h"
#include "core/tensor.h"

namespace hy {

/// Promoted dtype of `inputs` (undefined tensors are skipped).
DType result_type(const std::vector<Tensor>& inputs);
/// Shorthand for two inputs.
DType result_type(const Tensor& a, const Tensor& b);
/// A Python-number-like 0-d tensor (bool, int64 or float64 by the scalar's kind) marked as a wrapped
/// number, so it is weak in type promotion: what `t + 2.5` turns its 2.5 into.
Tensor wrapped_number_tensor(const Scalar& s);
/// True when a value of dtype `from` may be written into a tensor of dtype `to` by an in-place op
/// without changing category downward (float into int, int into bool are refused).
bool can_cast_in_place(DType from, DType to);

}  // namespace hy
