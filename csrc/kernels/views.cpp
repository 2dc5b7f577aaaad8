// Device-independent view ops: they only compute new geometry over the same storage, so one
// implementation serves every backend (registered for "any" device by the op table).
#include <algorithm>
#include <optional>

#include "core/scalar_check.h"
#include "core/shape_util.h"
#include "hyflow/ops/ops_common.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::any {
namespace {

Shape infer_shape(const DimVector& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      HY_CHECK(infer_at < 0, ValueError, op, ": only one dimension can be -1, got shape ", shape);
      infer_at = static_cast<int64_t>(i);
    } else {
      HY_CHECK(out[i] >= 0, ValueError, op, ": invalid dimension ", out[i], " in shape ", shape);
      known = checked_mul(known, out[i], "shape");
    }
  }
  if (infer_at >= 0) {
    HY_CHECK(known != 0 && numel % known == 0, ValueError, op, ": shape ", shape,
             " is invalid for input of size ", numel);
    out[static_cast<size_t>(infer_at)] = numel / known;
  } else {
    HY_CHECK(known == numel, ValueError, op, ": shape ", shape, " is invalid for input of size ", numel);
  }
  return out;
}

// Strides that let `newshape` view memory laid out as (oldshape, oldstrides), if any exist: old dims
// are grouped into chunks that are contiguous with each other; each chunk must map onto whole new dims.
std::optional<Strides> view_strides(const Shape& oldshape, const Strides& oldstrides, const Shape& newshape) {
  if (oldshape.empty()) return contiguous_strides(newshape);
  int64_t numel = 1;
  for (int64_t d : oldshape) numel *= d;
  if (numel == 0) return contiguous_strides(newshape);
  Strides newstrides(newshape.size(), 0);
  int64_t view_d = static_cast<int64_t>(newshape.size()) - 1;
  int64_t chunk_base = oldstrides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t td = static_cast<int64_t>(oldshape.size()) - 1; td >= 0; --td) {
    tensor_numel *= oldshape[td];
    if (td == 0 || (oldshape[td - 1] != 1 && oldstrides[td - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || newshape[view_d] == 1)) {
        newstrides[view_d] = view_numel * chunk_base;
        view_numel *= newshape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (td > 0) {
        chunk_base = oldstrides[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return newstrides;
}

// `t` itself when contiguous, else a dense copy made on t's own device: these view kernels serve every
// device, and only the CPU copy may run here (a device tensor's copy is its backend's clone kernel).
Tensor dense(const Tensor& t) {
  if (t.is_contiguous()) return t;
  return t.device().is_cpu() ? hy::cpu::contiguous(t) : ::hy::ops::clone(t);
}

}  // namespace

Tensor view(const Tensor& self, const DimVector& shape) {
  Shape s = infer_shape(shape, self.numel(), "view");
  auto st = view_strides(self.shape(), self.strides(), s);
  HY_CHECK(st.has_value(), ValueError, "view: a tensor of shape ", self.shape(), " and strides ",
           self.strides(), " cannot be viewed as ", s, " without a copy; use .reshape()");
  return Tensor::make_view(self, s, *st, self.offset());
}

Tensor reshape(const Tensor& self, const DimVector& shape) {
  Shape s = infer_shape(shape, self.numel(), "reshape");
  if (auto st = view_strides(self.shape(), self.strides(), s)) return Tensor::make_view(self, s, *st, self.offset());
  return view(dense(self), s);
}

Tensor transpose(const Tensor& self, int64_t dim0, int64_t dim1) {
  int64_t n = self.dim();
  int64_t a = wrap_dim(dim0, n), b = wrap_dim(dim1, n);
  if (n == 0) return Tensor::make_view(self, self.shape(), self.strides(), self.offset());
  Shape s = self.shape();
  Strides st = self.strides();
  std::swap(s[a], s[b]);
  std::swap(st[a], st[b]);
  return Tensor::make_view(self, s, st, self.offset());
}

Tensor permute(const Tensor& self, const DimVector& dims) {
  int64_t n = self.dim();
  HY_CHECK(static_cast<int64_t>(dims.size()) == n, ValueError, "permute: dims ", dims,
           " must name each of the tensor's ", n, " dims once");
  Shape s(n);
  Strides st(n);
  std::vector<bool> seen(n, false);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = wrap_dim(dims[i], n);
    HY_CHECK(!seen[d], ValueError, "permute: dim ", dims[i], " repeats in ", dims);
    seen[d] = true;
    s[i] = self.shape()[d];
    st[i] = self.strides()[d];
  }
  return Tensor::make_view(self, s, st, self.offset());
}

Tensor expand(const Tensor& self, const DimVector& shape) {
  int64_t n = static_cast<int64_t>(shape.size()), m = self.dim();
  HY_CHECK(n >= m, ValueError, "expand: the target shape ", shape, " has fewer dims than the tensor's ",
           self.shape());
  Shape s(n);
  Strides st(n);
  for (int64_t i = n - 1; i >= 0; --i) {
    int64_t j = i - (n - m);
    int64_t want = shape[i];
    if (j >= 0) {
      int64_t have = self.shape()[j];
      if (want == -1) want = have;
      HY_CHECK(have == want || have == 1, ValueError, "expand: the tensor of shape ", self.shape(),
               " cannot be expanded to ", shape, " (dim ", i, ": ", have, " vs ", want, ")");
      HY_CHECK(want >= 0, ValueError, "expand: invalid size ", want, " in shape ", shape);
      s[i] = want;
      st[i] = have == want ? self.strides()[j] : 0;
    } else {
      HY_CHECK(want >= 0, ValueError, "expand: new leading dims cannot be -1 (shape ", shape, ")");
      s[i] = want;
      st[i] = 0;
    }
  }
  return Tensor::make_view(self, s, st, self.offset());
}

Tensor broadcast_to(const Tensor& self, const DimVector& shape) { return expand(self, shape); }

Tensor squeeze(const Tensor& self, const std::optional<DimVector>& dim) {
  int64_t n = self.dim();
  std::vector<bool> drop(n, false);
  if (dim) {
    for (int64_t d : *dim) {
      int64_t w = wrap_dim(d, n);
      if (n > 0 && self.shape()[w] == 1) drop[w] = true;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) drop[i] = self.shape()[i] == 1;
  }
  Shape s;
  Strides st;
  for (int64_t i = 0; i < n; ++i)
    if (!drop[i]) {
      s.push_back(self.shape()[i]);
      st.push_back(self.strides()[i]);
    }
  return Tensor::make_view(self, s, st, self.offset());
}

Tensor unsqueeze(const Tensor& self, int64_t dim) {
  int64_t d = wrap_dim(dim, self.dim() + 1);
  Shape s = self.shape();
  Strides st = self.strides();
  int64_t stride = d < self.dim() ? s[d] * st[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return Tensor::make_view(self, s, st, self.offset());
}

Tensor flatten(const Tensor& self, int64_t start_dim, int64_t end_dim) {
  int64_t n = self.dim();
  if (n == 0) return reshape(self, DimVector{1});
  int64_t a = wrap_dim(start_dim, n), b = wrap_dim(end_dim, n);
  HY_CHECK(a <= b, ValueError, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape s;
  for (int64_t i = 0; i < a; ++i) s.push_back(self.shape()[i]);
  int64_t m = 1;
  for (int64_t i = a; i <= b; ++i) m *= self.shape()[i];
  s.push_back(m);
  for (int64_t i = b + 1; i < n; ++i) s.push_back(self.shape()[i]);
  return reshape(self, s);
}

Tensor select(const Tensor& self, int64_t dim, int64_t index) {
  HY_CHECK(self.dim() > 0, IndexError, "select: cannot index a 0-d tensor");
  int64_t d = wrap_dim(dim, self.dim());
  int64_t size = self.shape()[d];
  HY_CHECK(index >= -size && index < size, IndexError, "index ", index, " is out of bounds for dim ", d,
           " with size ", size);
  if (index < 0) index += size;
  Shape s = self.shape();
  Strides st = self.strides();
  int64_t offset = self.offset() + index * st[d];
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return Tensor::make_view(self, s, st, offset);
}

Tensor slice(const Tensor& self, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end,
             int64_t step) {
  HY_CHECK(self.dim() > 0, IndexError, "slice: cannot slice a 0-d tensor");
  HY_CHECK(step > 0, ValueError, "slice: step must be positive, got ", step);
  int64_t d = wrap_dim(dim, self.dim());
  int64_t size = self.shape()[d];
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + size : *v;
    return std::min(std::max<int64_t>(x, 0), size);
  };
  int64_t b = clamp(start, 0), e = clamp(end, size);
  int64_t len = e > b ? (e - b + step - 1) / step : 0;
  Shape s = self.shape();
  Strides st = self.strides();
  int64_t offset = self.offset() + (len > 0 ? b * st[d] : 0);
  s[d] = len;
  st[d] *= step;
  return Tensor::make_view(self, s, st, offset);
}

Tensor as_strided(const Tensor& self, const DimVector& size, const DimVector& stride,
                  std::optional<int64_t> storage_offset) {
  for (int64_t x : size) HY_CHECK(x >= 0, ValueError, "as_strided: negative size in ", size);
  for (int64_t x : stride) HY_CHECK(x >= 0, ValueError, "as_strided: negative stride in ", stride);
  return Tensor::make_view(self, size, stride, storage_offset.value_or(self.offset()));
}

Tensor contiguous(const Tensor& self) { return dense(self); }

}  // namespace hy::kernels::any

namespace hy::kernels::cpu {

Tensor clone(const Tensor& self) {
  Tensor r = Tensor::empty(self.shape(), self.dtype());
  hy::cpu::copy_into(r, self);
  return r;
}

Tensor to_dtype(const Tensor& self, DType dtype, bool copy) {
  if (self.dtype() == dtype && !copy) return self;
  Tensor r = hy::cpu::empty_like_layout(self.shape(), dtype, self);  // keeps a dense layout, like torch
  hy::cpu::copy_into(r, self);
  return r;
}

Tensor copy_(const Tensor& self, const Tensor& src) {
  self.note_write();
  hy::cpu::copy_into(self, src);  // src overlapping self was already replaced by a copy (core/memory_overlap.h)
  return self;
}

namespace {
// A Python number as element type T; a complex element gets it as its real part.
template <typename T>
T scalar_as(const Scalar& value) {
  if constexpr (is_complex_v<T>) return T(value.to<typename T::value_type>(), 0);
  else return value.to<T>();
}
}  // namespace

Tensor fill_(const Tensor& self, const Scalar& value) {
  check_scalar_fits(value, self.dtype(), "fill_", "value");  // nan or 2**40 into int32 raises, as in torch
  self.note_write();
  Tensor v = Tensor::empty({}, self.dtype());
  HY_DISPATCH_ALL_AND_COMPLEX(self.dtype(), "fill_", [&] { *v.data<scalar_t>() = scalar_as<scalar_t>(value); });
  hy::cpu::copy_into(self, v);
  return self;
}

Tensor zero_(const Tensor& self) { return fill_(self, Scalar(static_cast<int64_t>(0))); }

}  // namespace hy::kernels::cpu
