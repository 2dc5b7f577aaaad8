#include "kernels/conv_transpose_shape.h"

#include "core/error.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels {
namespace {
int64_t pair_at(const DimVector& v, int i) { return v[static_cast<size_t>(i)]; }
}  // namespace

// torch's argument rules and words (aten's conv checks), raised as ValueError: hyflow's rule for a bad argument
// value or a shape that does not fit, as conv2d's (torch raises RuntimeError; docs/nn.md, "Convolution arguments").
ConvTransposeShape check_conv_transpose2d(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                                          const DimVector& stride, const DimVector& padding,
                                          const DimVector& output_padding, int64_t groups, const DimVector& dilation) {
  const char* op = "conv_transpose2d";
  hy::cpu::check_defined(input, op, "input");
  hy::cpu::check_defined(weight, op, "weight");
  const DType dt = bias ? hy::cpu::linalg_dtype(op, {{"input", input}, {"weight", weight}, {"bias", *bias}})
                        : hy::cpu::linalg_dtype(op, {{"input", input}, {"weight", weight}});
  hy::cpu::check_floating(input, op, "input");
  HY_CHECK(input.dim() == 4, ValueError, op, ": expected a 4-D (N, C_in, H, W) input, but got input of size ",
           input.shape());
  HY_CHECK(weight.dim() == 4, ValueError, op, ": expected a 4-D (C_in, C_out / groups, kH, kW) weight, but got "
           "weight of size ", weight.shape());
  const std::pair<const char*, const DimVector*> pairs[] = {
      {"stride", &stride}, {"padding", &padding}, {"output_padding", &output_padding}, {"dilation", &dilation}};
  for (const auto& [name, v] : pairs)
    HY_CHECK(v->size() == 2, ValueError, op, ": expected ", name, " to be a list of 2 values, but got ", name, "=",
             *v);
  HY_CHECK(groups > 0, ValueError, op, ": non-positive groups is not supported, got groups=", groups);
  HY_CHECK(stride[0] > 0 && stride[1] > 0, ValueError, op, ": non-positive stride is not supported, got stride=",
           stride);
  HY_CHECK(padding[0] >= 0 && padding[1] >= 0, ValueError, op,
           ": negative padding is not supported, got padding=", padding);
  HY_CHECK(output_padding[0] >= 0 && output_padding[1] >= 0, ValueError, op,
           ": negative output_padding is not supported, got output_padding=", output_padding);
  HY_CHECK(dilation[0] > 0 && dilation[1] > 0, ValueError, op,
           ": dilation should be greater than zero, got dilation=", dilation);
  for (int i = 0; i < 2; ++i)
    HY_CHECK(pair_at(output_padding, i) < pair_at(stride, i) || pair_at(output_padding, i) < pair_at(dilation, i),
             ValueError, op, ": output padding must be smaller than either stride or dilation, but got "
             "output_padding=", output_padding, " stride=", stride, " dilation=", dilation);
  const Shape& xs = input.shape();
  const Shape& ws = weight.shape();
  HY_CHECK(ws[0] % groups == 0, ValueError, op, ": given groups=", groups,
           ", expected weight to be divisible by ", groups, " at dimension 0, but got weight of size ", ws);
  HY_CHECK(xs[1] == ws[0], ValueError, op, ": weight of size ", ws, " expects input to have ", ws[0],
           " channels, but got input of size ", xs, " (", xs[1], " channels)");
  HY_CHECK(ws[1] > 0 && ws[2] > 0 && ws[3] > 0, ValueError, op, ": weight of size ", ws,
           " has an empty output-channel or kernel dim");
  HY_CHECK(xs[2] > 0 && xs[3] > 0, ValueError, op, ": input of size ", xs, " has an empty spatial dim");
  ConvTransposeShape t{xs[0], xs[1], xs[2], xs[3], ws[1] * groups, groups, ws[2], ws[3], 0, 0, dt};
  if (bias)
    HY_CHECK(bias->dim() == 1 && bias->shape()[0] == t.cout, ValueError, op, ": weight of size ", ws,
             " expects bias to be 1-dimensional with ", t.cout, " elements, but got bias of size ", bias->shape());
  // Output size: the input size conv2d would map this output back to, plus output_padding (which picks one
  // of the `stride` output sizes that all give this input size).
  // In 128 bits: every term is a product of two int64 at most, so the sum cannot wrap before it is checked.
  const auto out_size = [&](int64_t in, int64_t k, int i) {
    const __int128 v = static_cast<__int128>(in - 1) * stride[i] - 2 * static_cast<__int128>(padding[i]) +
                       static_cast<__int128>(dilation[i]) * (k - 1) + output_padding[i] + 1;
    HY_CHECK(v <= INT64_MAX, ValueError, op, ": the output size in spatial dim ", i, " overflows int64 (stride=",
             stride, ", padding=", padding, ", dilation=", dilation, ", output_padding=", output_padding, ")");
    return static_cast<int64_t>(v);
  };
  t.ho = out_size(t.h, t.kh, 0);
  t.wo = out_size(t.w, t.kw, 1);
  HY_CHECK(t.ho > 0 && t.wo > 0, ValueError, op, ": given input size per channel (", t.h, " x ", t.w,
           "), the calculated output size per channel (", t.ho, " x ", t.wo, ") is too small");
  return t;
}

Tensor conv_transpose2d_widened(DType dtype, const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                                const ConvTransposeBody& run) {
  if (dtype != DType::Float16 && dtype != DType::BFloat16) return run(input, weight, bias);
  auto wide = [](const Tensor& v) { return ops::to_dtype(v, DType::Float32, false); };
  const std::optional<Tensor> b32 = bias ? std::optional<Tensor>(wide(*bias)) : std::nullopt;
  return ops::to_dtype(run(wide(input), wide(weight), b32), dtype, false);
}

}  // namespace hy::kernels
