// conv_transpose2d: the transposed convolution, i.e. conv2d's input gradient run forward. conv2d is im2col
// + GEMM; its adjoint is GEMM + col2im: each image's (C_in, H*W) block times the weight's transpose gives
// patch rows (C_out*kh*kw, H*W), and col2im's scatter adds them into the (C_out, Ho, Wo) output.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/parallel.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/conv_internal.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cpu {
namespace {

// Images per GEMM + scatter step: their patch rows (this many bytes) stay in cache between the GEMM that
// writes them and the scatter that reads them, and a large batch never allocates all of its rows at once.
constexpr int64_t kPatchBlockBytes = int64_t{4} << 20;

struct TransposedConv {
  int64_t n, cin, h, w, cout, groups, kh, kw;
  ConvGeometry out;  // the output image and the scatter: c = C_out / groups, patch grid = the input's H x W
};

int64_t pair_at(const DimVector& v, int i) { return v[static_cast<size_t>(i)]; }

// torch's argument rules and words (aten's conv checks), raised as ValueError: hyflow's rule for a bad argument
// value or a shape that does not fit, as conv2d's (torch raises RuntimeError; docs/nn.md).
TransposedConv check_args(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                          const DimVector& stride, const DimVector& padding, const DimVector& output_padding,
                          int64_t groups, const DimVector& dilation) {
  const char* op = "conv_transpose2d";
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
  TransposedConv t{xs[0], xs[1], xs[2], xs[3], ws[1] * groups, groups, ws[2], ws[3], {}};
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
  const int64_t ho = out_size(t.h, t.kh, 0), wo = out_size(t.w, t.kw, 1);
  HY_CHECK(ho > 0 && wo > 0, ValueError, op, ": given input size per channel (", t.h, " x ", t.w,
           "), the calculated output size per channel (", ho, " x ", wo, ") is too small");
  t.out = ConvGeometry{t.n, ws[1], ho, wo, t.kh, t.kw, dilation[0], dilation[1], padding[0], padding[1],
                       stride[0], stride[1], t.h, t.w};
  return t;
}

template <typename T>
void run(const TransposedConv& t, const T* x, const T* wt, const T* b, T* y) {
  const ConvGeometry& g = t.out;
  const int64_t cin_g = t.cin / t.groups, rows = g.c * t.kh * t.kw, L = t.h * t.w, plane = g.h * g.w;
  const int64_t per_image = std::max<int64_t>(1, t.cout * t.kh * t.kw * L * static_cast<int64_t>(sizeof(T)));
  const int64_t block = std::clamp<int64_t>(kPatchBlockBytes / per_image, 1, std::max<int64_t>(1, t.n));
  Tensor cols = Tensor::empty(Shape{block * t.groups, rows, L}, dtype_of<T>());
  T* col = cols.data<T>();
  std::vector<int64_t> off_a(static_cast<size_t>(block * t.groups)), off_b(off_a.size());
  for (int64_t n0 = 0; n0 < t.n; n0 += block) {
    const int64_t m = std::min(block, t.n - n0), batch = m * t.groups;
    for (int64_t q = 0; q < batch; ++q) {  // q = image * groups + group
      const int64_t img = n0 + q / t.groups, grp = q % t.groups;
      off_a[static_cast<size_t>(q)] = grp * cin_g * rows;            // the group's (C_in/g, rows) weight block
      off_b[static_cast<size_t>(q)] = (img * t.cin + grp * cin_g) * L;  // the image's group channels (C_in/g, L)
    }
    // rows x L = (C_in/g x rows)^T (stored row-major: the transposed operand) times (C_in/g x L)
    const hy::cpu::GemmMatrix<T> a{wt, off_a.data(), rows, true}, bm{x, off_b.data(), L, false};
    if (cin_g > 0) hy::cpu::gemm_batched<T>(batch, rows, L, cin_g, T(1), a, bm, T(0), col);
    else std::fill(col, col + batch * rows * L, T(0));
    parallel_for(0, batch, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t q = lo; q < hi; ++q) {
        const int64_t img = n0 + q / t.groups, grp = q % t.groups;
        T* out = y + (img * t.cout + grp * g.c) * plane;
        for (int64_t c = 0; c < g.c; ++c)
          std::fill(out + c * plane, out + (c + 1) * plane, b ? b[grp * g.c + c] : T(0));
        col2im_add_image(col + q * rows * L, L, out, g);
      }
    });
  }
}

}  // namespace

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                        const DimVector& stride, const DimVector& padding, const DimVector& output_padding,
                        int64_t groups, const DimVector& dilation) {
  const char* op = "conv_transpose2d";
  hy::cpu::check_defined(input, op, "input");
  hy::cpu::check_defined(weight, op, "weight");
  const DType dt = bias ? hy::cpu::linalg_dtype(op, {{"input", input}, {"weight", weight}, {"bias", *bias}})
                        : hy::cpu::linalg_dtype(op, {{"input", input}, {"weight", weight}});
  hy::cpu::check_floating(input, op, "input");
  const TransposedConv t = check_args(input, weight, bias, stride, padding, output_padding, groups, dilation);
  if (dt == DType::Float16 || dt == DType::BFloat16) {  // computed in float32, rounded once
    auto wide = [](const Tensor& v) { return ops::to_dtype(v, DType::Float32, false); };
    const std::optional<Tensor> b32 = bias ? std::optional<Tensor>(wide(*bias)) : std::nullopt;
    return ops::to_dtype(conv_transpose2d(wide(input), wide(weight), b32, stride, padding, output_padding, groups,
                                          dilation),
                         dt, false);
  }
  const Tensor x = hy::cpu::contiguous(input), w = hy::cpu::contiguous(weight);
  const Tensor b = bias ? hy::cpu::contiguous(*bias) : Tensor();
  Tensor y = Tensor::empty(Shape{t.n, t.cout, t.out.h, t.out.w}, dt);
  if (y.numel() == 0) return y;
  HY_DISPATCH_FLOAT(dt, op, [&] {
    run<scalar_t>(t, x.data<scalar_t>(), w.data<scalar_t>(), b.defined() ? b.data<scalar_t>() : nullptr,
                  y.data<scalar_t>());
  });
  return y;
}

}  // namespace hy::kernels::cpu
