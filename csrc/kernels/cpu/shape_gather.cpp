// Index-driven shape ops of the shape family: gather, index_select and scatter_add.
//
// All three walk the index with the elementwise engine over a "base view": the data tensor restrided to
// the index's geometry with stride 0 along `dim`, so each element of the view is the address that
// index * stride(dim) is added to. gather/index_select check each block of indices just before using
// it; scatter_add checks the whole index first (scatter_add_ must not half-modify its input).
#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/type_promotion.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/loops.h"

namespace hy::kernels::cpu {
namespace {

using hy::cpu::ElementwisePlan;

void check_index_dtype(const Tensor& index, const char* op) {
  hy::cpu::check_defined(index, op, "index");
  HY_CHECK(index.dtype() == DType::Int64 || index.dtype() == DType::Int32, TypeError, op,
           ": index must be an int64 or int32 tensor, got ", index.describe());
}

// gather checks indices a block at a time, just before the block is used: the block is still in L1
// when it is read again, so the check costs no extra pass over memory.
constexpr int64_t kIndexBlock = 1024;

// Throws IndexError naming the first of n indices (byte stride `stride`) outside [0, size). Negative
// indices are errors, as in PyTorch; as unsigned numbers they are huge, so the largest unsigned value
// decides (a max-reduction, which vectorizes; a boolean OR-reduction does not with GCC 12). The search
// for the culprit runs only on failure.
template <typename Idx>
void check_index_block(const char* ix, int64_t stride, int64_t n, int64_t size, int64_t dim, const char* op) {
  uint64_t largest = 0;
  if (stride == sizeof(Idx)) {
    const Idx* q = reinterpret_cast<const Idx*>(ix);
    for (int64_t i = 0; i < n; ++i) largest = std::max(largest, static_cast<uint64_t>(static_cast<int64_t>(q[i])));
  } else {
    const char* q = ix;
    for (int64_t i = 0; i < n; ++i, q += stride)
      largest = std::max(largest, static_cast<uint64_t>(static_cast<int64_t>(*reinterpret_cast<const Idx*>(q))));
  }
  if (largest < static_cast<uint64_t>(size)) return;
  for (int64_t i = 0; i < n; ++i, ix += stride) {
    const int64_t v = *reinterpret_cast<const Idx*>(ix);
    HY_CHECK(v >= 0 && v < size, IndexError, op, ": index ", v, " is out of bounds for dim ", dim, " with size ",
             size);
  }
}

// The whole index checked up front (scatter_add must not write anything when an index is bad).
void check_index_range(const Tensor& index, int64_t size, int64_t dim, const char* op) {
  if (index.numel() == 0) return;
  ElementwisePlan<1> plan(index.shape(), {&index});
  auto run = [&](auto tag) {
    using Idx = decltype(tag);
    plan.run([&](char** p, const int64_t* s, int64_t n) {
      check_index_block<Idx>(p[0], s[0], s[0] == 0 ? 1 : n, size, dim, op);
    });
  };
  if (index.dtype() == DType::Int64) run(int64_t{});
  else run(int32_t{});
}

// `t` restrided to `shape` with stride 0 along dim (needs shape[k] <= t.shape[k] for k != dim).
Tensor dim_base_view(const Tensor& t, const Shape& shape, int64_t dim) {
  Strides st = t.strides();
  st[dim] = 0;
  return Tensor::make_view(t, shape, st, t.offset());
}

// out[p] = *(base[p] + index[p] * stride_bytes), indices checked against [0, size) on the way; elements
// are moved as raw bytes of their width.
void gather_elements(const Tensor& out, const Tensor& base, const Tensor& index, int64_t stride_bytes, int64_t size,
                     int64_t dim, const char* op) {
  ElementwisePlan<3> plan(out.shape(), {&out, &base, &index});
  auto run = [&](auto elem, auto idx) {
    using E = decltype(elem);
    using Idx = decltype(idx);
    plan.run([&](char** p, const int64_t* s, int64_t n_row) {
      for (int64_t start = 0; start < n_row; start += kIndexBlock) {
        const int64_t n = std::min(kIndexBlock, n_row - start);
        char* o = p[0] + start * s[0];
        const char* b = p[1] + start * s[1];
        const char* ix = p[2] + start * s[2];
        check_index_block<Idx>(ix, s[2], s[2] == 0 ? 1 : n, size, dim, op);
        if (s[2] == 0 && s[0] == sizeof(E) && s[1] == sizeof(E)) {  // one index for the row: copy a whole run
          std::memcpy(o, b + *reinterpret_cast<const Idx*>(ix) * stride_bytes, static_cast<size_t>(n) * sizeof(E));
          continue;
        }
        if (s[0] == sizeof(E) && s[1] == 0 && s[2] == sizeof(Idx)) {  // gathering along the row itself
          E* dst = reinterpret_cast<E*>(o);
          const Idx* idx = reinterpret_cast<const Idx*>(ix);
          if (stride_bytes == sizeof(E)) {  // a dense row: plain indexing, which compiles to vector gathers
            const E* row = reinterpret_cast<const E*>(b);
            for (int64_t i = 0; i < n; ++i) dst[i] = row[idx[i]];
          } else {
            for (int64_t i = 0; i < n; ++i) dst[i] = *reinterpret_cast<const E*>(b + idx[i] * stride_bytes);
          }
          continue;
        }
        for (int64_t i = 0; i < n; ++i, o += s[0], b += s[1], ix += s[2])
          *reinterpret_cast<E*>(o) = *reinterpret_cast<const E*>(b + *reinterpret_cast<const Idx*>(ix) * stride_bytes);
      }
    });
  };
  auto with_elem = [&](auto idx) {
    switch (out.itemsize()) {
      case 1: return run(uint8_t{}, idx);
      case 2: return run(uint16_t{}, idx);
      case 4: return run(uint32_t{}, idx);
      case 8: return run(uint64_t{}, idx);
      default: throw NotImplementedError("16-byte (complex128) elements are not supported here");
    }
  };
  if (index.dtype() == DType::Int64) with_elem(int64_t{});
  else with_elem(int32_t{});
}

template <typename T>
inline T accumulate(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) return a || b;
  else if constexpr (std::is_integral_v<T>) return T(std::make_unsigned_t<T>(a) + std::make_unsigned_t<T>(b));
  else if constexpr (std::is_floating_point_v<T>) return a + b;
  else return T(static_cast<float>(a) + static_cast<float>(b));  // Half, BFloat16
}

// *(target[p] + index[p] * stride_bytes) += src[p] over `shape`, on the calling thread.
void scatter_add_elements(const Tensor& target, const Tensor& index, const Tensor& src, int64_t stride_bytes) {
  // src goes first: the plan visits dims in its first operand's memory order, and the target's stride-0
  // dim would otherwise become the innermost loop.
  ElementwisePlan<3> plan(index.shape(), {&src, &index, &target});
  auto run = [&](auto elem, auto idx) {
    using T = decltype(elem);
    using Idx = decltype(idx);
    plan.run([&](char** p, const int64_t* ps, int64_t n) {
      char* t = p[2];
      const char* ix = p[1];
      const char* v = p[0];
      const int64_t s[3] = {ps[2], ps[1], ps[0]};  // target, index, src
      if (s[1] == 0 && s[0] == sizeof(T) && s[2] == sizeof(T)) {  // one index for the row (an expanded index)
        T* dst = reinterpret_cast<T*>(t + *reinterpret_cast<const Idx*>(ix) * stride_bytes);
        const T* val = reinterpret_cast<const T*>(v);
        for (int64_t i = 0; i < n; ++i) dst[i] = accumulate<T>(dst[i], val[i]);
        return;
      }
      if (s[0] == 0 && s[1] == sizeof(Idx) && s[2] == sizeof(T)) {  // scattering along the row itself
        const Idx* idx = reinterpret_cast<const Idx*>(ix);
        const T* val = reinterpret_cast<const T*>(v);
        for (int64_t i = 0; i < n; ++i) {
          T* dst = reinterpret_cast<T*>(t + idx[i] * stride_bytes);
          *dst = accumulate<T>(*dst, val[i]);
        }
        return;
      }
      for (int64_t i = 0; i < n; ++i, t += s[0], ix += s[1], v += s[2]) {
        T* dst = reinterpret_cast<T*>(t + *reinterpret_cast<const Idx*>(ix) * stride_bytes);
        *dst = accumulate<T>(*dst, *reinterpret_cast<const T*>(v));
      }
    }, index.numel());
  };
  HY_DISPATCH_ALL(target.dtype(), "scatter_add", [&] {
    if (index.dtype() == DType::Int64) run(scalar_t{}, int64_t{});
    else run(scalar_t{}, int32_t{});
  });
}

// index_select when self is contiguous and each selected slab (the dims after `dim`) is at least a
// cache line: one memcpy per selected slab (embedding lookups, row gathers).
bool index_select_slabs(const Tensor& out, const Tensor& self, const Tensor& index, int64_t dim) {
  if (!self.is_contiguous()) return false;
  int64_t inner = 1, outer = 1;
  for (int64_t k = dim + 1; k < self.dim(); ++k) inner *= self.shape()[k];
  for (int64_t k = 0; k < dim; ++k) outer *= self.shape()[k];
  const int64_t slab = inner * self.itemsize(), n = index.numel(), size = self.shape()[dim];
  if (slab < 64) return false;
  check_index_range(index, size, dim, "index_select");  // the index is small next to the slabs it selects
  Tensor idx = hy::cpu::contiguous(hy::cpu::cast_to(index, DType::Int64));
  const int64_t* ip = idx.data<int64_t>();
  const char* src = static_cast<const char*>(self.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  parallel_for(0, outer * n, std::max<int64_t>(1, kGrainElementwise / inner), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      std::memcpy(dst + r * slab, src + ((r / n) * size + ip[r % n]) * slab, static_cast<size_t>(slab));
  });
  return true;
}

Tensor as_1d(const Tensor& t) { return t.dim() == 0 ? ops::reshape(t, DimVector{1}) : t; }

}  // namespace

Tensor gather(const Tensor& self, int64_t dim, const Tensor& index) {
  hy::cpu::check_defined(self, "gather", "self");
  check_index_dtype(index, "gather");
  HY_CHECK(index.dim() == self.dim() || (index.dim() <= 1 && self.dim() <= 1), ValueError, "gather: index of shape ",
           index.shape(), " must have as many dims as self of shape ", self.shape());
  Tensor s = as_1d(self), ix = as_1d(index);
  const int64_t d = wrap_dim(dim, s.dim());
  for (int64_t k = 0; k < s.dim(); ++k)
    HY_CHECK(k == d || ix.shape()[k] <= s.shape()[k], ValueError, "gather: index of shape ", index.shape(),
             " is larger than self of shape ", self.shape(), " in dim ", k, " (only dim ", d, " may differ)");
  Tensor out = Tensor::empty(ix.shape(), self.dtype());
  if (out.numel() > 0 && s.shape()[d] == 0) check_index_range(ix, 0, d, "gather");  // no base view to build
  if (out.numel() > 0)
    gather_elements(out, dim_base_view(s, ix.shape(), d), ix, s.strides()[d] * s.itemsize(), s.shape()[d], d, "gather");
  return index.dim() == 0 ? ops::reshape(out, DimVector{}) : out;
}

Tensor index_select(const Tensor& self, int64_t dim, const Tensor& index) {
  hy::cpu::check_defined(self, "index_select", "self");
  check_index_dtype(index, "index_select");
  HY_CHECK(index.dim() <= 1, ValueError, "index_select: index must be 0-d or 1-D, got shape ", index.shape());
  Tensor s = as_1d(self), ix = as_1d(index);
  const int64_t d = wrap_dim(dim, s.dim());
  Shape shape = s.shape();
  shape[d] = ix.numel();
  Tensor out = Tensor::empty(shape, self.dtype());
  if (out.numel() > 0 && s.shape()[d] == 0) check_index_range(ix, 0, d, "index_select");  // no base view to build
  if (out.numel() > 0 && !index_select_slabs(out, s, ix, d)) {
    Strides ist(shape.size(), 0);  // the index broadcast along every other dim
    ist[d] = ix.strides()[0];
    Tensor iv = Tensor::make_view(ix, shape, ist, ix.offset());
    gather_elements(out, dim_base_view(s, shape, d), iv, s.strides()[d] * s.itemsize(), s.shape()[d], d,
                    "index_select");
  }
  return self.dim() == 0 && out.numel() == 1 ? ops::reshape(out, DimVector{}) : out;
}

Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
                   const std::optional<Tensor>& out) {
  hy::cpu::check_defined(self, "scatter_add", "self");
  hy::cpu::check_defined(src, "scatter_add", "src");
  check_index_dtype(index, "scatter_add");
  HY_CHECK(can_cast_in_place(src.dtype(), self.dtype()), TypeError, "scatter_add: src of dtype ",
           dtype_name(src.dtype()), " can't be added into self of dtype ", dtype_name(self.dtype()));
  HY_CHECK(index.dim() == self.dim() && src.dim() == self.dim(), ValueError, "scatter_add: self ", self.shape(),
           ", index ", index.shape(), " and src ", src.shape(), " must have the same number of dims");
  Tensor res = hy::cpu::prepare_out(out, self.shape(), self.dtype(), "scatter_add");
  Tensor s = as_1d(self), ix = as_1d(index), sv = as_1d(src);
  const int64_t d = wrap_dim(dim, s.dim());
  for (int64_t k = 0; k < s.dim(); ++k) {
    HY_CHECK(ix.shape()[k] <= sv.shape()[k], ValueError, "scatter_add: index of shape ", index.shape(),
             " is larger than src of shape ", src.shape(), " in dim ", k);
    HY_CHECK(k == d || ix.shape()[k] <= s.shape()[k], ValueError, "scatter_add: index of shape ", index.shape(),
             " is larger than self of shape ", self.shape(), " in dim ", k, " (only dim ", d, " may differ)");
  }
  check_index_range(ix, s.shape()[d], d, "scatter_add");
  if (res.impl() != self.impl()) hy::cpu::copy_into(res, self);
  if (ix.numel() == 0) return res;
  // src restricted to the index's extent, in the result's dtype. (src and index never overlap what is
  // written: the front function passes copies of them, core/memory_overlap.h.)
  Tensor vals = Tensor::make_view(sv, ix.shape(), sv.strides(), sv.offset());
  if (vals.dtype() != res.dtype()) vals = hy::cpu::cast_to(vals, res.dtype());
  Tensor r = as_1d(res);
  Tensor target = dim_base_view(r, ix.shape(), d);
  const int64_t stride_bytes = r.strides()[d] * r.itemsize();
  // Two index entries write the same output only when they differ in `dim` alone. So the threads split
  // the index along its largest other dim: no races, and every output element sums its contributions
  // in the same order as one thread would (results do not depend on the thread count).
  int64_t q = -1;
  for (int64_t k = 0; k < ix.dim(); ++k)
    if (k != d && (q < 0 || ix.shape()[k] > ix.shape()[q])) q = k;
  const int threads = in_parallel_region() ? 1 : get_num_threads();
  if (threads > 1 && ix.numel() >= kGrainElementwise && q >= 0 && ix.shape()[q] >= threads) {
    std::vector<std::array<Tensor, 3>> parts;
    for (int t = 0; t < threads; ++t) {
      const int64_t lo = ix.shape()[q] * t / threads, hi = ix.shape()[q] * (t + 1) / threads;
      parts.push_back({ops::slice(target, q, lo, hi, 1), ops::slice(ix, q, lo, hi, 1), ops::slice(vals, q, lo, hi, 1)});
    }
    parallel_for(0, threads, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) scatter_add_elements(parts[t][0], parts[t][1], parts[t][2], stride_bytes);
    });
  } else {
    scatter_add_elements(target, ix, vals, stride_bytes);
  }
  return res;
}

}  // namespace hy::kernels::cpu
