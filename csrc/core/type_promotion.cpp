#include "core/type_promotion.h"

namespace hy {

DType result_type(const std::vector<Tensor>& inputs) {
  // Three tiers: [0] dimensioned tensors, [1] 0-d tensors, [2] wrapped Python numbers.
  bool has[3] = {false, false, false};
  DType tier[3] = {DType::Bool, DType::Bool, DType::Bool};
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    int k = t.impl()->is_wrapped_number() ? 2 : (t.dim() == 0 ? 1 : 0);
    DType d = t.dtype();
    if (k == 2) {  // a Python number only contributes its category's default dtype
      d = d == DType::Bool ? DType::Bool : dtype_is_floating(d) ? DType::Float32 : DType::Int64;
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
      out = tier[k];  // a weaker tier only lifts the category, at its own width
    }
  }
  return out;
}

DType result_type(const Tensor& a, const Tensor& b) { return result_type(std::vector<Tensor>{a, b}); }

bool can_cast_in_place(DType from, DType to) {
  return dtype_category(from) <= dtype_category(to);
}

}  // namespace hy
