#include "kernels/stencil_grid.h"

#include <cmath>

#include "core/error.h"

namespace hy::kernels {
namespace {

Boundary parse_boundary(const std::string& s, const char* op) {
  if (s == "periodic") return Boundary::Boundary_Periodic;
  if (s == "dirichlet") return Boundary::Boundary_Dirichlet;
  if (s == "neumann") return Boundary::Boundary_Neumann;
  throw ValueError(str(op, ": boundary must be one of 'periodic', 'dirichlet', 'neumann', got '", s, "'"));
}

double check_spacing(double h, const char* name, const char* op) {
  HY_CHECK(std::isfinite(h) && h > 0, ValueError, op, ": ", name, " must be a positive finite spacing, got ", h);
  return h;
}

}  // namespace

Grid make_grid(const char* op, const Shape& shape, int64_t grid_dims, double dx, double dy, double dz,
               const std::string& boundary, bool component_dim) {
  Grid g;
  g.bc = parse_boundary(boundary, op);
  const int64_t ndim = static_cast<int64_t>(shape.size());
  const int64_t extra = component_dim ? 1 : 0;
  if (grid_dims == -1) {
    HY_CHECK(ndim - extra >= 1 && ndim - extra <= 3, ValueError, op, ": grid_dims=-1 makes every dim",
             component_dim ? " after the component dim" : "", " a grid dim, which needs 1 to 3 of them, but the",
             " input has shape ", shape, "; pass grid_dims explicitly for batched input");
    grid_dims = ndim - extra;
  }
  HY_CHECK(grid_dims >= 1 && grid_dims <= 3, ValueError, op, ": grid_dims must be 1, 2, 3 or -1, got ", grid_dims);
  HY_CHECK(ndim >= grid_dims + extra, ValueError, op, ": grid_dims=", grid_dims, " needs an input with at least ",
           grid_dims + extra, " dims", component_dim ? " (components, then the grid)" : "", ", got shape ", shape);
  g.nd = static_cast<int>(grid_dims);
  const int64_t first = ndim - grid_dims;
  if (component_dim) {
    HY_CHECK(shape[first - 1] == grid_dims, ValueError, op, ": v of shape ", shape, " must have ", grid_dims,
             " components in dim ", first - 1, " (just before the ", grid_dims, " grid dims), got ", shape[first - 1]);
  }
  g.h[0] = check_spacing(dx, "dx", op);
  const double* given[2] = {&dy, &dz};
  const char* names[2] = {"dy", "dz"};
  for (int k = 1; k < 3; ++k) {
    double h = *given[k - 1];
    if (k >= g.nd) {
      HY_CHECK(h < 0, ValueError, op, ": ", names[k - 1], "=", h, " is given but the grid has only ", g.nd,
               " dim(s) (grid_dims=", g.nd, ")");
      continue;
    }
    g.h[k] = h < 0 ? g.h[0] : check_spacing(h, names[k - 1], op);
  }
  g.points = 1;
  for (int k = g.nd - 1; k >= 0; --k) {
    g.n[k] = shape[first + k];
    HY_CHECK(g.n[k] >= 3, ValueError, op, ": every grid dim needs at least 3 points, but grid dim ", k,
             " (dim ", first + k, " of shape ", shape, ") has ", g.n[k]);
    g.stride[k] = g.points;
    g.points *= g.n[k];
  }
  g.len = g.n[g.nd - 1];
  g.rows = g.points / g.len;
  g.batch = 1;
  for (int64_t d = 0; d < first - extra; ++d) g.batch *= shape[d];
  return g;
}

}  // namespace hy::kernels
