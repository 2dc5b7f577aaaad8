// Copy with broadcasting and dtype conversion: the primitive behind copy_, to(dtype), contiguous,
// clone and every kernel that needs its input in another layout or type.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/type_promotion.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/lowp_convert.h"

namespace hy::cpu {
namespace {

template <typename To, typename From>
inline To convert(From v) {
  if constexpr (is_complex_v<From> && is_complex_v<To>) {
    return To(static_cast<typename To::value_type>(v.real()), static_cast<typename To::value_type>(v.imag()));
  } else if constexpr (is_complex_v<From>) {
    // complex -> real keeps the real part and drops the imaginary one, as torch's casts do.
    if constexpr (std::is_same_v<To, bool>) return v != From(0);
    else return convert<To>(v.real());
  } else if constexpr (is_complex_v<To>) {
    return To(convert<typename To::value_type>(v), typename To::value_type(0));
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>) return static_cast<float>(v) != 0.0f;
    else return v != From(0);
  } else if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>) return static_cast<To>(static_cast<float>(v));
  else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) return To(static_cast<float>(v));
  else return static_cast<To>(v);
}

template <typename T>
void copy_same_type(const ElementwisePlan<2>& plan) {
  plan.run([](char** p, const int64_t* s, int64_t n) {
    // Copying a tensor onto exactly itself (x.copy_(x[:]), masked_fill(x, m, v, out=x[:])) moves nothing,
    // and memcpy must not be given overlapping ranges.
    if (p[0] == p[1] && s[0] == s[1]) return;
    if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
      std::memcpy(p[0], p[1], static_cast<size_t>(n) * sizeof(T));
      return;
    }
    if (s[0] == sizeof(T) && s[1] == 0) {  // broadcasting one value: fill_, zeros, constant padding
      std::fill_n(reinterpret_cast<T*>(p[0]), n, *reinterpret_cast<const T*>(p[1]));
      return;
    }
    unary_row<T, T>(p, s, n, [](T v) { return v; });
  });
}

// float16/bfloat16 <-> float32: dense rows go through the vectorized converters (the casts every
// low-precision kernel that computes through float32 temporaries makes); strided rows per element.
template <typename To, typename From>
void copy_lowp_float(const ElementwisePlan<2>& plan) {
  plan.run([](char** p, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(To) && s[1] == sizeof(From)) {
      const From* src = reinterpret_cast<const From*>(p[1]);
      To* dst = reinterpret_cast<To*>(p[0]);
      if constexpr (std::is_same_v<To, float>) lowp_widen(src, dst, n);
      else lowp_narrow(src, dst, n);
      return;
    }
    unary_row<To, From>(p, s, n, [](From v) { return convert<To>(v); });
  });
}

// True (and the copy done) when dst/src are a float16/bfloat16 and float32 pair.
bool try_copy_lowp_float(const ElementwisePlan<2>& plan, DType to, DType from) {
  if (to == DType::Float32 && from == DType::BFloat16) {
    copy_lowp_float<float, BFloat16>(plan);
    return true;
  }
  if (to == DType::Float32 && from == DType::Float16) {
    copy_lowp_float<float, Half>(plan);
    return true;
  }
  if (to == DType::BFloat16 && from == DType::Float32) {
    copy_lowp_float<BFloat16, float>(plan);
    return true;
  }
  if (to == DType::Float16 && from == DType::Float32) {
    copy_lowp_float<Half, float>(plan);
    return true;
  }
  return false;
}

}  // namespace

DimVector broadcast_byte_strides(const Tensor& t, const Shape& shape) {
  const Shape& ts = t.shape();
  HY_CHECK(ts.size() <= shape.size(), ValueError, "cannot broadcast shape ", ts, " to ", shape);
  DimVector out(shape.size(), 0);
  size_t lead = shape.size() - ts.size();
  int64_t item = t.itemsize();
  for (size_t i = 0; i < ts.size(); ++i) {
    HY_CHECK(ts[i] == shape[lead + i] || ts[i] == 1, ValueError, "cannot broadcast shape ", ts, " to ", shape);
    out[lead + i] = ts[i] == 1 ? 0 : t.strides()[i] * item;
  }
  return out;
}

void copy_into(const Tensor& dst, const Tensor& src) {
  ElementwisePlan<2> plan(dst.shape(), {&dst, &src});
  if (dst.dtype() == src.dtype()) {
    switch (dst.itemsize()) {  // a same-type copy only moves bytes
      case 1: return copy_same_type<uint8_t>(plan);
      case 2: return copy_same_type<uint16_t>(plan);
      case 4: return copy_same_type<uint32_t>(plan);
      case 8: return copy_same_type<uint64_t>(plan);
      default: return copy_same_type<std::complex<double>>(plan);  // complex128: 16 bytes
    }
  }
  if (try_copy_lowp_float(plan, dst.dtype(), src.dtype())) return;
  HY_DISPATCH_ALL_AND_COMPLEX(dst.dtype(), "copy_", [&] {
    using To = scalar_t;
    HY_DISPATCH_ALL_AND_COMPLEX(src.dtype(), "copy_", [&] {
      using From = scalar_t;
      plan.run([](char** p, const int64_t* s, int64_t n) {
        unary_row<To, From>(p, s, n, [](From v) { return convert<To>(v); });
      });
    });
  });
}

Tensor empty_like_layout(const Shape& shape, DType dtype, const Tensor& like) {
  const size_t n = shape.size();
  if (!like.defined() || n < 2 || like.is_contiguous() || like.shape() != shape) return Tensor::empty(shape, dtype);
  std::vector<size_t> perm(n);
  for (size_t i = 0; i < n; ++i) perm[i] = i;
  const Strides& st = like.strides();
  std::stable_sort(perm.begin(), perm.end(), [&](size_t a, size_t b) { return st[a] > st[b]; });
  int64_t expected = 1;  // dense in that order, no gaps or overlaps?
  for (size_t i = n; i-- > 0;) {
    size_t d = perm[i];
    if (shape[d] == 1) continue;
    if (st[d] != expected) return Tensor::empty(shape, dtype);
    expected *= shape[d];
  }
  Shape permuted(n);
  for (size_t i = 0; i < n; ++i) permuted[i] = shape[perm[i]];
  Tensor base = Tensor::empty(permuted, dtype);
  Strides out_strides(n);
  for (size_t i = 0; i < n; ++i) out_strides[perm[i]] = base.strides()[i];
  return Tensor::make_view(base, shape, out_strides, 0);
}

Tensor prepare_out(const std::optional<Tensor>& out, const Shape& shape, DType dtype, const char* op,
                   const Tensor& like) {
  if (!out || !out->defined()) return empty_like_layout(shape, dtype, like);
  HY_CHECK(out->shape() == shape, ValueError, op, ": out= tensor has shape ", out->shape(),
           " but the result has shape ", shape);
  HY_CHECK(can_cast_in_place(dtype, out->dtype()), TypeError, op, ": result dtype ", dtype_name(dtype),
           " can't be cast to the output dtype ", dtype_name(out->dtype()));
  out->note_write();
  return *out;
}

Tensor cast_to(const Tensor& t, DType d) {
  if (t.dtype() == d) return t;
  Tensor r = Tensor::empty(t.shape(), d);
  copy_into(r, t);
  return r;
}

Tensor cast_keep_layout(const Tensor& t, DType d) {
  if (t.dtype() == d) return t;
  Tensor r = empty_like_layout(t.shape(), d, t);
  copy_into(r, t);
  return r;
}

Tensor contiguous(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor r = Tensor::empty(t.shape(), t.dtype());
  copy_into(r, t);
  return r;
}

void check_floating(const Tensor& t, const char* op, const char* arg) {
  HY_CHECK(dtype_is_floating(t.dtype()), TypeError, op, ": ", arg, " must be a floating-point tensor, got ",
           t.describe());
}

void check_defined(const Tensor& t, const char* op, const char* arg) {
  HY_CHECK(t.defined(), ValueError, op, ": ", arg, " is undefined (None)");
}

}  // namespace hy::cpu
