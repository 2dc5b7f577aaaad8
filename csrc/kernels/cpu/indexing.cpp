// Advanced-indexing kernels: gather (index), scatter (index_put_), nonzero, masked_select and
// masked_fill. The NumPy rules that turn `t[...]` into these calls (where advanced dims land, masks to
// coordinates, ints joining the advanced set) live in bindings/bind_indexing.cpp; here every index is
// already an integer tensor addressing one of self's leading dims.
//
// Gathers and scatters only move bytes, so they are instantiated per item size, not per dtype; only
// accumulation needs the element type.
#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include "core/parallel.h"
#include "core/scalar_check.h"
#include "core/shape_util.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/loops.h"

namespace hy::kernels::cpu {
using hy::cpu::check_defined;
using hy::cpu::ElementwisePlan;
using hy::cpu::prepare_out;

namespace {

// Walks the positions of `shape` in row-major order from position `start`, tracking the byte offset
// that `strides` give each one. Dims that chain are merged first, so a dense walk is one counter.
class StridedWalk {
 public:
  StridedWalk(const Shape& shape, const DimVector& strides, int64_t start) {
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == 1) continue;
      if (!shape_.empty() && strides_.back() == strides[i] * shape[i]) {
        shape_.back() *= shape[i];
        strides_.back() = strides[i];
      } else {
        shape_.push_back(shape[i]);
        strides_.push_back(strides[i]);
      }
    }
    idx_.resize(shape_.size(), 0);
    for (int64_t d = static_cast<int64_t>(shape_.size()) - 1; d >= 0 && start > 0; --d) {
      idx_[d] = start % shape_[d];
      start /= shape_[d];
      offset_ += idx_[d] * strides_[d];
    }
  }
  int64_t offset() const { return offset_; }
  void next() {
    for (int64_t d = static_cast<int64_t>(shape_.size()) - 1; d >= 0; --d) {
      offset_ += strides_[d];
      if (++idx_[d] < shape_[d]) return;
      offset_ -= strides_[d] * shape_[d];
      idx_[d] = 0;
    }
  }

 private:
  DimVector shape_, strides_, idx_;
  int64_t offset_ = 0;
};

// The trailing (non-indexed) dims of a gather/scatter as a destination/source pair of byte strides,
// merged where both chain; the innermost dim becomes the row handed to a row function.
struct RowPlan {
  DimVector shape, dst, src;
  int64_t numel = 1;
};

RowPlan make_row_plan(const Shape& shape, const DimVector& dst, const DimVector& src) {
  RowPlan p;
  for (size_t i = 0; i < shape.size(); ++i) {
    p.numel *= shape[i];
    if (shape[i] == 1) continue;
    if (!p.shape.empty() && p.dst.back() == dst[i] * shape[i] && p.src.back() == src[i] * shape[i]) {
      p.shape.back() *= shape[i];
      p.dst.back() = dst[i];
      p.src.back() = src[i];
    } else {
      p.shape.push_back(shape[i]);
      p.dst.push_back(dst[i]);
      p.src.push_back(src[i]);
    }
  }
  if (p.shape.empty()) {
    p.shape.push_back(1);
    p.dst.push_back(0);
    p.src.push_back(0);
  }
  return p;
}

// row(dst, src, n, dst_stride, src_stride) over every innermost row of the plan.
template <typename Row>
void for_each_row(const RowPlan& p, char* dst, const char* src, const Row& row) {
  const int64_t nd = static_cast<int64_t>(p.shape.size());
  const int64_t n = p.shape[nd - 1], ds = p.dst[nd - 1], ss = p.src[nd - 1];
  if (nd == 1) {
    row(dst, src, n, ds, ss);
    return;
  }
  DimVector idx(nd - 1, 0);
  while (true) {
    row(dst, src, n, ds, ss);
    int64_t d = nd - 2;
    for (; d >= 0; --d) {
      dst += p.dst[d];
      src += p.src[d];
      if (++idx[d] < p.shape[d]) break;
      dst -= p.dst[d] * p.shape[d];
      src -= p.src[d] * p.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

template <typename T>
void copy_row(char* dst, const char* src, int64_t n, int64_t ds, int64_t ss) {
  if (ds == static_cast<int64_t>(sizeof(T)) && ss == static_cast<int64_t>(sizeof(T))) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
    return;
  }
  for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(dst + i * ds) = *reinterpret_cast<const T*>(src + i * ss);
}

template <typename T>
void accumulate_row(char* dst, const char* src, int64_t n, int64_t ds, int64_t ss) {
  for (int64_t i = 0; i < n; ++i) {
    T& d = *reinterpret_cast<T*>(dst + i * ds);
    const T s = *reinterpret_cast<const T*>(src + i * ss);
    if constexpr (std::is_same_v<T, bool>) d = d || s;
    else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) d = T(static_cast<float>(d) + static_cast<float>(s));
    else d = d + s;
  }
}

// Call f with an unsigned integer type as wide as one element (every hyflow dtype is 1, 2, 4 or 8 bytes).
template <typename F>
void dispatch_itemsize(int64_t itemsize, const F& f) {
  switch (itemsize) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    default: throw NotImplementedError("16-byte (complex128) elements are not supported here");
  }
}

// The shape shared by the leading-dim indices, and the byte offset each position of it addresses in
// self (negative indices wrapped, every index bounds-checked).
struct IndexOffsets {
  Shape shape;
  std::vector<int64_t> offsets;
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
    idx.push_back(hy::cpu::cast_to(t, DType::Int64));
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
  const int64_t nb = shape_numel(r.shape);
  r.offsets.assign(static_cast<size_t>(nb), 0);
  const int64_t item = self.itemsize();
  for (int64_t j = 0; j < k; ++j) {
    const int64_t size = self.shape()[j], stride = self.strides()[j] * item;
    DimVector bstrides = hy::cpu::broadcast_byte_strides(idx[j], r.shape);
    const char* base = static_cast<const char*>(idx[j].raw_data());
    int64_t* off = r.offsets.data();
    parallel_for(0, nb, kGrainElementwise, [&](int64_t b0, int64_t b1) {
      StridedWalk w(r.shape, bstrides, b0);
      for (int64_t b = b0; b < b1; ++b, w.next()) {
        int64_t v = *reinterpret_cast<const int64_t*>(base + w.offset());
        HY_CHECK(v >= -size && v < size, IndexError, op, ": index ", v, " is out of bounds for dim ", j,
                 " with size ", size);
        off[b] += (v < 0 ? v + size : v) * stride;
      }
    });
  }
  return r;
}

Shape trailing(const DimVector& v, int64_t k) { return Shape(v.begin() + k, v.end()); }

Shape concat(const Shape& a, const Shape& b) {
  Shape r = a;
  for (int64_t x : b) r.push_back(x);
  return r;
}

DimVector byte_strides(const Tensor& t) {
  DimVector s = t.strides();
  for (auto& x : s) x *= t.itemsize();
  return s;
}

// Chunked count-then-write over a dense bool mask: the shared skeleton of nonzero and masked_select.
// write(begin, end, first, last) fills outputs [first, last) from mask positions [begin, end).
// Writers store unconditionally and advance by the mask bit (no unpredictable branch on random masks);
// checking `last` keeps that extra store inside the chunk's own output range.
template <typename Write>
int64_t compact(const bool* mask, int64_t n, const std::function<void(int64_t)>& allocate, const Write& write) {
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(4 * get_num_threads(), n / kGrainElementwise));
  std::vector<int64_t> start(static_cast<size_t>(chunks) + 1, 0);
  auto bounds = [&](int64_t c) { return c * (n / chunks) + std::min(c, n % chunks); };
  const uint8_t* m = reinterpret_cast<const uint8_t*>(mask);
  parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      int64_t cnt = 0;
      for (int64_t i = bounds(c), e = bounds(c + 1); i < e; ++i) cnt += m[i] != 0;
      start[c + 1] = cnt;
    }
  });
  for (int64_t c = 0; c < chunks; ++c) start[c + 1] += start[c];
  allocate(start[chunks]);
  parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) write(bounds(c), bounds(c + 1), start[c], start[c + 1]);
  });
  return start[chunks];
}

void check_mask(const Tensor& mask, const char* op) {
  check_defined(mask, op, "mask");
  HY_CHECK(mask.dtype() == DType::Bool, TypeError, op, ": mask must be a bool tensor, got ", mask.describe());
}

}  // namespace

Tensor index(const Tensor& self, const std::vector<Tensor>& indices, const std::optional<Tensor>& out) {
  check_defined(self, "index", "self");
  IndexOffsets io = compute_offsets(self, indices, "index");
  const int64_t k = static_cast<int64_t>(indices.size());
  const Shape rest = trailing(self.shape(), k);
  Tensor res = prepare_out(out, concat(io.shape, rest), self.dtype(), "index");
  // Gather into a temporary when out= has another dtype. (An out= overlapping self or the indices never
  // gets here: the front function reads a copy of them, core/memory_overlap.h.)
  Tensor dst = res.dtype() == self.dtype() ? res : Tensor::empty(res.shape(), self.dtype());
  const DimVector dst_strides = byte_strides(dst);
  const DimVector dst_lead(dst_strides.begin(), dst_strides.begin() + io.shape.size());
  const RowPlan plan = make_row_plan(rest, trailing(dst_strides, static_cast<int64_t>(io.shape.size())),
                                     trailing(byte_strides(self), k));
  const int64_t nb = static_cast<int64_t>(io.offsets.size());
  if (nb > 0 && plan.numel > 0) {
    char* dbase = static_cast<char*>(dst.raw_data());
    const char* sbase = static_cast<const char*>(self.raw_data());
    const int64_t* off = io.offsets.data();
    const bool single = plan.numel == 1;
    dispatch_itemsize(self.itemsize(), [&](auto tag) {
      using T = decltype(tag);
      parallel_for(0, nb, std::max<int64_t>(1, kGrainElementwise / plan.numel), [&](int64_t b0, int64_t b1) {
        StridedWalk w(io.shape, dst_lead, b0);
        for (int64_t b = b0; b < b1; ++b, w.next()) {
          if (single) {
            *reinterpret_cast<T*>(dbase + w.offset()) = *reinterpret_cast<const T*>(sbase + off[b]);
          } else {
            for_each_row(plan, dbase + w.offset(), sbase + off[b], copy_row<T>);
          }
        }
      });
    });
  }
  if (dst.impl() != res.impl()) hy::cpu::copy_into(res, dst);
  return res;
}

Tensor index_put_(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
  check_defined(self, "index_put_", "self");
  check_defined(values, "index_put_", "values");
  self.note_write();
  IndexOffsets io = compute_offsets(self, indices, "index_put_");
  const int64_t k = static_cast<int64_t>(indices.size());
  const Shape rest = trailing(self.shape(), k);
  const Shape target = concat(io.shape, rest);
  Tensor v = hy::cpu::cast_to(values, self.dtype());  // never overlaps self: see core/memory_overlap.h
  DimVector vstrides;
  try {
    vstrides = hy::cpu::broadcast_byte_strides(v, target);
  } catch (const ValueError&) {
    throw ValueError(str("index_put_: values of shape ", values.shape(), " cannot be broadcast to the indexed shape ",
                         target));
  }
  const DimVector v_lead(vstrides.begin(), vstrides.begin() + io.shape.size());
  const RowPlan plan = make_row_plan(rest, trailing(byte_strides(self), k),
                                     trailing(vstrides, static_cast<int64_t>(io.shape.size())));
  const int64_t nb = static_cast<int64_t>(io.offsets.size());
  if (nb == 0 || plan.numel == 0) return self;
  char* dbase = static_cast<char*>(self.raw_data());
  const char* vbase = static_cast<const char*>(v.raw_data());
  // One pass in index order, so a repeated index keeps its last value (as NumPy does) and accumulation
  // never races; rows of the trailing dims are still copied or added whole.
  StridedWalk w(io.shape, v_lead, 0);
  const int64_t* off = io.offsets.data();
  const bool single = plan.numel == 1;  // one element per index: skip the row machinery
  if (accumulate) {
    HY_DISPATCH_ALL(self.dtype(), "index_put_", [&] {
      for (int64_t b = 0; b < nb; ++b, w.next()) {
        if (single) accumulate_row<scalar_t>(dbase + off[b], vbase + w.offset(), 1, 0, 0);
        else for_each_row(plan, dbase + off[b], vbase + w.offset(), accumulate_row<scalar_t>);
      }
    });
  } else {
    dispatch_itemsize(self.itemsize(), [&](auto tag) {
      using T = decltype(tag);
      for (int64_t b = 0; b < nb; ++b, w.next()) {
        if (single) *reinterpret_cast<T*>(dbase + off[b]) = *reinterpret_cast<const T*>(vbase + w.offset());
        else for_each_row(plan, dbase + off[b], vbase + w.offset(), copy_row<T>);
      }
    });
  }
  return self;
}

Tensor nonzero(const Tensor& self) {
  check_defined(self, "nonzero", "self");
  Tensor m = hy::cpu::contiguous(hy::cpu::cast_to(self, DType::Bool));
  const Shape shape = self.shape();
  const int64_t nd = self.dim();
  // No element, no index: return early, since finding a chunk's coordinates divides by every size.
  if (m.numel() == 0) return Tensor::empty({0, nd}, DType::Int64);
  Tensor out;
  compact(m.data<bool>(), m.numel(), [&](int64_t total) { out = Tensor::empty({total, nd}, DType::Int64); },
          [&](int64_t begin, int64_t end, int64_t first, int64_t last) {
            int64_t* o = out.data<int64_t>() + first * nd;
            int64_t* const o_end = out.data<int64_t>() + last * nd;
            const uint8_t* p = reinterpret_cast<const uint8_t*>(m.data<bool>());
            if (nd == 1) {
              for (int64_t i = begin; i < end && o < o_end; ++i) {
                *o = i;
                o += p[i] != 0;
              }
              return;
            }
            DimVector idx(nd, 0);  // coordinates of `begin`, then advanced like an odometer
            for (int64_t d = nd - 1, rem = begin; d >= 0; --d) {
              idx[d] = rem % shape[d];
              rem /= shape[d];
            }
            for (int64_t i = begin; i < end && o < o_end; ++i) {
              for (int64_t d = 0; d < nd; ++d) o[d] = idx[d];
              o += p[i] != 0 ? nd : 0;
              for (int64_t d = nd - 1; d >= 0; --d) {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
              }
            }
          });
  return out;
}

Tensor masked_select(const Tensor& self, const Tensor& mask) {
  check_defined(self, "masked_select", "self");
  check_mask(mask, "masked_select");
  Shape shape;
  try {
    shape = broadcast_shapes(self.shape(), mask.shape());
  } catch (const ValueError&) {
    throw ValueError(str("masked_select: mask of shape ", mask.shape(), " does not broadcast with self's shape ",
                         self.shape()));
  }
  Tensor s = hy::cpu::contiguous(ops::broadcast_to(self, shape));
  Tensor m = hy::cpu::contiguous(ops::broadcast_to(mask, shape));
  Tensor out;
  dispatch_itemsize(self.itemsize(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(s.raw_data());
    const uint8_t* p = reinterpret_cast<const uint8_t*>(m.data<bool>());
    compact(m.data<bool>(), m.numel(), [&](int64_t total) { out = Tensor::empty({total}, self.dtype()); },
            [&](int64_t begin, int64_t end, int64_t first, int64_t last) {
              T* o = static_cast<T*>(out.raw_data()) + first;
              T* const o_end = static_cast<T*>(out.raw_data()) + last;
              for (int64_t i = begin; i < end && o < o_end; ++i) {
                *o = src[i];
                o += p[i] != 0;
              }
            });
  });
  return out;
}

Tensor masked_fill(const Tensor& self, const Tensor& mask, const Scalar& value, const std::optional<Tensor>& out) {
  check_defined(self, "masked_fill", "self");
  check_mask(mask, "masked_fill");
  const bool inplace = out && out->defined() && out->impl() == self.impl();
  Shape shape = self.shape();
  bool broadcasts = true;
  try {
    shape = broadcast_shapes(self.shape(), mask.shape());
  } catch (const ValueError&) {
    broadcasts = false;
  }
  HY_CHECK(broadcasts && (!inplace || shape == self.shape()), ValueError, inplace ? "masked_fill_" : "masked_fill",
           ": mask of shape ", mask.shape(), " does not broadcast to self's shape ", self.shape());
  check_scalar_fits(value, self.dtype(), inplace ? "masked_fill_" : "masked_fill", "value");
  Tensor res = prepare_out(out, shape, self.dtype(), "masked_fill");
  // self and mask are separate from res or exactly res (the front function copies any other overlap).
  if (!inplace) hy::cpu::copy_into(res, self);
  ElementwisePlan<2> plan(shape, {&res, &mask});
  HY_DISPATCH_ALL(res.dtype(), "masked_fill", [&] {
    const scalar_t v = value.to<scalar_t>();
    plan.run([&](char** p, const int64_t* s, int64_t n) {
      if (s[0] == static_cast<int64_t>(sizeof(scalar_t)) && s[1] == 1) {
        scalar_t* o = reinterpret_cast<scalar_t*>(p[0]);
        const bool* mk = reinterpret_cast<const bool*>(p[1]);
        for (int64_t i = 0; i < n; ++i) o[i] = mk[i] ? v : o[i];  // a blend, not a branch: random masks vectorize
        return;
      }
      for (int64_t i = 0; i < n; ++i)
        if (*reinterpret_cast<const bool*>(p[1] + i * s[1])) *reinterpret_cast<scalar_t*>(p[0] + i * s[0]) = v;
    });
  });
  return res;
}

}  // namespace hy::kernels::cpu
