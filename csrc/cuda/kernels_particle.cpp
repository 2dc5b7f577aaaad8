// The CUDA kernels of the cloud-in-cell transfers (particle.cu): deposit_cic, interp_cic and their
// gradients. Argument checks, messages and the arithmetic are the CPU kernels' (kernels/cpu/particle.cpp).
//
// A particle outside a non-periodic grid (or at a non-finite position) is a ValueError naming the first
// such particle, as on the CPU: the kernel lowers a device word to its number and the host reads that
// word back after the launch (a synchronization the error needs; the position itself is copied only on
// failure). The deposit's atomics make float sums run-to-run non-deterministic in their last bits
// (particle.cu); the CPU's deposit is deterministic.
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstring>

#include "cuda/cuda_check_internal.h"
#include "cuda/glue_internal.h"
#include "cuda/launch_index_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/device_copy.h"

namespace hy::kernels::cuda {
namespace {

void check_defined(const Tensor& t, const char* op, const char* arg) {
  HY_CHECK(t.defined(), ValueError, op, ": ", arg, " is undefined (None)");
}

void check_particles(const Tensor& positions, const char* op) {
  check_defined(positions, op, "positions");
  HY_CHECK(positions.dim() == 1, ValueError, op, ": positions must be 1-D (one coordinate per particle), got shape ",
           positions.shape());
  HY_CHECK(positions.dtype() == DType::Float32 || positions.dtype() == DType::Float64, TypeError, op,
           ": positions must be float32 or float64, got ", positions.describe());
}

void check_grid(int64_t n_cells, double dx, bool periodic, const char* op) {
  HY_CHECK(n_cells >= (periodic ? 1 : 2), ValueError, op, ": n_cells must be >= ", periodic ? 1 : 2, " (",
           periodic ? "periodic" : "non-periodic", " grid), got ", n_cells);
  HY_CHECK(std::isfinite(dx) && dx > 0, ValueError, op, ": dx must be a positive number, got ", dx);
}

void check_same_float(const Tensor& a, const Tensor& b, const char* op, const char* an, const char* bn) {
  HY_CHECK(a.dtype() == b.dtype(), TypeError, op, ": ", an, " and ", bn, " must have the same dtype, got ",
           dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
}

// The device word a kernel lowers to the number of the first particle outside the grid ("none": all ones).
Tensor bad_flag(Device device, void* stream) {
  Tensor flag = Tensor::empty(Shape{}, DType::Int64, device);
  HY_CUDA_CHECK(cudaMemsetAsync(flag.raw_data(), 0xFF, sizeof(int64_t), static_cast<cudaStream_t>(stream)));
  return flag;
}

// Reads the flag back (a synchronization) and raises the CPU's ValueError for the first bad particle.
void raise_if_outside(const Tensor& flag, const Tensor& pos, int64_t n, double dx, bool periodic, const char* op) {
  uint64_t first = 0;
  std::memcpy(&first, tensor_to_device(flag, kCPU, false).raw_data(), sizeof first);
  if (first == ~uint64_t{0}) return;
  const Tensor one = Tensor::make_view(pos, Shape{}, Strides{}, pos.offset() + static_cast<int64_t>(first));
  const Tensor host = tensor_to_device(one, kCPU, false);
  const double x = pos.dtype() == DType::Float32 ? static_cast<double>(*host.data<float>()) : *host.data<double>();
  throw ValueError(str(op, ": a particle at position ", x, " lies outside the non-periodic grid [0, ",
                       static_cast<double>(n - 1) * dx, "] (or is not finite); pass periodic=True to wrap it"));
}

hy::cuda::CicGrid grid_of(int64_t n, double dx, bool periodic) {
  hy::cuda::CicGrid c;
  c.n = n;
  c.inv_dx = 1.0 / dx;
  c.periodic = periodic;
  return c;
}

// interp_cic (scale undefined) or the position derivative (scale given), as the CPU's per_particle.
Tensor per_particle(const Tensor& grid_in, const Tensor& positions, const Tensor* scale_in, double dx, bool periodic,
                    const char* op) {
  const Tensor grid = ops::contiguous(grid_in), pos = ops::contiguous(positions);
  const Tensor scale = scale_in ? ops::contiguous(*scale_in) : Tensor();
  const int64_t n = grid.numel(), np = pos.numel();
  Tensor out = Tensor::empty(Shape{np}, grid.dtype(), grid.device());
  if (np == 0) return out;
  void* stream = hy::cuda::launch_stream(grid.device());
  const Tensor flag = bad_flag(grid.device(), stream);
  hy::cuda::launch_cic_per_particle(grid.dtype(), out.raw_data(), grid.raw_data(), pos.raw_data(),
                                    scale_in ? scale.raw_data() : nullptr, np, grid_of(n, dx, periodic),
                                    static_cast<unsigned long long*>(flag.raw_data()), stream);
  raise_if_outside(flag, pos, n, dx, periodic, op);
  return out;
}

}  // namespace

Tensor deposit_cic(const Tensor& positions, const Tensor& weights, int64_t n_cells, double dx, bool periodic) {
  check_particles(positions, "deposit_cic");
  check_defined(weights, "deposit_cic", "weights");
  check_grid(n_cells, dx, periodic, "deposit_cic");
  check_same_float(positions, weights, "deposit_cic", "positions", "weights");
  HY_CHECK(weights.shape() == positions.shape(), ValueError, "deposit_cic: weights must have the shape of positions ",
           positions.shape(), ", got ", weights.shape());
  const Tensor pos = ops::contiguous(positions), w = ops::contiguous(weights);
  Tensor out = Tensor::empty(Shape{n_cells}, pos.dtype(), pos.device());
  void* stream = hy::cuda::launch_stream(pos.device());
  HY_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, static_cast<size_t>(out.nbytes()), static_cast<cudaStream_t>(stream)));
  const int64_t np = pos.numel();
  if (np == 0) return out;
  const Tensor flag = bad_flag(pos.device(), stream);
  hy::cuda::launch_deposit_cic(pos.dtype(), out.raw_data(), pos.raw_data(), w.raw_data(), np,
                               grid_of(n_cells, dx, periodic), static_cast<unsigned long long*>(flag.raw_data()),
                               stream);
  raise_if_outside(flag, pos, n_cells, dx, periodic, "deposit_cic");
  return out;
}

Tensor interp_cic(const Tensor& field, const Tensor& positions, double dx, bool periodic) {
  check_particles(positions, "interp_cic");
  check_defined(field, "interp_cic", "field");
  HY_CHECK(field.dim() == 1, ValueError, "interp_cic: field must be a 1-D grid, got shape ", field.shape());
  check_grid(field.numel(), dx, periodic, "interp_cic");
  check_same_float(field, positions, "interp_cic", "field", "positions");
  return per_particle(field, positions, nullptr, dx, periodic, "interp_cic");
}

Tensor cic_position_grad(const Tensor& grid, const Tensor& positions, const Tensor& scale, double dx, bool periodic) {
  check_particles(positions, "cic_position_grad");
  check_defined(grid, "cic_position_grad", "grid");
  check_defined(scale, "cic_position_grad", "scale");
  HY_CHECK(grid.dim() == 1, ValueError, "cic_position_grad: grid must be 1-D, got shape ", grid.shape());
  check_grid(grid.numel(), dx, periodic, "cic_position_grad");
  check_same_float(grid, positions, "cic_position_grad", "grid", "positions");
  check_same_float(scale, positions, "cic_position_grad", "scale", "positions");
  HY_CHECK(scale.shape() == positions.shape(), ValueError, "cic_position_grad: scale must have the shape of positions");
  return per_particle(grid, positions, &scale, dx, periodic, "cic_position_grad");
}

Tensor interp_cic_field_grad(const Tensor& grad_output, const Tensor& positions, const Tensor& field, double dx,
                             bool periodic) {
  return deposit_cic(positions, grad_output, field.numel(), dx, periodic);
}

}  // namespace hy::kernels::cuda
