// The checked geometry of a stencil call (laplacian, gradient, divergence), shared by the CPU kernels
// (kernels/cpu/stencil.cpp) and the CUDA ones (cuda/kernels_stencil.cpp) so both check and word their
// arguments the same way. docs/stencils.md gives the formulas.
#pragma once
#include <cstdint>
#include <string>

#include "core/shape_util.h"

namespace hy::kernels {

enum class Boundary { Boundary_Periodic, Boundary_Dirichlet, Boundary_Neumann };

// The data is [batch, (components,) n[0], .., n[nd-1]] row-major.
struct Grid {
  int nd = 0;                    // grid dims (1..3)
  int64_t n[3] = {1, 1, 1};      // grid sizes
  int64_t stride[3] = {0, 0, 0}; // element stride of each grid axis (stride[nd-1] == 1)
  double h[3] = {1, 1, 1};       // spacing of each grid axis
  int64_t len = 0;               // points per row (n[nd-1])
  int64_t rows = 0;              // rows per grid (grid points / len)
  int64_t points = 0;            // grid points
  int64_t batch = 0;             // product of the leading (batch) dims
  Boundary bc = Boundary::Boundary_Periodic;
};

/// Validates the arguments every stencil shares (ValueError naming the bad one). `component_dim`: the
/// input has a dim of size grid_dims just before the grid (divergence's vector components).
Grid make_grid(const char* op, const Shape& shape, int64_t grid_dims, double dx, double dy, double dz,
               const std::string& boundary, bool component_dim);

}  // namespace hy::kernels
