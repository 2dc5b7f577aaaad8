// conv_transpose2d_by_ops (the CUDA kernel's body: table ops only) against the CPU's hand-written kernel, run
// on the CPU: the composition's layout and cropping logic are tested here on any machine, the GPU run adds
// only the device kernels it calls (cuBLAS GEMM, col2im), which have their own differential tests.
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "core/generator.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/conv_transpose_shape.h"

namespace hy {
namespace {

struct Case {
  int64_t n, cin, h, w, cout_g, kh, kw, groups;
  DimVector stride, padding, output_padding, dilation;
  bool bias;
};

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const Tensor m = ops::to_dtype(ops::max(ops::abs(ops::sub(a, b))), DType::Float64, false);
  return m.data<double>()[0];
}

void check(const Case& c, DType dt) {
  auto gen = std::make_shared<Generator>();
  gen->manual_seed(7);
  const Tensor x = ops::randn(DimVector{c.n, c.cin, c.h, c.w}, gen, dt);
  const Tensor wt = ops::randn(DimVector{c.cin, c.cout_g, c.kh, c.kw}, gen, dt);
  const std::optional<Tensor> b =
      c.bias ? std::optional<Tensor>(ops::randn(DimVector{c.cout_g * c.groups}, gen, dt)) : std::nullopt;
  const Tensor want =
      ops::conv_transpose2d(x, wt, b, c.stride, c.padding, c.output_padding, c.groups, c.dilation);
  const kernels::ConvTransposeShape s = kernels::check_conv_transpose2d(x, wt, b, c.stride, c.padding,
                                                                        c.output_padding, c.groups, c.dilation);
  const Tensor got = kernels::conv_transpose2d_by_ops(s, x, wt, b, c.stride, c.padding, c.dilation);
  ASSERT_EQ(got.shape(), want.shape());
  if (want.numel() == 0) return;
  EXPECT_LT(max_abs_diff(got, want), dt == DType::Float64 ? 1e-12 : 1e-4)
      << "n=" << c.n << " cin=" << c.cin << " groups=" << c.groups << " stride=" << c.stride
      << " padding=" << c.padding << " output_padding=" << c.output_padding << " dilation=" << c.dilation;
}

TEST(ConvTransposeByOps, MatchesTheCpuKernel) {
  const Case cases[] = {
      {2, 3, 5, 4, 2, 3, 3, 1, {1, 1}, {0, 0}, {0, 0}, {1, 1}, true},
      {2, 4, 5, 6, 3, 3, 2, 2, {2, 3}, {1, 0}, {1, 2}, {1, 1}, true},   // groups, strides, output_padding < stride
      {1, 6, 4, 4, 1, 2, 3, 3, {2, 2}, {1, 1}, {0, 1}, {2, 1}, false},  // depthwise-like, dilation
      {2, 2, 3, 3, 2, 3, 3, 1, {1, 1}, {1, 2}, {1, 1}, {2, 3}, true},   // output_padding >= stride (< dilation)
      {1, 2, 3, 4, 2, 2, 2, 2, {2, 1}, {2, 0}, {2, 1}, {3, 2}, true},   // both dims, padding cropped past the canvas
      {3, 1, 1, 1, 4, 1, 1, 1, {1, 1}, {0, 0}, {0, 0}, {1, 1}, true},   // 1x1 image, 1x1 kernel
      {0, 3, 4, 4, 2, 3, 3, 1, {1, 1}, {0, 0}, {0, 0}, {1, 1}, true},   // empty batch
      {2, 0, 4, 4, 2, 3, 3, 1, {1, 1}, {0, 0}, {0, 0}, {1, 1}, true},   // no input channels: bias only
  };
  for (const Case& c : cases) {
    check(c, DType::Float64);
    check(c, DType::Float32);
  }
}

}  // namespace
}  // namespace hy
