// conv_transpose2d's backward formula (op table: conv.yaml), written with front functions only so that a
// backward pass run with create_graph=True is recorded too (second derivatives, gradgradcheck).
#include "autograd/backward_math_internal.h"
#include "hyflow/ops/conv.h"
#include "hyflow/ops/linalg.h"
#include "hyflow/ops/reduce.h"
#include "hyflow/ops/shape.h"
#include "hyflow/ops/tensor.h"

namespace hy::autograd::backward {

std::tuple<Tensor, Tensor, Tensor> conv_transpose2d_backward_all(const Tensor& grad, const Tensor& input,
                                                                 const Tensor& weight, const Tensor& bias,
                                                                 const DimVector& stride, const DimVector& padding,
                                                                 const DimVector& dilation, int64_t groups) {
  const int64_t n = input.shape()[0], cin = input.shape()[1], h = input.shape()[2], w = input.shape()[3];
  const int64_t cout_g = weight.shape()[1], kh = weight.shape()[2], kw = weight.shape()[3];
  const int64_t rows = cout_g * kh * kw, cin_g = cin / groups, L = h * w;
  // The forward scattered each input pixel's patch row (C_out * kh * kw values) into the output, so the
  // gradient of the patch rows is im2col(grad) over the same windows: (N, windows, C_out * kh * kw).
  Tensor cols = ops::im2col(grad, DimVector{kh, kw}, dilation, padding, stride);
  const int64_t lh = (grad.shape()[2] + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0] + 1;
  const int64_t lw = (grad.shape()[3] + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1] + 1;
  if (lh != h || lw != w) {
    // output_padding >= stride (allowed when below dilation) leaves room for windows past the input's last
    // pixel; they correspond to no input pixel.
    Tensor grid = ops::reshape(cols, DimVector{n, lh, lw, groups * rows});
    grid = ops::slice(ops::slice(grid, 1, int64_t{0}, h), 2, int64_t{0}, w);
    cols = ops::reshape(grid, DimVector{n, L, groups * rows});
  }
  std::vector<Tensor> gi_parts, gw_parts;
  for (int64_t g = 0; g < groups; ++g) {
    const Tensor cg = groups == 1 ? cols : ops::slice(cols, 2, g * rows, (g + 1) * rows);       // (N, L, rows)
    const Tensor wg = ops::reshape(groups == 1 ? weight : ops::slice(weight, 0, g * cin_g, (g + 1) * cin_g),
                                   DimVector{cin_g, rows});                                      // (C_in/g, rows)
    gi_parts.push_back(ops::matmul(cg, ops::transpose(wg, 0, 1)));                              // (N, L, C_in/g)
    const Tensor xg = groups == 1 ? input : ops::slice(input, 1, g * cin_g, (g + 1) * cin_g);
    // one GEMM over all images: (C_in/g, N*L) @ (N*L, rows)
    const Tensor xt = ops::reshape(ops::permute(ops::reshape(xg, DimVector{n, cin_g, L}), DimVector{1, 0, 2}),
                                   DimVector{cin_g, n * L});
    gw_parts.push_back(ops::matmul(xt, ops::reshape(cg, DimVector{n * L, rows})));               // (C_in/g, rows)
  }
  Tensor gi = groups == 1 ? gi_parts[0] : ops::cat(gi_parts, 2);
  gi = ops::reshape(ops::permute(gi, DimVector{0, 2, 1}), DimVector{n, cin, h, w});
  Tensor gw = ops::reshape(groups == 1 ? gw_parts[0] : ops::cat(gw_parts, 0), weight.shape());
  Tensor gb = bias.defined() ? ops::sum(grad, DimVector{0, 2, 3}, false) : Tensor();
  return {gi, gw, gb};
}

}  // namespace hy::autograd::backward
