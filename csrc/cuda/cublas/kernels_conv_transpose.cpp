// conv_transpose2d on CUDA: the CPU kernel's checks (kernels/conv_transpose_shape.h), then the table-op
// composition of kernels/conv_transpose_by_ops.cpp — a cuBLAS batched GEMM into patch rows and the col2im
// kernel (conv.cu), which sums each output element's taps in order (no atomics, deterministic).
// float16/bfloat16 compute in float32 and round once, as on the CPU. Built only with cuBLAS
// (cublas_missing.cpp says why it cannot run otherwise).
#include <optional>

#include "hyflow/ops/ops_generated.h"
#include "kernels/conv_transpose_shape.h"

namespace hy::kernels::cuda {

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                        const DimVector& stride, const DimVector& padding, const DimVector& output_padding,
                        int64_t groups, const DimVector& dilation) {
  const ConvTransposeShape s =
      check_conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation);
  return conv_transpose2d_widened(s.dtype, input, weight, bias,
                                  [&](const Tensor& x, const Tensor& w, const std::optional<Tensor>& b) {
                                    return conv_transpose2d_by_ops(s, x, w, b, stride, padding, dilation);
                                  });
}

}  // namespace hy::kernels::cuda
