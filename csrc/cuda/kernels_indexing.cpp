// The CUDA kernels of gather, index_select, scatter_add, index_add and masked_fill (gather_scatter.cu).
// Argument checks and messages are the CPU kernels' (kernels/cpu/shape_gather.cpp, particle.cpp,
// indexing.cpp), so an op fails the same way on either device.
//
// Index ranges: a kernel finds the first index outside [0, size) and the host reads that one word back
// (a synchronization, as torch's would be: a bad index must be an IndexError before anything is written,
// never a device-side fault or silent garbage). Only on failure is the index copied to the host, to
// name the bad value exactly as the CPU does.
//
// scatter_add and index_add are deterministic and sum each element's contributions in the CPU's order
// (sort by target element, then one thread per element): the same results bit for bit, run after run.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/scalar_check.h"
#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "cuda/cuda_check_internal.h"
#include "cuda/glue_internal.h"
#include "cuda/indexing_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/device_copy.h"

namespace hy::kernels::cuda {
namespace {

void check_defined(const Tensor& t, const char* op, const char* arg) {
  HY_CHECK(t.defined(), ValueError, op, ": ", arg, " is undefined (None)");
}

void check_index_dtype(const Tensor& index, const char* op) {
  check_defined(index, op, "index");
  HY_CHECK(index.dtype() == DType::Int64 || index.dtype() == DType::Int32, TypeError, op,
           ": index must be an int64 or int32 tensor, got ", index.describe());
}

Tensor as_1d(const Tensor& t) { return t.dim() == 0 ? ops::reshape(t, DimVector{1}) : t; }

// The index as int64 on the device (int32 indices are widened into a dense copy).
Tensor index_int64(const Tensor& index) { return hy::cuda::cast(index, DType::Int64); }

// `t` restrided to `shape` with stride 0 along dim: each element is the address index * stride(dim) is
// added to (the CPU kernels' base view).
Tensor dim_base_view(const Tensor& t, const Shape& shape, int64_t dim) {
  Strides st = t.strides();
  st[dim] = 0;
  return Tensor::make_view(t, shape, st, t.offset());
}

void gather_into(const char* op, const Tensor& out, const Tensor& self, const Tensor& ix64, int64_t dim) {
  const Tensor base = dim_base_view(self, out.shape(), dim);
  auto g = hy::cuda::make_geometry<3>(op, out.shape(), {&out, &base, &ix64});
  hy::cuda::launch_gather(static_cast<int>(out.itemsize()), out.raw_data(), base.raw_data(),
                          static_cast<const int64_t*>(ix64.raw_data()), self.strides()[dim], g,
                          hy::cuda::launch_stream(out.device()));
}

// The result tensor of an op that may write in place: `out` (checked) or a fresh tensor.
Tensor result_of(const char* op, const std::optional<Tensor>& out, const Tensor& self) {
  Tensor res = hy::cuda::result_tensor(op, out, self.shape(), self.dtype(), self.device());
  HY_CHECK(res.dtype() == self.dtype(), TypeError, op, ": out has dtype ", dtype_name(res.dtype()),
           " but the result has dtype ", dtype_name(self.dtype()));
  return res;
}

}  // namespace

void check_index_range(const Tensor& ix64, int64_t size, int64_t dim, const char* op, IndexWording wording) {
  if (ix64.numel() == 0) return;
  void* stream = hy::cuda::launch_stream(ix64.device());
  Tensor flag = Tensor::empty(Shape{}, DType::Int64, ix64.device());
  HY_CUDA_CHECK(cudaMemsetAsync(flag.raw_data(), 0xFF, sizeof(int64_t), static_cast<cudaStream_t>(stream)));
  auto g = hy::cuda::make_geometry<2>(op, ix64.shape(), {&ix64, &ix64});
  hy::cuda::launch_index_check(static_cast<const int64_t*>(ix64.raw_data()), g, size,
                               static_cast<unsigned long long*>(flag.raw_data()), stream);
  uint64_t first = 0;
  std::memcpy(&first, tensor_to_device(flag, kCPU, false).raw_data(), sizeof first);
  if (first == ~uint64_t{0}) return;
  Tensor host = ops::contiguous(tensor_to_device(ix64, kCPU, false));
  const int64_t v = static_cast<const int64_t*>(host.raw_data())[first];
  if (wording == IndexWording::IndexWording_Range)
    throw IndexError(str(op, ": index ", v, " is out of range for dim ", dim, " of size ", size));
  if (wording == IndexWording::IndexWording_Plane)
    throw IndexError(str(op, ": index ", v, " out of range for ", size, " input elements per plane"));
  throw IndexError(str(op, ": index ", v, " is out of bounds for dim ", dim, " with size ", size));
}

void scatter_add_into(const Tensor& result, const Tensor& ix64, const Tensor& src, int64_t dim) {
  const Tensor target = dim_base_view(result, ix64.shape(), dim);
  int64_t max_offset = 0;  // bounds the sort keys (element offsets in the result)
  for (int64_t k = 0; k < result.dim(); ++k) max_offset += (result.shape()[k] - 1) * result.strides()[k];
  int key_bits = 1;
  while (key_bits < 63 && (max_offset >> key_bits) != 0) ++key_bits;
  auto g = hy::cuda::make_geometry<3>("scatter_add", ix64.shape(), {&target, &ix64, &src});
  const size_t bytes = hy::cuda::scatter_add_scratch_bytes(g.numel, key_bits);
  Tensor scratch = Tensor::empty(Shape{static_cast<int64_t>((bytes + 7) / 8)}, DType::Int64, result.device());
  hy::cuda::launch_scatter_add(result.dtype(), target.raw_data(), static_cast<const int64_t*>(ix64.raw_data()),
                               src.raw_data(), result.strides()[dim], g, key_bits, scratch.raw_data(), bytes,
                               hy::cuda::launch_stream(result.device()));
}

Tensor gather(const Tensor& self, int64_t dim, const Tensor& index) {
  check_defined(self, "gather", "self");
  check_index_dtype(index, "gather");
  HY_CHECK(index.dim() == self.dim() || (index.dim() <= 1 && self.dim() <= 1), ValueError, "gather: index of shape ",
           index.shape(), " must have as many dims as self of shape ", self.shape());
  Tensor s = as_1d(self), ix = as_1d(index);
  const int64_t d = wrap_dim(dim, s.dim());
  for (int64_t k = 0; k < s.dim(); ++k)
    HY_CHECK(k == d || ix.shape()[k] <= s.shape()[k], ValueError, "gather: index of shape ", index.shape(),
             " is larger than self of shape ", self.shape(), " in dim ", k, " (only dim ", d, " may differ)");
  Tensor out = Tensor::empty(ix.shape(), self.dtype(), self.device());
  if (out.numel() > 0) {
    const Tensor ix64 = index_int64(ix);
    check_index_range(ix64, s.shape()[d], d, "gather", IndexWording::IndexWording_Bounds);
    gather_into("gather", out, s, ix64, d);
  }
  return index.dim() == 0 ? ops::reshape(out, DimVector{}) : out;
}

Tensor index_select(const Tensor& self, int64_t dim, const Tensor& index) {
  check_defined(self, "index_select", "self");
  check_index_dtype(index, "index_select");
  HY_CHECK(index.dim() <= 1, ValueError, "index_select: index must be 0-d or 1-D, got shape ", index.shape());
  Tensor s = as_1d(self), ix = as_1d(index);
  const int64_t d = wrap_dim(dim, s.dim());
  Shape shape = s.shape();
  shape[d] = ix.numel();
  Tensor out = Tensor::empty(shape, self.dtype(), self.device());
  if (out.numel() > 0) {
    const Tensor ix64 = index_int64(ix);
    check_index_range(ix64, s.shape()[d], d, "index_select", IndexWording::IndexWording_Bounds);
    Strides ist(shape.size(), 0);  // the index broadcast along every other dim
    ist[d] = ix64.strides()[0];
    gather_into("index_select", out, s, Tensor::make_view(ix64, shape, ist, ix64.offset()), d);
  }
  return self.dim() == 0 && out.numel() == 1 ? ops::reshape(out, DimVector{}) : out;
}

Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
                   const std::optional<Tensor>& out) {
  check_defined(self, "scatter_add", "self");
  check_defined(src, "scatter_add", "src");
  check_index_dtype(index, "scatter_add");
  HY_CHECK(can_cast_in_place(src.dtype(), self.dtype()), TypeError, "scatter_add: src of dtype ",
           dtype_name(src.dtype()), " can't be added into self of dtype ", dtype_name(self.dtype()));
  HY_CHECK(index.dim() == self.dim() && src.dim() == self.dim(), ValueError, "scatter_add: self ", self.shape(),
           ", index ", index.shape(), " and src ", src.shape(), " must have the same number of dims");
  HY_CHECK(!dtype_is_complex(self.dtype()), NotImplementedError, "op 'scatter_add' has no CUDA kernel for dtype ",
           dtype_name(self.dtype()));
  Tensor res = result_of("scatter_add", out, self);
  Tensor s = as_1d(self), ix = as_1d(index), sv = as_1d(src);
  const int64_t d = wrap_dim(dim, s.dim());
  for (int64_t k = 0; k < s.dim(); ++k) {
    HY_CHECK(ix.shape()[k] <= sv.shape()[k], ValueError, "scatter_add: index of shape ", index.shape(),
             " is larger than src of shape ", src.shape(), " in dim ", k);
    HY_CHECK(k == d || ix.shape()[k] <= s.shape()[k], ValueError, "scatter_add: index of shape ", index.shape(),
             " is larger than self of shape ", self.shape(), " in dim ", k, " (only dim ", d, " may differ)");
  }
  const Tensor ix64 = index_int64(ix);
  // before anything is written
  check_index_range(ix64, s.shape()[d], d, "scatter_add", IndexWording::IndexWording_Bounds);
  if (res.impl() != self.impl()) hy::cuda::copy_into(res, self);
  if (ix.numel() == 0) return res;
  // src restricted to the index's extent, in the result's dtype (the front function passes copies of
  // src and index when they overlap the result, core/memory_overlap.h).
  const Tensor vals = hy::cuda::cast(Tensor::make_view(sv, ix.shape(), sv.strides(), sv.offset()), res.dtype());
  scatter_add_into(as_1d(res), ix64, vals, d);
  return res;
}

Tensor index_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source, const Scalar& alpha,
                 const std::optional<Tensor>& out) {
  check_defined(self, "index_add", "self");
  check_defined(source, "index_add", "source");
  check_defined(index, "index_add", "index");
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
  Tensor res = result_of("index_add", out, self);
  const Tensor ix64 = index_int64(as_1d(index));
  check_index_range(ix64, sshape[d], d, "index_add", IndexWording::IndexWording_Range);
  HY_CHECK(!alpha.is_float() || dtype_is_floating(self.dtype()), TypeError,
           "index_add: alpha must not be a float when self is integral (", self.describe(), ")");
  if (res.impl() != self.impl()) hy::cuda::copy_into(res, self);
  if (source.numel() == 0) return res;
  // As on the CPU each source is first scaled in self's dtype (alpha * source), then added in index order.
  Tensor src = hy::cuda::cast(ops::reshape(source, DimVector(srcshape.begin(), srcshape.end())), self.dtype());
  if (alpha.to_double() != 1.0) src = ops::mul(src, wrapped_number_tensor(alpha));
  Strides ist(srcshape.size(), 0);  // the 1-D index along dim, broadcast along every other dim
  ist[d] = ix64.strides()[0];
  const Tensor ix_full = Tensor::make_view(ix64, srcshape, ist, ix64.offset());
  scatter_add_into(as_1d(res), ix_full, src, d);  // a view of res: sshape is res's shape or {1}
  return res;
}

Tensor masked_fill(const Tensor& self, const Tensor& mask, const Scalar& value, const std::optional<Tensor>& out) {
  check_defined(self, "masked_fill", "self");
  check_defined(mask, "masked_fill", "mask");
  HY_CHECK(mask.dtype() == DType::Bool, TypeError, "masked_fill: mask must be a bool tensor, got ", mask.describe());
  const bool inplace = out && out->defined() && out->impl() == self.impl();
  const char* name = inplace ? "masked_fill_" : "masked_fill";
  Shape shape = self.shape();
  bool broadcasts = true;
  try {
    shape = broadcast_shapes(self.shape(), mask.shape());
  } catch (const ValueError&) {
    broadcasts = false;
  }
  HY_CHECK(broadcasts && (!inplace || shape == self.shape()), ValueError, name, ": mask of shape ", mask.shape(),
           " does not broadcast to self's shape ", self.shape());
  HY_CHECK(!dtype_is_complex(self.dtype()), NotImplementedError, "op 'masked_fill' has no CUDA kernel for dtype ",
           dtype_name(self.dtype()));
  check_scalar_fits(value, self.dtype(), name, "value");
  Tensor res = hy::cuda::result_tensor("masked_fill", out, shape, self.dtype(), self.device());
  HY_CHECK(res.dtype() == self.dtype(), TypeError, "masked_fill: out has dtype ", dtype_name(res.dtype()),
           " but the result has dtype ", dtype_name(self.dtype()));
  if (!inplace) hy::cuda::copy_into(res, self);
  uint64_t bits = 0;  // the value in self's storage format, converted on the host as the CPU converts it
  HY_DISPATCH_ALL(res.dtype(), "masked_fill", [&] {
    const scalar_t v = value.to<scalar_t>();
    std::memcpy(&bits, &v, sizeof v);
  });
  const Tensor m = hy::cuda::on_device(mask, res.device());
  auto g = hy::cuda::make_geometry<2>("masked_fill", shape, {&res, &m});
  hy::cuda::launch_masked_fill(static_cast<int>(res.itemsize()), res.raw_data(), static_cast<const bool*>(m.raw_data()),
                               bits, g, hy::cuda::launch_stream(res.device()));
  return res;
}

}  // namespace hy::kernels::cuda
