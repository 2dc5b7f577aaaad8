// conv_transpose2d: the transposed convolution, i.e. conv2d's input gradient run forward. conv2d is im2col
// + GEMM; its adjoint is GEMM + col2im: each image's (C_in, H*W) block times the weight's transpose gives
// patch rows (C_out*kh*kw, H*W), and col2im's scatter adds them into the (C_out, Ho, Wo) output.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/parallel.h"
#include "hyflow/ops/tensor.h"
#include "kernels/conv_transpose_shape.h"
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

TransposedConv geometry(const ConvTransposeShape& s, const DimVector& stride, const DimVector& padding,
                        const DimVector& dilation) {
  const ConvGeometry out{s.n, s.cout / s.groups, s.ho, s.wo, s.kh, s.kw, dilation[0], dilation[1], padding[0],
                         padding[1], stride[0], stride[1], s.h, s.w};
  return TransposedConv{s.n, s.cin, s.h, s.w, s.cout, s.groups, s.kh, s.kw, out};
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
  const ConvTransposeShape s =
      check_conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation);
  const TransposedConv t = geometry(s, stride, padding, dilation);
  return conv_transpose2d_widened(s.dtype, input, weight, bias, [&](const Tensor& in, const Tensor& wt,
                                                                   const std::optional<Tensor>& bs) {
    const DType dt = in.dtype();
    const Tensor x = hy::cpu::contiguous(in), w = hy::cpu::contiguous(wt);
    const Tensor b = bs ? hy::cpu::contiguous(*bs) : Tensor();
    Tensor y = Tensor::empty(Shape{t.n, t.cout, t.out.h, t.out.w}, dt);
    if (y.numel() == 0) return y;
    HY_DISPATCH_FLOAT(dt, "conv_transpose2d", [&] {
      run<scalar_t>(t, x.data<scalar_t>(), w.data<scalar_t>(), b.defined() ? b.data<scalar_t>() : nullptr,
                    y.data<scalar_t>());
    });
    return y;
  });
}

}  // namespace hy::kernels::cpu
