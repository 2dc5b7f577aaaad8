// The CUDA kernels of advanced indexing: index, index_put_, nonzero and masked_select
// (advanced_index.cu, reusing gather_scatter.cu's gather and deterministic scatter-add). Argument
// checks, messages and results are the CPU kernels' (kernels/cpu/indexing.cpp).
//
// index / index_put_: each index tensor adds (its value, wrapped when negative) * self's stride to the
// element offset of every position of the indices' broadcast shape; the trailing dims are then copied
// whole (index: launch_gather) or written (index_put_). An index outside [-size, size) is the CPU's
// IndexError, raised before anything is written: the offset kernels lower one device word per index
// tensor to the first bad position and the host reads those words back (one synchronization, as a host
// check would be; the bad index tensor itself is copied only on failure).
//
// index_put_ is deterministic and matches the CPU bit for bit: without accumulate, a repeated index keeps
// the last value in index order, as the CPU's single pass does (the offsets are radix-sorted stably and
// only the last entry of each run writes); with accumulate, the deterministic scatter-add of
// gather_scatter.cu sums repeats in index order (no atomics).
//
// nonzero / masked_select: the output's size depends on the values, so the true entries are counted on
// the device and the count read back (a synchronization, inherent to the op), then CUB's DeviceSelect
// writes them in row-major order.
#include <cuda_runtime_api.h>

#include <cstring>
#include <optional>
#include <vector>

#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "cuda/cuda_check_internal.h"
#include "cuda/glue_internal.h"
#include "cuda/indexing_internal.h"
#include "cuda/launch_index_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/device_copy.h"

namespace hy::kernels::cuda {
namespace {

void check_defined(const Tensor& t, const char* op, const char* arg) {
  HY_CHECK(t.defined(), ValueError, op, ": ", arg, " is undefined (None)");
}

void check_not_complex(const Tensor& t, const char* op) {
  HY_CHECK(!dtype_is_complex(t.dtype()), NotImplementedError, "op '", op, "' has no CUDA kernel for dtype ",
           dtype_name(t.dtype()));
}

Tensor scratch_bytes_tensor(size_t bytes, Device device) {
  return Tensor::empty(Shape{static_cast<int64_t>((bytes + 7) / 8)}, DType::Int64, device);
}

// Copies n device words back to the host (a synchronization).
std::vector<uint64_t> read_words(const Tensor& words) {
  std::vector<uint64_t> host(static_cast<size_t>(words.numel()));
  if (!host.empty())
    std::memcpy(host.data(), tensor_to_device(words, kCPU, false).raw_data(), host.size() * sizeof(uint64_t));
  return host;
}

// The indices' broadcast shape and, for each of its positions, the element offset it addresses in self
// (dense int64, numel(shape) entries), as the CPU's compute_offsets.
struct IndexOffsets {
  Shape shape;
  int64_t nb = 0;
  Tensor off;
};

IndexOffsets compute_offsets(const Tensor& self, const std::vector<Tensor>& indices, const char* op) {
  const int64_t k = static_cast<int64_t>(indices.size());
  HY_CHECK(k <= self.dim(), IndexError, op, ": too many indices (", k, ") for a tensor of ", self.dim(),
           " dims");
  IndexOffsets r;
  std::vector<Tensor> idx;
  for (int64_t j = 0; j < k; ++j) {
    const Tensor& t = indices[j];
    check_defined(t, op, "indices");
    HY_CHECK(dtype_is_integral(t.dtype()), TypeError, op, ": indices[", j, "] must be an int64 or int32 tensor, got ",
             t.describe(), " (convert bool masks with nonzero())");
    // A 0-d CPU index may join (core/device_check.h): bring it over.
    idx.push_back(hy::cuda::cast(hy::cuda::on_device(t, self.device()), DType::Int64));
    if (j == 0) {
      r.shape = t.shape();
    } else {
      try {
        r.shape = broadcast_shapes(r.shape, t.shape());
      } catch (const ValueError&) {
        std::string shapes;
        for (const Tensor& u : indices) shapes += str(u.shape(), " ");
        throw IndexError(str(op, ": shape mismatch: indices could not be broadcast together with shapes ", shapes));
      }
    }
  }
  r.nb = shape_numel(r.shape);
  r.off = Tensor::empty(Shape{r.nb}, DType::Int64, self.device());
  if (r.nb == 0) return r;  // an empty broadcast selects nothing and checks nothing
  void* stream = hy::cuda::launch_stream(self.device());
  if (k == 0) {  // no index: the one offset 0 (self itself)
    hy::cuda::launch_fill(DType::Int64, r.off.raw_data(), 0.0, 1, stream);
    return r;
  }
  Tensor bad = Tensor::empty(Shape{k}, DType::Int64, self.device());
  HY_CUDA_CHECK(cudaMemsetAsync(bad.raw_data(), 0xFF, static_cast<size_t>(k) * sizeof(int64_t),
                                static_cast<cudaStream_t>(stream)));
  const Tensor offv = Tensor::make_view(r.off, r.shape, contiguous_strides(r.shape), 0);
  for (int64_t j = 0; j < k; ++j) {
    auto g = hy::cuda::make_geometry<2>(op, r.shape, {&offv, &idx[j]});
    hy::cuda::launch_index_offsets(static_cast<int64_t*>(r.off.raw_data()),
                                   static_cast<const int64_t*>(idx[j].raw_data()), g, self.shape()[j],
                                   self.strides()[j], j == 0,
                                   static_cast<unsigned long long*>(bad.raw_data()) + j, stream);
  }
  const std::vector<uint64_t> first = read_words(bad);  // before anything is written
  for (int64_t j = 0; j < k; ++j) {
    if (first[j] == ~uint64_t{0}) continue;
    const Tensor host = ops::contiguous(ops::broadcast_to(tensor_to_device(ops::contiguous(idx[j]), kCPU, false),
                                                          DimVector(r.shape.begin(), r.shape.end())));
    const int64_t v = host.data<int64_t>()[first[j]];
    throw IndexError(str(op, ": index ", v, " is out of bounds for dim ", j, " with size ", self.shape()[j]));
  }
  return r;
}

Shape lead_and_rest(int64_t nb, const Shape& self_shape, int64_t k) {
  Shape s{nb};
  for (size_t i = static_cast<size_t>(k); i < self_shape.size(); ++i) s.push_back(self_shape[i]);
  return s;
}

// self's trailing dims behind a leading dim of `nb` entries with stride `lead_stride` (0: every entry
// starts at self's first element, the offsets add the rest): a view.
Tensor rest_view(const Tensor& self, int64_t nb, int64_t k, int64_t lead_stride) {
  Strides st{lead_stride};
  for (size_t i = static_cast<size_t>(k); i < self.strides().size(); ++i) st.push_back(self.strides()[i]);
  return Tensor::make_view(self, lead_and_rest(nb, self.shape(), k), st, self.offset());
}

// The dense offsets as a [nb, rest...] view: stride 1 along the entries, 0 along the trailing dims.
Tensor offsets_view(const IndexOffsets& io, const Shape& flat) {
  Strides st(flat.size(), 0);
  st[0] = 1;
  return Tensor::make_view(io.off, flat, st, 0);
}

// `v` (broadcast to target = io.shape + rest) as a [nb, rest...] view when its leading dims merge into
// one stride, else a dense copy of the broadcast.
Tensor flatten_values(const Tensor& v, const Shape& target, int64_t lead_dims, const Shape& flat) {
  Strides st(target.size(), 0);
  const int64_t shift = static_cast<int64_t>(target.size()) - v.dim();
  for (int64_t d = 0; d < v.dim(); ++d)
    st[d + shift] = v.shape()[d] == 1 && target[d + shift] != 1 ? 0 : v.strides()[d];
  // The leading dims merge when each (of size > 1) steps by the next one's extent.
  int64_t lead_stride = 0;
  bool merges = true;
  int64_t expect = -1;  // the stride the next leading dim of size > 1 must have, -1 before the first
  for (int64_t d = lead_dims - 1; d >= 0; --d) {
    if (target[d] == 1) continue;
    if (expect >= 0 && st[d] != expect) merges = false;
    if (expect < 0) lead_stride = st[d];
    expect = st[d] * target[d];
  }
  if (merges) {
    Strides fst{lead_stride};
    for (size_t d = static_cast<size_t>(lead_dims); d < target.size(); ++d) fst.push_back(st[d]);
    return Tensor::make_view(v, flat, fst, v.offset());
  }
  const Tensor dense = ops::contiguous(Tensor::make_view(v, target, st, v.offset()));
  return Tensor::make_view(dense, flat, contiguous_strides(flat), dense.offset());
}

// values can be broadcast to target (NumPy's rule, values' dims aligned to the right).
bool broadcasts_to(const Shape& from, const Shape& target) {
  if (from.size() > target.size()) return false;
  const size_t shift = target.size() - from.size();
  for (size_t d = 0; d < from.size(); ++d)
    if (from[d] != 1 && from[d] != target[d + shift]) return false;
  return true;
}

}  // namespace

Tensor index(const Tensor& self, const std::vector<Tensor>& indices, const std::optional<Tensor>& out) {
  check_defined(self, "index", "self");
  check_not_complex(self, "index");
  const IndexOffsets io = compute_offsets(self, indices, "index");
  const int64_t k = static_cast<int64_t>(indices.size());
  Shape shape = io.shape;
  for (size_t i = static_cast<size_t>(k); i < self.shape().size(); ++i) shape.push_back(self.shape()[i]);
  // The CPU's prepare_out checks, and out= on this device: the front function lets a 0-d CPU tensor join
  // a CUDA op, which as out= would have had the gather write host memory from the GPU.
  Tensor res = hy::cuda::result_tensor("index", out, shape, self.dtype(), self.device());
  if (shape_numel(shape) == 0) return res;
  // Gather into res itself when it is dense and of self's dtype, else into a temporary copied over.
  const Tensor dst = res.dtype() == self.dtype() && res.is_contiguous() ? res
                                                                          : Tensor::empty(shape, self.dtype(), self.device());
  const Shape flat = lead_and_rest(io.nb, self.shape(), k);
  const Tensor dstv = Tensor::make_view(dst, flat, contiguous_strides(flat), dst.offset());
  const Tensor base = rest_view(self, io.nb, k, 0);
  const Tensor offv = offsets_view(io, flat);
  auto g = hy::cuda::make_geometry<3>("index", flat, {&dstv, &base, &offv});
  hy::cuda::launch_gather(static_cast<int>(self.itemsize()), dstv.raw_data(), base.raw_data(),
                          static_cast<const int64_t*>(io.off.raw_data()), 1, g, hy::cuda::launch_stream(self.device()));
  if (dst.impl() != res.impl()) hy::cuda::copy_into(res, dst);
  return res;
}

Tensor index_put_(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
  check_defined(self, "index_put_", "self");
  check_defined(values, "index_put_", "values");
  check_not_complex(self, "index_put_");
  self.note_write();
  const IndexOffsets io = compute_offsets(self, indices, "index_put_");
  const int64_t k = static_cast<int64_t>(indices.size());
  Shape target = io.shape;
  for (size_t i = static_cast<size_t>(k); i < self.shape().size(); ++i) target.push_back(self.shape()[i]);
  // A 0-d CPU value may join (core/device_check.h); values never overlap self (core/memory_overlap.h).
  const Tensor v = hy::cuda::cast(hy::cuda::on_device(values, self.device()), self.dtype());
  HY_CHECK(broadcasts_to(v.shape(), target), ValueError, "index_put_: values of shape ", values.shape(),
           " cannot be broadcast to the indexed shape ", target);
  if (shape_numel(target) == 0) return self;
  void* stream = hy::cuda::launch_stream(self.device());
  const Shape flat = lead_and_rest(io.nb, self.shape(), k);
  const Tensor vals = flatten_values(v, target, static_cast<int64_t>(io.shape.size()), flat);
  const Tensor offv = offsets_view(io, flat);
  // Offsets lie in [0, span]: span bounds the sort keys.
  int64_t span = 0;
  for (int64_t j = 0; j < k; ++j) span += (self.shape()[j] - 1) * self.strides()[j];
  if (accumulate) {
    // self seen as [span + 1, rest...] with stride 1 along the first dim: the offsets index that dim, and
    // the scatter-add sums repeats in entry (index) order, as the CPU's pass does.
    const Tensor as_rows = rest_view(self, span + 1, k, 1);
    scatter_add_into(as_rows, offv, vals, 0);
    return self;
  }
  Tensor winner;  // the entries that write: the last of each repeated offset (none needed for one entry)
  if (io.nb > 1) {
    int key_bits = 1;
    while (key_bits < 63 && (span >> key_bits) != 0) ++key_bits;
    const int64_t n = io.nb;
    Tensor keys_sorted = Tensor::empty(Shape{n}, DType::Int64, self.device());
    Tensor entries = Tensor::empty(Shape{n}, DType::Int64, self.device());
    Tensor entries_sorted = Tensor::empty(Shape{n}, DType::Int64, self.device());
    winner = Tensor::empty(Shape{n}, DType::Bool, self.device());
    hy::cuda::launch_iota(static_cast<int64_t*>(entries.raw_data()), n, stream);
    const size_t bytes = hy::cuda::radix_sort_pairs_scratch_bytes(n, key_bits);
    Tensor scratch = scratch_bytes_tensor(bytes, self.device());
    // The offsets are >= 0: their int64 bits are their uint64 value.
    hy::cuda::launch_radix_sort_pairs(static_cast<const uint64_t*>(io.off.raw_data()),
                                      static_cast<uint64_t*>(keys_sorted.raw_data()),
                                      static_cast<const int64_t*>(entries.raw_data()),
                                      static_cast<int64_t*>(entries_sorted.raw_data()), n, key_bits,
                                      scratch.raw_data(), bytes, stream);
    hy::cuda::launch_mark_last(static_cast<const uint64_t*>(keys_sorted.raw_data()),
                               static_cast<const int64_t*>(entries_sorted.raw_data()), n,
                               static_cast<bool*>(winner.raw_data()), stream);
  }
  const Tensor base = rest_view(self, io.nb, k, 0);
  auto g = hy::cuda::make_geometry<3>("index_put_", flat, {&base, &vals, &offv});
  hy::cuda::launch_index_put(static_cast<int>(self.itemsize()), base.raw_data(), vals.raw_data(),
                             static_cast<const int64_t*>(io.off.raw_data()),
                             winner.defined() ? static_cast<const bool*>(winner.raw_data()) : nullptr, g, stream);
  return self;
}

Tensor nonzero(const Tensor& self) {
  check_defined(self, "nonzero", "self");
  check_not_complex(self, "nonzero");
  const int64_t nd = self.dim();
  const Tensor m = ops::contiguous(hy::cuda::cast(self, DType::Bool));
  const int64_t n = m.numel();
  if (n == 0) return Tensor::empty(Shape{0, nd}, DType::Int64, self.device());
  HY_CHECK(nd <= hy::cuda::kMaxDims, ValueError, "nonzero: the CUDA kernels handle at most ", hy::cuda::kMaxDims,
           " dims, got ", nd);
  void* stream = hy::cuda::launch_stream(self.device());
  Tensor count = Tensor::empty(Shape{1}, DType::Int64, self.device());
  HY_CUDA_CHECK(cudaMemsetAsync(count.raw_data(), 0, sizeof(int64_t), static_cast<cudaStream_t>(stream)));
  const bool* mask = static_cast<const bool*>(m.raw_data());
  hy::cuda::launch_count_true(mask, n, static_cast<unsigned long long*>(count.raw_data()), stream);
  const int64_t total = static_cast<int64_t>(read_words(count)[0]);  // the output's size: a host read
  Tensor out = Tensor::empty(Shape{total, nd}, DType::Int64, self.device());
  if (total == 0 || nd == 0) return out;
  Tensor linear = nd == 1 ? out : Tensor::empty(Shape{total}, DType::Int64, self.device());
  const size_t bytes = hy::cuda::select_scratch_bytes(0, n);
  Tensor scratch = scratch_bytes_tensor(bytes, self.device());
  hy::cuda::launch_select_positions(mask, n, static_cast<int64_t*>(linear.raw_data()),
                                    static_cast<int64_t*>(count.raw_data()), scratch.raw_data(), bytes, stream);
  if (nd > 1) {
    hy::cuda::NdSizes sizes;
    sizes.ndim = static_cast<int>(nd);
    for (int64_t d = 0; d < nd; ++d) sizes.sizes[d] = self.shape()[d];
    hy::cuda::launch_unravel(static_cast<const int64_t*>(linear.raw_data()), total, sizes,
                             static_cast<int64_t*>(out.raw_data()), stream);
  }
  return out;
}

Tensor masked_select(const Tensor& self, const Tensor& mask) {
  check_defined(self, "masked_select", "self");
  check_defined(mask, "masked_select", "mask");
  HY_CHECK(mask.dtype() == DType::Bool, TypeError, "masked_select: mask must be a bool tensor, got ",
           mask.describe());
  Shape shape;
  try {
    shape = broadcast_shapes(self.shape(), mask.shape());
  } catch (const ValueError&) {
    throw ValueError(str("masked_select: mask of shape ", mask.shape(), " does not broadcast with self's shape ",
                         self.shape()));
  }
  check_not_complex(self, "masked_select");
  const DimVector dims(shape.begin(), shape.end());
  const Tensor s = ops::contiguous(ops::broadcast_to(self, dims));
  const Tensor m = ops::contiguous(ops::broadcast_to(hy::cuda::on_device(mask, self.device()), dims));
  const int64_t n = s.numel();
  if (n == 0) return Tensor::empty(Shape{0}, self.dtype(), self.device());
  void* stream = hy::cuda::launch_stream(self.device());
  Tensor count = Tensor::empty(Shape{1}, DType::Int64, self.device());
  HY_CUDA_CHECK(cudaMemsetAsync(count.raw_data(), 0, sizeof(int64_t), static_cast<cudaStream_t>(stream)));
  const bool* mk = static_cast<const bool*>(m.raw_data());
  hy::cuda::launch_count_true(mk, n, static_cast<unsigned long long*>(count.raw_data()), stream);
  const int64_t total = static_cast<int64_t>(read_words(count)[0]);  // the output's size: a host read
  Tensor out = Tensor::empty(Shape{total}, self.dtype(), self.device());
  if (total == 0) return out;
  const int itemsize = static_cast<int>(self.itemsize());
  const size_t bytes = hy::cuda::select_scratch_bytes(itemsize, n);
  Tensor scratch = scratch_bytes_tensor(bytes, self.device());
  hy::cuda::launch_masked_select(itemsize, s.raw_data(), mk, n, out.raw_data(),
                                 static_cast<int64_t*>(count.raw_data()), scratch.raw_data(), bytes, stream);
  return out;
}

}  // namespace hy::kernels::cuda
