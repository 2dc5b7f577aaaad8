// Finite-difference stencils (the op table's stencil family): laplacian, gradient and divergence over
// the last 1-3 dims of a tensor, with periodic / dirichlet / neumann ghost cells. docs/stencils.md
// gives the exact formulas.
//
// Layout of every kernel: the input is made contiguous once, then viewed as rows along the last grid
// axis (length L). A row's neighbours along the outer grid axes are whole rows, chosen once per row:
// the row one stride away, the wrapped row (periodic), the row itself (neumann) or a row filled with
// `value` (dirichlet). So the interior of each row is a branch-free loop over contiguous memory that
// the compiler vectorizes, and only the two end points of each row look at the boundary rule.
// Rows (long ones cut into segments) are split across the thread pool. Half/BFloat16 compute in
// float32.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "hyflow/ops/ops_common.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/stencil_grid.h"

namespace hy::kernels::cpu {
using std::optional;
using hy::kernels::Boundary;
using hy::kernels::Grid;
using hy::kernels::make_grid;

namespace {

// The rows on either side of `row` (grid row `grid_row`) along outer grid axis k: the next/previous
// row, or at an edge the wrapped row (periodic), the row itself (neumann) or a `value` row (dirichlet).
template <typename T>
void outer_neighbours(const Grid& g, const T* row, int64_t grid_row, int k, const T* value_row, const T*& prev,
                      const T*& next) {
  const int64_t i = (grid_row * g.len / g.stride[k]) % g.n[k];
  const int64_t s = g.stride[k], wrap = (g.n[k] - 1) * s;
  const bool periodic = g.bc == Boundary::Boundary_Periodic;
  const T* edge = g.bc == Boundary::Boundary_Neumann ? row : value_row;
  prev = i > 0 ? row - s : (periodic ? row + wrap : edge);
  next = i < g.n[k] - 1 ? row + s : (periodic ? row - wrap : edge);
}

// The ghost values beyond the first and last point of a row (the last grid axis).
template <typename T>
void row_ghosts(const Grid& g, const T* row, T value, T& left, T& right) {
  left = right = value;  // dirichlet
  if (g.bc == Boundary::Boundary_Periodic) {
    left = row[g.len - 1];
    right = row[0];
  } else if (g.bc == Boundary::Boundary_Neumann) {
    left = row[0];
    right = row[g.len - 1];
  }
}

// The part [begin, end) of a grid row of `len` points that one task computes. Rows longer than
// kRowSegment are cut into segments so that a single long 1-D grid still uses every thread.
struct Span {
  int64_t begin, end, len;
  bool has_first() const { return begin == 0; }
  bool has_last() const { return end == len; }
  int64_t interior_begin() const { return std::max<int64_t>(begin, 1); }
  int64_t interior_end() const { return std::min(end, len - 1); }
};
constexpr int64_t kRowSegment = kGrainElementwise;

// Visit every (batch entry, grid row, segment), split across the thread pool.
template <typename F>
void for_each_row(const Grid& g, const F& f) {
  const int64_t seg = std::min(g.len, kRowSegment);
  const int64_t nseg = (g.len + seg - 1) / seg;
  const int64_t grain = std::max<int64_t>(1, kGrainElementwise / seg);
  parallel_for(0, g.batch * g.rows * nseg, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t row = t / nseg, s = t % nseg;
      f(row / g.rows, row % g.rows, Span{s * seg, std::min(g.len, (s + 1) * seg), g.len});
    }
  });
}

// One row (segment) of the Laplacian. K = outer grid axes; w[k] = 1/h_k^2, w[K] is the row axis.
template <typename T, int K>
void laplacian_row(T* __restrict o, const T* __restrict c, const T* const* prev, const T* const* next, const T* w,
                   Span sp, T left, T right) {
  const T* __restrict p0 = K >= 1 ? prev[0] : c;
  const T* __restrict n0 = K >= 1 ? next[0] : c;
  const T* __restrict p1 = K >= 2 ? prev[1] : c;
  const T* __restrict n1 = K >= 2 ? next[1] : c;
  const T w0 = K >= 1 ? w[0] : T(0), w1 = K >= 2 ? w[1] : T(0), wr = w[K];
  auto outer = [&](int64_t j) {
    T s = T(0);
    if constexpr (K >= 1) s += (p0[j] + n0[j] - T(2) * c[j]) * w0;
    if constexpr (K >= 2) s += (p1[j] + n1[j] - T(2) * c[j]) * w1;
    return s;
  };
  const int64_t last = sp.len - 1;
  if (sp.has_first()) o[0] = outer(0) + (left + c[1] - T(2) * c[0]) * wr;
  for (int64_t j = sp.interior_begin(), e = sp.interior_end(); j < e; ++j)
    o[j] = outer(j) + (c[j - 1] + c[j + 1] - T(2) * c[j]) * wr;
  if (sp.has_last()) o[last] = outer(last) + (c[last - 1] + right - T(2) * c[last]) * wr;
}

// One row (segment) of the divergence: ci is the row-axis component's row; prev/next are the
// neighbour rows of the outer components along their own axes. w[k] = 1/(2 h_k).
template <typename T, int K>
void divergence_row(T* __restrict o, const T* __restrict ci, const T* const* prev, const T* const* next,
                    const T* w, Span sp, T left, T right) {
  const T* __restrict p0 = K >= 1 ? prev[0] : ci;
  const T* __restrict n0 = K >= 1 ? next[0] : ci;
  const T* __restrict p1 = K >= 2 ? prev[1] : ci;
  const T* __restrict n1 = K >= 2 ? next[1] : ci;
  const T w0 = K >= 1 ? w[0] : T(0), w1 = K >= 2 ? w[1] : T(0), wr = w[K];
  auto outer = [&](int64_t j) {
    T s = T(0);
    if constexpr (K >= 1) s += (n0[j] - p0[j]) * w0;
    if constexpr (K >= 2) s += (n1[j] - p1[j]) * w1;
    return s;
  };
  const int64_t last = sp.len - 1;
  if (sp.has_first()) o[0] = outer(0) + (ci[1] - left) * wr;
  for (int64_t j = sp.interior_begin(), e = sp.interior_end(); j < e; ++j)
    o[j] = outer(j) + (ci[j + 1] - ci[j - 1]) * wr;
  if (sp.has_last()) o[last] = outer(last) + (right - ci[last - 1]) * wr;
}

// Central difference d/dx along the row axis: o[j] = (c[j+1] - c[j-1]) * w.
template <typename T>
void diff_row(T* __restrict o, const T* __restrict c, T w, Span sp, T left, T right) {
  const int64_t last = sp.len - 1;
  if (sp.has_first()) o[0] = (c[1] - left) * w;
  for (int64_t j = sp.interior_begin(), e = sp.interior_end(); j < e; ++j) o[j] = (c[j + 1] - c[j - 1]) * w;
  if (sp.has_last()) o[last] = (right - c[last - 1]) * w;
}

// Central difference across rows: o[j] = (next[j] - prev[j]) * w.
template <typename T>
void diff_rows(T* __restrict o, const T* __restrict prev, const T* __restrict next, T w, Span sp) {
  for (int64_t j = sp.begin; j < sp.end; ++j) o[j] = (next[j] - prev[j]) * w;
}

template <typename T>
void laplacian_impl(const Grid& g, const T* in, T* out, T value) {
  const std::vector<T> value_row(g.bc == Boundary::Boundary_Dirichlet ? g.len : 0, value);
  T w[3];
  for (int k = 0; k < g.nd; ++k) w[k] = static_cast<T>(1.0 / (g.h[k] * g.h[k]));
  for_each_row(g, [&](int64_t b, int64_t r, Span sp) {
    const int64_t off = b * g.points + r * g.len;
    const T* c = in + off;
    const T *prev[2] = {nullptr, nullptr}, *next[2] = {nullptr, nullptr};
    for (int k = 0; k < g.nd - 1; ++k) outer_neighbours(g, c, r, k, value_row.data(), prev[k], next[k]);
    T left, right;
    row_ghosts(g, c, value, left, right);
    switch (g.nd) {
      case 1: laplacian_row<T, 0>(out + off, c, prev, next, w, sp, left, right); break;
      case 2: laplacian_row<T, 1>(out + off, c, prev, next, w, sp, left, right); break;
      default: laplacian_row<T, 2>(out + off, c, prev, next, w, sp, left, right); break;
    }
  });
}

// out is [batch, nd, grid...]: component k holds d/dx_k.
template <typename T>
void gradient_impl(const Grid& g, const T* in, T* out, T value) {
  const std::vector<T> value_row(g.bc == Boundary::Boundary_Dirichlet ? g.len : 0, value);
  T w[3];
  for (int k = 0; k < g.nd; ++k) w[k] = static_cast<T>(0.5 / g.h[k]);
  for_each_row(g, [&](int64_t b, int64_t r, Span sp) {
    const T* c = in + b * g.points + r * g.len;
    T* o = out + b * g.nd * g.points + r * g.len;
    for (int k = 0; k < g.nd - 1; ++k) {
      const T *prev, *next;
      outer_neighbours(g, c, r, k, value_row.data(), prev, next);
      diff_rows(o + k * g.points, prev, next, w[k], sp);
    }
    T left, right;
    row_ghosts(g, c, value, left, right);
    diff_row(o + (g.nd - 1) * g.points, c, w[g.nd - 1], sp, left, right);
  });
}

// in is [batch, nd, grid...]; out[...] = sum_k d(component k)/dx_k.
template <typename T>
void divergence_impl(const Grid& g, const T* in, T* out, T value) {
  const std::vector<T> value_row(g.bc == Boundary::Boundary_Dirichlet ? g.len : 0, value);
  T w[3];
  for (int k = 0; k < g.nd; ++k) w[k] = static_cast<T>(0.5 / g.h[k]);
  for_each_row(g, [&](int64_t b, int64_t r, Span sp) {
    const T* v = in + b * g.nd * g.points + r * g.len;
    const T *prev[2] = {nullptr, nullptr}, *next[2] = {nullptr, nullptr};
    for (int k = 0; k < g.nd - 1; ++k)
      outer_neighbours(g, v + k * g.points, r, k, value_row.data(), prev[k], next[k]);
    const T* ci = v + (g.nd - 1) * g.points;
    T left, right;
    row_ghosts(g, ci, value, left, right);
    T* o = out + b * g.points + r * g.len;
    switch (g.nd) {
      case 1: divergence_row<T, 0>(o, ci, prev, next, w, sp, left, right); break;
      case 2: divergence_row<T, 1>(o, ci, prev, next, w, sp, left, right); break;
      default: divergence_row<T, 2>(o, ci, prev, next, w, sp, left, right); break;
    }
  });
}

// Shared driver: cast/contiguous the input once, compute into the result (or a temporary when the
// result has another dtype or layout), then copy back. An out= overlapping the input never gets here:
// the front function passes a copy of the input (core/memory_overlap.h).
template <typename Impl>
Tensor run_stencil(const char* op, const Tensor& x, const Grid& g, const Shape& out_shape, double value,
                   const optional<Tensor>& out, const Impl& impl) {
  const DType compute = x.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
  Tensor res = hy::cpu::prepare_out(out, out_shape, x.dtype(), op);
  Tensor in = hy::cpu::contiguous(hy::cpu::cast_to(x, compute));
  const bool direct = res.dtype() == compute && res.is_contiguous();
  Tensor dst = direct ? res : Tensor::empty(out_shape, compute);
  if (g.batch > 0) {
    if (compute == DType::Float64) {
      impl(g, in.data<double>(), dst.data<double>(), value);
    } else {
      impl(g, in.data<float>(), dst.data<float>(), static_cast<float>(value));
    }
  }
  if (!direct) hy::cpu::copy_into(res, dst);
  return res;
}

void check_input(const Tensor& x, const char* op, const char* arg) {
  hy::cpu::check_defined(x, op, arg);
  hy::cpu::check_floating(x, op, arg);
}

}  // namespace

Tensor laplacian(const Tensor& u, int64_t grid_dims, double dx, double dy, double dz, const std::string& boundary,
                 double value, const optional<Tensor>& out) {
  check_input(u, "laplacian", "u");
  Grid g = make_grid("laplacian", u.shape(), grid_dims, dx, dy, dz, boundary, false);
  return run_stencil("laplacian", u, g, u.shape(), value, out,
                     [](const Grid& gr, const auto* in, auto* o, auto val) { laplacian_impl(gr, in, o, val); });
}

Tensor gradient(const Tensor& u, int64_t grid_dims, double dx, double dy, double dz, const std::string& boundary,
                double value, const optional<Tensor>& out) {
  check_input(u, "gradient", "u");
  Grid g = make_grid("gradient", u.shape(), grid_dims, dx, dy, dz, boundary, false);
  Shape shape = u.shape();
  shape.insert(shape.begin() + (shape.size() - g.nd), g.nd);
  return run_stencil("gradient", u, g, shape, value, out,
                     [](const Grid& gr, const auto* in, auto* o, auto val) { gradient_impl(gr, in, o, val); });
}

Tensor divergence(const Tensor& v, int64_t grid_dims, double dx, double dy, double dz, const std::string& boundary,
                  double value, const optional<Tensor>& out) {
  check_input(v, "divergence", "v");
  Grid g = make_grid("divergence", v.shape(), grid_dims, dx, dy, dz, boundary, true);
  Shape shape = v.shape();
  shape.erase(shape.begin() + (shape.size() - g.nd - 1));
  return run_stencil("divergence", v, g, shape, value, out,
                     [](const Grid& gr, const auto* in, auto* o, auto val) { divergence_impl(gr, in, o, val); });
}

}  // namespace hy::kernels::cpu
