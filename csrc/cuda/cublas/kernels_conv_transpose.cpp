// conv_transpose2d on CUDA: the CPU kernel's checks (kernels/conv_transpose_shape.h), then the table-op
// composition of kernels/conv_transpose_by_ops.cpp — a cuBLAS batched GEMM into patch rows and the col2im
// kernel (conv.cu), which sums each output element's taps in order (no atomics, deterministic).
// float16/bfloat16 compute in float32 and round once, as on the CPU. Built only with cuBLAS
// (cublas_missing.cpp says why it cannot run otherwise).
#include <optional>

#include "hyflow/ops/ops_generated.h"
#include "kernels/conv_transpose_shape.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cuda {

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                        const DimVector& stride, const DimVector& padding, const DimVector& output_padding,
                        int64_t groups, const DimVector& dilation) {
  const char* op = "conv_transpose2d";
  hy::cpu::check_defined(input, op, "input");
  hy::cpu::check_defined(weight, op, "weight");
  const DType dt = bias ? hy::cpu::linalg_dtype(op, {{"input", input}, {"weight", weight}, {"bias", *bias}})
                        : hy::cpu::linalg_dtype(op, {{"input", input}, {"weight", weight}});
  hy::cpu::check_floating(input, op, "input");
  const ConvTransposeShape s =
      check_conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation);
  if (dt == DType::Float16 || dt == DType::BFloat16) {
    auto wide = [](const Tensor& v) { return ops::to_dtype(v, DType::Float32, false); };
    const std::optional<Tensor> b32 = bias ? std::optional<Tensor>(wide(*bias)) : std::nullopt;
    return ops::to_dtype(conv_transpose2d_by_ops(s, wide(input), wide(weight), b32, stride, padding, dilation), dt,
                         false);
  }
  return conv_transpose2d_by_ops(s, input, weight, bias, stride, padding, dilation);
}

}  // namespace hy::kernels::cuda
