// The CUDA kernels of the simulation stencils (laplacian, gradient, divergence; stencil.cu).
// The grid is checked by the same code as on the CPU (kernels/stencil_grid.h); float16/bfloat16 compute
// in float32 as on the CPU.
#include <optional>
#include <string>

#include "core/shape_util.h"
#include "cuda/glue_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/stencil_grid.h"

namespace hy::kernels::cuda {
namespace {

using hy::cuda::StencilOp;

// `t` as a dense tensor of `dtype` (itself when it already is one).
Tensor dense_as(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype && t.is_contiguous()) return t;
  Tensor d = Tensor::empty(t.shape(), dtype, t.device());
  hy::cuda::copy_into(d, t);
  return d;
}

Tensor run_stencil(const char* op, StencilOp kind, const Tensor& x, const char* arg, int64_t grid_dims, double dx,
                   double dy, double dz, const std::string& boundary, double value,
                   const std::optional<Tensor>& out) {
  HY_CHECK(x.defined(), ValueError, op, ": ", arg, " is undefined (None)");
  HY_CHECK(dtype_is_floating(x.dtype()), TypeError, op, ": ", arg, " must be a floating-point tensor, got ",
           x.describe());
  const bool components = kind == StencilOp::StencilOp_Divergence;
  const Grid grid = make_grid(op, x.shape(), grid_dims, dx, dy, dz, boundary, components);
  Shape shape = x.shape();
  if (kind == StencilOp::StencilOp_Gradient) shape.insert(shape.begin() + (shape.size() - grid.nd), grid.nd);
  if (components) shape.erase(shape.begin() + (shape.size() - grid.nd - 1));
  hy::cuda::StencilGeometry g;
  g.nd = grid.nd;
  g.boundary = grid.bc == Boundary::Boundary_Periodic ? 0 : grid.bc == Boundary::Boundary_Dirichlet ? 1 : 2;
  for (int k = 0; k < 3; ++k) {
    g.n[k] = grid.n[k];
    g.stride[k] = grid.stride[k];
    g.w[k] = kind == StencilOp::StencilOp_Laplacian ? 1.0 / (grid.h[k] * grid.h[k]) : 0.5 / grid.h[k];
  }
  g.points = grid.points;
  g.batch = grid.batch;
  const DType compute = x.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
  Tensor res = hy::cuda::result_tensor(op, out, shape, x.dtype(), x.device());
  const Tensor in = dense_as(x, compute);
  const bool direct = res.dtype() == compute && res.is_contiguous();
  Tensor dst = direct ? res : Tensor::empty(shape, compute, x.device());
  hy::cuda::launch_stencil(kind, compute, dst.raw_data(), in.raw_data(), g, value, hy::cuda::launch_stream(x.device()));
  if (!direct) hy::cuda::copy_into(res, dst);
  return res;
}

}  // namespace

Tensor laplacian(const Tensor& u, int64_t grid_dims, double dx, double dy, double dz, const std::string& boundary,
                 double value, const std::optional<Tensor>& out) {
  return run_stencil("laplacian", StencilOp::StencilOp_Laplacian, u, "u", grid_dims, dx, dy, dz, boundary, value, out);
}

Tensor gradient(const Tensor& u, int64_t grid_dims, double dx, double dy, double dz, const std::string& boundary,
                double value, const std::optional<Tensor>& out) {
  return run_stencil("gradient", StencilOp::StencilOp_Gradient, u, "u", grid_dims, dx, dy, dz, boundary, value, out);
}

Tensor divergence(const Tensor& v, int64_t grid_dims, double dx, double dy, double dz, const std::string& boundary,
                  double value, const std::optional<Tensor>& out) {
  return run_stencil("divergence", StencilOp::StencilOp_Divergence, v, "v", grid_dims, dx, dy, dz, boundary, value,
                     out);
}

}  // namespace hy::kernels::cuda
