// The checked shape of a conv_transpose2d call, shared by the CPU kernel (kernels/cpu/conv_transpose.cpp) and
// the CUDA one (cuda/cublas/kernels_conv_transpose.cpp) so both check and word their arguments the same way
// (torch's rules and messages, so a ported program fails the same way).
#pragma once
#include <cstdint>
#include <optional>

#include "core/shape_util.h"
#include "core/tensor.h"

namespace hy::kernels {

struct ConvTransposeShape {
  int64_t n, cin, h, w;   // the input (N, C_in, H, W)
  int64_t cout, groups;   // output channels (all groups), groups
  int64_t kh, kw;         // kernel
  int64_t ho, wo;         // output image: (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
};

/// Validates everything but dtypes and devices: ValueError with torch's words (torch raises RuntimeError).
ConvTransposeShape check_conv_transpose2d(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                                          const DimVector& stride, const DimVector& padding,
                                          const DimVector& output_padding, int64_t groups, const DimVector& dilation);

/// conv_transpose2d composed of table ops on the input's device (matmul into patch rows, col2im, bias add):
/// the kernel of devices without a hand-written one (CUDA). Arguments already checked by
/// check_conv_transpose2d (output_padding is in s.ho / s.wo); computes in the operands' dtype.
Tensor conv_transpose2d_by_ops(const ConvTransposeShape& s, const Tensor& input, const Tensor& weight,
                               const std::optional<Tensor>& bias, const DimVector& stride, const DimVector& padding,
                               const DimVector& dilation);

}  // namespace hy::kernels
