// The checked shape of a conv_transpose2d call, shared by the CPU kernel (kernels/cpu/conv_transpose.cpp) and
// the CUDA one (cuda/cublas/kernels_conv_transpose.cpp) so both check and word their arguments the same way
// (torch's rules and messages, so a ported program fails the same way).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>

#include "core/shape_util.h"
#include "core/tensor.h"

namespace hy::kernels {

struct ConvTransposeShape {
  int64_t n, cin, h, w;   // the input (N, C_in, H, W)
  int64_t cout, groups;   // output channels (all groups), groups
  int64_t kh, kw;         // kernel
  int64_t ho, wo;         // output image: (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
  DType dtype;            // the operands' (one floating dtype)
};

/// Validates everything but devices: ValueError with torch's words for shapes and values (torch raises
/// RuntimeError), RuntimeError for operands of different dtypes, TypeError for a non-floating input.
ConvTransposeShape check_conv_transpose2d(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                                          const DimVector& stride, const DimVector& padding,
                                          const DimVector& output_padding, int64_t groups, const DimVector& dilation);

/// The kernel's body `run` on the operands, or for float16/bfloat16 on float32 copies with the result rounded
/// once to the operands' dtype (both devices compute 16-bit convolutions in float32).
using ConvTransposeBody = std::function<Tensor(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias)>;
Tensor conv_transpose2d_widened(DType dtype, const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                                const ConvTransposeBody& run);

/// conv_transpose2d composed of table ops on the input's device (matmul into patch rows, col2im, bias add):
/// the kernel of devices without a hand-written one (CUDA). Arguments already checked by
/// check_conv_transpose2d (output_padding is in s.ho / s.wo); computes in the operands' dtype.
Tensor conv_transpose2d_by_ops(const ConvTransposeShape& s, const Tensor& input, const Tensor& weight,
                               const std::optional<Tensor>& bias, const DimVector& stride, const DimVector& padding,
                               const DimVector& dilation);

}  // namespace hy::kernels
