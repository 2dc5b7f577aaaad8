// Particle-grid transfers (csrc/ops/table/particle.yaml): cloud-in-cell deposit and interpolation on a
// 1-D grid, the derivative of both by the particle positions, and torch's index_add.
//
// Determinism: a deposit adds many particles into few nodes, so threads would race or, with atomics,
// sum in a different order each run. Particles are cut into blocks whose size depends only on the
// particle count; each block deposits into its own grid (blocks run in parallel), and the grids are
// summed node by node in block order. The result is the same at any thread count, run after run.
#include <atomic>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "core/type_promotion.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/particle.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cpu {
namespace {

constexpr int64_t kMinParticlesPerBlock = 16384;
constexpr int64_t kMaxBlocks = 64;  // bounds the private grids' memory to 64 grids

// Node i and fraction f of a particle at x (grid of n nodes, spacing dx): the particle gives (1 - f) to
// node i and f to node i + 1. Periodic grids wrap x into [0, n*dx); otherwise x must lie in
// [0, (n-1)*dx] (checked by the callers through `ok`).
template <typename T>
inline void cic_locate(T x, double inv_dx, int64_t n, bool periodic, int64_t& i, int64_t& j, T& f, bool& ok) {
  double g = static_cast<double>(x) * inv_dx;
  if (periodic) {
    g -= std::floor(g / static_cast<double>(n)) * static_cast<double>(n);
    if (g >= static_cast<double>(n)) g = 0.0;  // -1e-17 wraps to n: the same node as 0
  }
  ok = std::isfinite(g) && g >= 0.0 && g <= static_cast<double>(periodic ? n : n - 1);
  if (!ok) {
    i = j = 0;
    f = T(0);
    return;
  }
  double fl = std::floor(g);
  i = static_cast<int64_t>(fl);
  if (!periodic && i == n - 1) i = n - 2 >= 0 ? n - 2 : 0;  // the last node: f = 1 on it
  f = static_cast<T>(g - static_cast<double>(i));
  j = i + 1;
  if (j >= n) j = periodic ? j - n : n - 1;
}

void check_particles(const Tensor& positions, const char* op) {
  hy::cpu::check_defined(positions, op, "positions");
  HY_CHECK(positions.dim() == 1, ValueError, op, ": positions must be 1-D (one coordinate per particle), got shape ",
           positions.shape());
  HY_CHECK(positions.dtype() == DType::Float32 || positions.dtype() == DType::Float64, TypeError, op,
           ": positions must be float32 or float64, got ", positions.describe());
}

void check_grid(int64_t n_cells, double dx, bool periodic, const char* op) {
  HY_CHECK(n_cells >= (periodic ? 1 : 2), ValueError, op, ": n_cells must be >= ", periodic ? 1 : 2,
           " (", periodic ? "periodic" : "non-periodic", " grid), got ", n_cells);
  HY_CHECK(std::isfinite(dx) && dx > 0, ValueError, op, ": dx must be a positive number, got ", dx);
}

[[noreturn]] void throw_outside(double x, int64_t n, double dx, const char* op) {
  throw ValueError(str(op, ": a particle at position ", x, " lies outside the non-periodic grid [0, ",
                       static_cast<double>(n - 1) * dx, "] (or is not finite); pass periodic=True to wrap it"));
}

// Per particle p: out[p] = scale[p] * (grid[j] - grid[i]) / dx (position derivative), or
// (1 - f) grid[i] + f grid[j] (interpolation).
template <typename T, bool kDerivative>
Tensor per_particle(const Tensor& grid_in, const Tensor& positions_in, const Tensor* scale_in, double dx, bool periodic,
                    const char* op) {
  const Tensor grid = ops::contiguous(grid_in), pos = ops::contiguous(positions_in);
  const Tensor scale = scale_in ? ops::contiguous(*scale_in) : Tensor();
  const int64_t n = grid.numel(), np = pos.numel();
  Tensor out = Tensor::empty({np}, grid.dtype());
  const T* g = grid.data<T>();
  const T* x = pos.data<T>();
  const T* s = scale_in ? scale.data<T>() : nullptr;
  T* o = out.data<T>();
  const double inv_dx = 1.0 / dx;
  std::atomic<bool> bad{false};
  parallel_for(0, np, 8192, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      int64_t i, j;
      T f;
      bool ok;
      cic_locate<T>(x[p], inv_dx, n, periodic, i, j, f, ok);
      if (!ok) {
        bad.store(true, std::memory_order_relaxed);  // found again, in order, below to name the first
        o[p] = T(0);
        continue;
      }
      if constexpr (kDerivative) o[p] = static_cast<T>(s[p] * (g[j] - g[i]) * inv_dx);
      else o[p] = static_cast<T>((T(1) - f) * g[i] + f * g[j]);
    }
  });
  if (bad.load()) {
    for (int64_t p = 0; p < np; ++p) {
      int64_t i, j;
      T f;
      bool ok;
      cic_locate<T>(x[p], inv_dx, n, periodic, i, j, f, ok);
      if (!ok) throw_outside(static_cast<double>(x[p]), n, dx, op);
    }
  }
  return out;
}

template <typename T>
Tensor deposit(const Tensor& positions_in, const Tensor& weights_in, int64_t n, double dx, bool periodic,
               const char* op) {
  const Tensor pos = ops::contiguous(positions_in), w = ops::contiguous(weights_in);
  const int64_t np = pos.numel();
  const T* x = pos.data<T>();
  const T* wt = w.data<T>();
  const double inv_dx = 1.0 / dx;
  // The blocking depends on np only, never on the thread count.
  const int64_t blocks = std::max<int64_t>(1, std::min(kMaxBlocks, (np + kMinParticlesPerBlock - 1) / kMinParticlesPerBlock));
  const int64_t per_block = (np + blocks - 1) / std::max<int64_t>(blocks, 1);
  std::vector<T> grids(static_cast<size_t>(blocks * n), T(0));
  std::vector<char> bad(static_cast<size_t>(blocks), 0);
  parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      T* grid = grids.data() + b * n;
      const int64_t lo = b * per_block, hi = std::min(np, lo + per_block);
      for (int64_t p = lo; p < hi; ++p) {
        int64_t i, j;
        T f;
        bool ok;
        cic_locate<T>(x[p], inv_dx, n, periodic, i, j, f, ok);
        if (!ok) {
          bad[static_cast<size_t>(b)] = 1;
          continue;
        }
        grid[i] += (T(1) - f) * wt[p];
        grid[j] += f * wt[p];
      }
    }
  });
  for (int64_t b = 0; b < blocks; ++b) {
    if (!bad[static_cast<size_t>(b)]) continue;
    for (int64_t p = b * per_block; p < std::min(np, (b + 1) * per_block); ++p) {
      int64_t i, j;
      T f;
      bool ok;
      cic_locate<T>(x[p], inv_dx, n, periodic, i, j, f, ok);
      if (!ok) throw_outside(static_cast<double>(x[p]), n, dx, op);
    }
  }
  Tensor out = Tensor::empty({n}, pos.dtype());
  T* o = out.data<T>();
  parallel_for(0, n, 4096, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      T acc = T(0);
      for (int64_t b = 0; b < blocks; ++b) acc += grids[static_cast<size_t>(b * n + c)];  // fixed order
      o[c] = acc;
    }
  });
  return out;
}

void check_same_float(const Tensor& a, const Tensor& b, const char* op, const char* an, const char* bn) {
  HY_CHECK(a.dtype() == b.dtype(), TypeError, op, ": ", an, " and ", bn, " must have the same dtype, got ",
           dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
}

}  // namespace

Tensor deposit_cic(const Tensor& positions, const Tensor& weights, int64_t n_cells, double dx, bool periodic) {
  check_particles(positions, "deposit_cic");
  hy::cpu::check_defined(weights, "deposit_cic", "weights");
  check_grid(n_cells, dx, periodic, "deposit_cic");
  check_same_float(positions, weights, "deposit_cic", "positions", "weights");
  HY_CHECK(weights.shape() == positions.shape(), ValueError, "deposit_cic: weights must have the shape of positions ",
           positions.shape(), ", got ", weights.shape());
  Tensor out;
  HY_DISPATCH_FLOAT(positions.dtype(), "deposit_cic", [&] {
    out = deposit<scalar_t>(positions, weights, n_cells, dx, periodic, "deposit_cic");
  });
  return out;
}

Tensor interp_cic(const Tensor& field, const Tensor& positions, double dx, bool periodic) {
  check_particles(positions, "interp_cic");
  hy::cpu::check_defined(field, "interp_cic", "field");
  HY_CHECK(field.dim() == 1, ValueError, "interp_cic: field must be a 1-D grid, got shape ", field.shape());
  check_grid(field.numel(), dx, periodic, "interp_cic");
  check_same_float(field, positions, "interp_cic", "field", "positions");
  Tensor out;
  HY_DISPATCH_FLOAT(field.dtype(), "interp_cic", [&] {
    out = (per_particle<scalar_t, false>)(field, positions, nullptr, dx, periodic, "interp_cic");
  });
  return out;
}

Tensor cic_position_grad(const Tensor& grid, const Tensor& positions, const Tensor& scale, double dx, bool periodic) {
  check_particles(positions, "cic_position_grad");
  HY_CHECK(grid.dim() == 1, ValueError, "cic_position_grad: grid must be 1-D, got shape ", grid.shape());
  check_grid(grid.numel(), dx, periodic, "cic_position_grad");
  check_same_float(grid, positions, "cic_position_grad", "grid", "positions");
  check_same_float(scale, positions, "cic_position_grad", "scale", "positions");
  HY_CHECK(scale.shape() == positions.shape(), ValueError, "cic_position_grad: scale must have the shape of positions");
  Tensor out;
  HY_DISPATCH_FLOAT(grid.dtype(), "cic_position_grad", [&] {
    out = (per_particle<scalar_t, true>)(grid, positions, &scale, dx, periodic, "cic_position_grad");
  });
  return out;
}

Tensor interp_cic_field_grad(const Tensor& grad_output, const Tensor& positions, const Tensor& field, double dx,
                             bool periodic) {
  return deposit_cic(positions, grad_output, field.numel(), dx, periodic);
}

Tensor index_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source, const Scalar& alpha,
                 const std::optional<Tensor>& out) {
  hy::cpu::check_defined(self, "index_add", "self");
  hy::cpu::check_defined(source, "index_add", "source");
  hy::cpu::check_defined(index, "index_add", "index");
  HY_CHECK(index.dtype() == DType::Int64 || index.dtype() == DType::Int32, TypeError,
           "index_add: index must be an int64 or int32 tensor, got ", index.describe());
  HY_CHECK(index.dim() <= 1, ValueError, "index_add: index must be 0-d or 1-D, got shape ", index.shape());
  HY_CHECK(can_cast_in_place(source.dtype(), self.dtype()), TypeError, "index_add: source of dtype ",
           dtype_name(source.dtype()), " can't be added into self of dtype ", dtype_name(self.dtype()));
  const int64_t nd = std::max<int64_t>(self.dim(), 1);
  const int64_t d = wrap_dim(dim, nd);
  const Shape sshape = self.dim() == 0 ? Shape{1} : self.shape();
  const Shape srcshape = source.dim() == 0 ? Shape{1} : source.shape();
  const int64_t m = index.numel();
  HY_CHECK(static_cast<int64_t>(srcshape.size()) == nd, ValueError, "index_add: source must have as many dims as self (",
           nd, "), got shape ", source.shape());
  for (int64_t k = 0; k < nd; ++k)
    HY_CHECK(k == d ? srcshape[k] == m : srcshape[k] == sshape[k], ValueError, "index_add: source of shape ",
             source.shape(), " does not match self ", self.shape(), " with ", m, " indices along dim ", d);
  Tensor res = hy::cpu::prepare_out(out, self.shape(), self.dtype(), "index_add");
  const Tensor ix = ops::contiguous(hy::cpu::cast_to(index, DType::Int64));
  const int64_t* idx = ix.data<int64_t>();
  const int64_t size = sshape[d];
  for (int64_t i = 0; i < m; ++i)
    HY_CHECK(idx[i] >= 0 && idx[i] < size, IndexError, "index_add: index ", idx[i], " is out of range for dim ", d,
             " of size ", size);
  HY_CHECK(!alpha.is_float() || dtype_is_floating(self.dtype()), TypeError,
           "index_add: alpha must not be a float when self is integral (", self.describe(), ")");
  // Accumulate into a contiguous buffer laid out (outer, size, inner); sources are read as (outer, m, inner).
  Tensor acc = ops::clone(ops::reshape(self, DimVector(sshape.begin(), sshape.end())));
  Tensor src = ops::contiguous(hy::cpu::cast_to(ops::reshape(source, DimVector(srcshape.begin(), srcshape.end())),
                                                self.dtype()));
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < d; ++k) outer *= sshape[k];
  for (int64_t k = d + 1; k < nd; ++k) inner *= sshape[k];
  HY_DISPATCH_NUMERIC(self.dtype(), "index_add", [&] {
    scalar_t* a = acc.data<scalar_t>();
    const scalar_t* s = src.data<scalar_t>();
    const scalar_t al = alpha.to<scalar_t>();
    // Parallel over (outer, inner) columns; each column adds its sources in index order, so repeated
    // indices accumulate in the same order at any thread count.
    parallel_for(0, outer * inner, std::max<int64_t>(1, 16384 / std::max<int64_t>(m, 1)), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t o = c / inner, in = c % inner;
        for (int64_t i = 0; i < m; ++i)
          a[(o * size + idx[i]) * inner + in] += static_cast<scalar_t>(al * s[(o * m + i) * inner + in]);
      }
    });
  });
  hy::cpu::copy_into(res, ops::reshape(acc, DimVector(self.shape().begin(), self.shape().end())));
  return res;
}

}  // namespace hy::kernels::cpu
