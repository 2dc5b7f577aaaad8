// Shared by the C++ side of the CUDA kernels: turning Tensors into launch geometries, bringing a CPU
// scalar operand to the device, casting, and writing results into `out=` tensors.
#pragma once
#include <initializer_list>
#include <optional>

#include "core/tensor.h"
#include "cuda/launch_internal.h"

namespace hy::cuda {

/// The geometry of `shape` over `tensors` (output first); inputs broadcast to `shape` (stride 0).
/// Throws ValueError naming `op` beyond kMaxDims dims.
template <int N>
Geometry<N> make_geometry(const char* op, const Shape& shape, std::initializer_list<const Tensor*> tensors);
/// `t` on `device`: itself, or a CPU scalar (0-d) copied there; anything else is the caller's bug.
Tensor on_device(const Tensor& t, Device device);
/// `t` converted to `dtype` on its device (itself when it already has it).
Tensor cast(const Tensor& t, DType dtype);
/// dst = src (broadcast, converted), both on dst's device; complex tensors too (through their parts).
void copy_into(const Tensor& dst, const Tensor& src);
/// Every element of the (possibly strided) view `dst` set to `value` (a complex one to (value, 0)).
void fill_view(const Tensor& dst, double value);
/// The output of an op of `shape`/`dtype` on `device`: a fresh tensor, or `out` checked as the CPU's
/// prepare_out checks it (device, shape, a dtype `dtype` casts into in place) with its version bumped.
Tensor result_tensor(const char* op, const std::optional<Tensor>& out, const Shape& shape, DType dtype,
                     Device device);
/// The current stream of `device`, after making it the current device.
void* launch_stream(Device device);

}  // namespace hy::cuda
