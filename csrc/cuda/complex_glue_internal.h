// Complex arithmetic the CUDA kernels of add/sub/mul/div/neg/eq/ne/sum/mean hand over to when a complex
// tensor takes part (kernels_complex.cpp): the CPU's complex rules (kernels/cpu/complex.cpp) on the device.
#pragma once
#include <optional>

#include "core/tensor.h"
#include "cuda/launch_internal.h"

namespace hy::kernels::cuda {

/// True when either operand is complex.
inline bool any_complex(const Tensor& a, const Tensor& b) {
  return dtype_is_complex(a.dtype()) || dtype_is_complex(b.dtype());
}
/// self + alpha * other for a complex result type (either input may be real), broadcast; `out` as in add.
Tensor complex_add(const Tensor& self, const Tensor& other, double alpha, const std::optional<Tensor>& out,
                   const char* op);
/// self * other or self / other (true division), broadcast, for a complex result type.
Tensor complex_mul_div(hy::cuda::ComplexOp op, const Tensor& self, const Tensor& other,
                       const std::optional<Tensor>& out);
/// -self of a complex tensor.
Tensor complex_neg(const Tensor& self, const std::optional<Tensor>& out);
/// self == other (equal) or self != other: both parts compared.
Tensor complex_equal(const Tensor& self, const Tensor& other, bool equal, const std::optional<Tensor>& out);
/// sum (or mean) of a complex tensor, or of any tensor into a complex `dtype`.
Tensor complex_sum(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim, std::optional<DType> dtype,
                   bool mean);

}  // namespace hy::kernels::cuda
