// Complex arithmetic the real kernels hand over to (kernels/cpu/complex.cpp): a real kernel whose
// table entry accepts complex dtypes calls these when its result type is complex.
#pragma once
#include <optional>

#include "core/scalar.h"
#include "core/tensor.h"

namespace hy::cpu {

/// self + alpha * other for a complex result type (either input may be real), broadcast; `out` as in add.
Tensor complex_add(const Tensor& self, const Tensor& other, const Scalar& alpha, const std::optional<Tensor>& out);
/// self * other, broadcast, for a complex result type.
Tensor complex_mul(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out);
/// self / other (true division), broadcast, for a complex result type.
Tensor complex_div(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out);
/// -self of a complex tensor.
Tensor complex_neg(const Tensor& self, const std::optional<Tensor>& out);
/// self == other (equal = true) or self != other, elementwise on both parts; a bool tensor.
Tensor complex_equal(const Tensor& self, const Tensor& other, bool equal, const std::optional<Tensor>& out);
/// sum (or mean) of a complex tensor, or of any tensor into a complex `dtype`.
Tensor complex_sum(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim,
                   std::optional<DType> dtype, bool mean);

}  // namespace hy::cpu
