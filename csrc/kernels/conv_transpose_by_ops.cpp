// conv_transpose2d from table ops, for devices without a hand-written kernel: every image's patch rows are
// one batched GEMM over the groups, and col2im (conv2d's input gradient) sums them into the output. The CPU
// kernel (kernels/cpu/conv_transpose.cpp) does the same in cache-sized blocks; tests/cpp/test_conv_transpose_ops.cpp
// compares the two on the CPU, which is how this device-independent path is tested without a GPU.
#include <algorithm>

#include "core/error.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/conv_transpose_shape.h"

namespace hy::kernels {
namespace {

// Rows of the output that col2im covers with the given padding: the conv2d output size of `out` rows must be
// exactly the input's `in` rows, which holds unless output_padding >= stride (allowed when it is below the
// dilation), where windows past the last input pixel exist.
bool col2im_covers(int64_t out, int64_t in, int64_t k, int64_t d, int64_t p, int64_t s) {
  return (out + 2 * p - d * (k - 1) - 1) / s + 1 == in;
}

// The uncropped output extent (padding 0): (in - 1) * s + d * (k - 1) + 1, refused past int64.
int64_t canvas_extent(int64_t in, int64_t k, int64_t d, int64_t s, int dim) {
  const __int128 v = static_cast<__int128>(in - 1) * s + static_cast<__int128>(d) * (k - 1) + 1;
  HY_CHECK(v <= INT64_MAX, ValueError, "conv_transpose2d: the uncropped output size in spatial dim ", dim,
           " overflows int64");
  return static_cast<int64_t>(v);
}

}  // namespace

Tensor conv_transpose2d_by_ops(const ConvTransposeShape& s, const Tensor& input, const Tensor& weight,
                               const std::optional<Tensor>& bias, const DimVector& stride, const DimVector& padding,
                               const DimVector& dilation) {
  const int64_t g = s.groups, cin_g = s.cin / g, cout_g = s.cout / g, L = s.h * s.w;
  const int64_t rows = cout_g * s.kh * s.kw;  // one patch row per input pixel and group
  const DimVector out_shape{s.n, s.cout, s.ho, s.wo};
  Tensor y;
  if (s.n == 0 || cin_g == 0) {
    y = ops::zeros(out_shape, input.dtype(), input.device());
  } else {
    // (G, N*L, C_in/g) @ (G, C_in/g, rows): the transposed-conv GEMM of every image at once, per group.
    const Tensor x = ops::reshape(ops::permute(ops::reshape(input, DimVector{s.n, g, cin_g, L}), DimVector{1, 0, 3, 2}),
                                  DimVector{g, s.n * L, cin_g});
    const Tensor w = ops::reshape(weight, DimVector{g, cin_g, rows});
    Tensor cols = ops::matmul(x, w);  // (G, N*L, rows)
    // col2im's layout: (N, L, C_out*kh*kw), channel-major within a row, so the groups' rows side by side.
    cols = ops::reshape(ops::permute(ops::reshape(cols, DimVector{g, s.n, L, rows}), DimVector{1, 2, 0, 3}),
                        DimVector{s.n, L, g * rows});
    const DimVector k{s.kh, s.kw};
    if (col2im_covers(s.ho, s.h, s.kh, dilation[0], padding[0], stride[0]) &&
        col2im_covers(s.wo, s.w, s.kw, dilation[1], padding[1], stride[1])) {
      y = ops::col2im(cols, out_shape, k, dilation, padding, stride);
    } else {
      // output_padding >= stride: scatter onto the uncropped canvas, then crop `padding` at the top/left and
      // crop or zero-extend at the bottom/right (pad's negative widths crop).
      const int64_t hc = canvas_extent(s.h, s.kh, dilation[0], stride[0], 0);
      const int64_t wc = canvas_extent(s.w, s.kw, dilation[1], stride[1], 1);
      const Tensor canvas = ops::col2im(cols, DimVector{s.n, s.cout, hc, wc}, k, dilation, DimVector{0, 0}, stride);
      y = ops::pad(canvas, DimVector{-padding[1], s.wo + padding[1] - wc, -padding[0], s.ho + padding[0] - hc});
    }
  }
  if (bias) y = ops::add(y, ops::reshape(*bias, DimVector{1, s.cout, 1, 1}));
  return y;
}

}  // namespace hy::kernels
