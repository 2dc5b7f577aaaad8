#include "core/type_promotion.h"

namespace hy {

namespace {
template <typename It>
DType result_type_of(It begin, It end) {
  // Three tiers: [0] dimensioned tensors, [1] 0-d tensors, [2] wrapped Python numbers.
  bool has[3] = {false, false, false};
  DType tier[3] = {DType::Bool, DType::Bool, DType::Bool};
  for (It it = begin; it != end; ++it) {
    const Tensor& t = *it;
    if (!t.defined()) continue;
    int k = t.impl()->is_wrapped_number() ? 2 : (t.dim() == 0 ? 1 : 0);
    DType d = t.dtype();
    if (k == 2) {  // a Python number only contributes its category's default dtype (torch: the default
                   // float/complex dtype, so int32_tensor + 2.5 is float64 after set_default_dtype(float64))
      d = d == DType::Bool          ? DType::Bool
          : dtype_is_complex(d)     ? default_complex_dtype()
          : dtype_is_floating(d)    ? default_float_dtype()
                                    : DType::Int64;
    }
    tier[k] = has[k] ? promote_types(tier[k], d) : d;
    has[k] = true;
  }
  DType out = DType::Bool;
  bool any = false;
  for (int k = 0; k < 3; ++k) {
    if (!has[k]) continue;
    if (!any) {
      out = tier[k];
      any = true;
    } else if (dtype_category(tier[k]) > dtype_category(out)) {
      // A weaker tier only lifts the category, at its own width; a complex one lifts a float to the
      // complex dtype of that float's width (torch: float64 tensor + complex64 0-d -> complex128).
      out = dtype_is_complex(tier[k]) && dtype_is_floating(out) ? dtype_to_complex(out) : tier[k];
    }
  }
  return out;
}

}  // namespace

DType result_type(const std::vector<Tensor>& inputs) { return result_type_of(inputs.begin(), inputs.end()); }

DType result_type(const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype() && !a.impl()->is_wrapped_number()) return a.dtype();  // common case: no tiers
  const Tensor pair[2] = {a, b};
  return result_type_of(pair, pair + 2);
}

Tensor wrapped_number_tensor(const Scalar& s) {
  DType dt = s.is_bool() ? DType::Bool : s.is_int() ? DType::Int64 : DType::Float64;
  Tensor t = Tensor::empty({}, dt);
  if (s.is_bool()) *t.data<bool>() = s.to_bool();
  else if (s.is_int()) *t.data<int64_t>() = s.to_int();
  else *t.data<double>() = s.to_double();
  t.impl()->set_wrapped_number(true);
  return t;
}

bool can_cast_in_place(DType from, DType to) {
  return dtype_category(from) <= dtype_category(to);
}

}  // namespace hy
