// The CUDA kernels of roll, cat and stack: block copies through the strided copy kernel, with the CPU
// kernels' checks and messages (kernels/cpu/shape_ops.cpp). cat joins conv2d's image blocks and is the
// backward of split/chunk.
#include <algorithm>
#include <optional>
#include <vector>

#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "cuda/glue_internal.h"
#include "hyflow/ops/ops_generated.h"

namespace hy::kernels::cuda {
namespace {

bool is_legacy_empty(const Tensor& t) { return t.dim() == 1 && t.shape()[0] == 0; }

void check_list(const std::vector<Tensor>& tensors, const char* op) {
  HY_CHECK(!tensors.empty(), ValueError, op, ": expected a non-empty list of tensors");
  for (const Tensor& t : tensors) HY_CHECK(t.defined(), ValueError, op, ": tensors is undefined (None)");
}

}  // namespace

// As on the CPU (kernels/cpu/shape_ops.cpp): the result is 2^k blocks for k rolled dims, each one strided
// copy of a block of self (the copy kernel), so the whole roll is one pass over memory.
Tensor roll(const Tensor& self, const DimVector& shifts, const std::optional<DimVector>& dims) {
  HY_CHECK(self.defined(), ValueError, "roll: self is undefined (None)");
  if (!dims || dims->empty()) {  // roll the flattened tensor, then restore the shape
    HY_CHECK(shifts.size() == 1, ValueError, "roll: without dims, shifts must be a single int, got ", shifts);
    Tensor flat = ops::reshape(self, DimVector{self.numel()});
    return ops::reshape(roll(flat, shifts, DimVector{0}), self.shape());
  }
  HY_CHECK(shifts.size() == dims->size(), ValueError, "roll: shifts ", shifts, " and dims ", *dims,
           " must have the same length");
  DimVector net(static_cast<size_t>(std::max<int64_t>(self.dim(), 1)), 0);
  for (size_t i = 0; i < shifts.size(); ++i) {
    const int64_t d = wrap_dim((*dims)[i], self.dim());
    const int64_t n = self.dim() == 0 ? 1 : self.shape()[d];
    if (n > 0) net[d] = (((net[d] + shifts[i]) % n) + n) % n;
  }
  std::vector<int64_t> rolled;
  for (int64_t d = 0; d < self.dim(); ++d)
    if (net[d] != 0) rolled.push_back(d);
  Tensor out = Tensor::empty(self.shape(), self.dtype(), self.device());
  if (out.numel() == 0) return out;
  for (int64_t mask = 0; mask < (int64_t{1} << rolled.size()); ++mask) {
    Tensor dst = out, src = self;
    for (size_t j = 0; j < rolled.size(); ++j) {
      const int64_t d = rolled[j], n = self.shape()[d], s = net[d];
      const bool wrapped = (mask >> j) & 1;  // the last s entries, moved to the front
      dst = wrapped ? ops::slice(dst, d, 0, s, 1) : ops::slice(dst, d, s, n, 1);
      src = wrapped ? ops::slice(src, d, n - s, n, 1) : ops::slice(src, d, 0, n - s, 1);
    }
    hy::cuda::copy_into(dst, src);
  }
  return out;
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  check_list(tensors, "cat");
  const DType dt = result_type(tensors);
  const Device device = tensors[0].device();
  int64_t ref = -1;
  for (size_t i = 0; i < tensors.size() && ref < 0; ++i)
    if (!is_legacy_empty(tensors[i])) ref = static_cast<int64_t>(i);
  if (ref < 0) return Tensor::empty({0}, dt, device);
  const Tensor& r = tensors[ref];
  HY_CHECK(r.dim() > 0, ValueError, "cat: tensor ", ref, " is 0-d and cannot be concatenated (use stack)");
  const int64_t d = wrap_dim(dim, r.dim());
  Shape shape = r.shape();
  shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (is_legacy_empty(t)) continue;
    HY_CHECK(t.dim() == r.dim(), ValueError, "cat: tensor ", i, " has shape ", t.shape(), " but tensor ", ref,
             " has shape ", r.shape(), "; all tensors need the same number of dims");
    for (int64_t k = 0; k < r.dim(); ++k)
      HY_CHECK(k == d || t.shape()[k] == r.shape()[k], ValueError, "cat: sizes must match except in dim ", d,
               ", but tensor ", ref, " has shape ", r.shape(), " and tensor ", i, " has shape ", t.shape());
    shape[d] += t.shape()[d];
  }
  Tensor out = Tensor::empty(shape, dt, device);
  if (out.numel() == 0) return out;
  int64_t pos = 0;
  for (const Tensor& t : tensors) {
    if (is_legacy_empty(t)) continue;
    const int64_t n = t.shape()[d];
    if (n > 0) hy::cuda::copy_into(ops::slice(out, d, pos, pos + n, 1), t);  // converts to the result dtype
    pos += n;
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  check_list(tensors, "stack");
  const Shape& s0 = tensors[0].shape();
  for (size_t i = 1; i < tensors.size(); ++i)
    HY_CHECK(tensors[i].shape() == s0, ValueError, "stack: all tensors need the same shape, but tensor 0 has shape ",
             s0, " and tensor ", i, " has shape ", tensors[i].shape());
  const int64_t d = wrap_dim(dim, tensors[0].dim() + 1);
  std::vector<Tensor> pieces;
  for (const Tensor& t : tensors) pieces.push_back(ops::unsqueeze(t, d));
  return cat(pieces, d);
}

}  // namespace hy::kernels::cuda
