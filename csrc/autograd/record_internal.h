// What generated code needs to record the graph: the requires-grad test used by every front function
// and the in-place checks of the recording functions. Private to hyflow_core.
#pragma once
#include <optional>
#include <vector>

#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace hy::autograd {

inline bool any_requires_grad_one(const Tensor& t) { return requires_grad(t); }
inline bool any_requires_grad_one(const std::optional<Tensor>& t) { return t && requires_grad(*t); }
inline bool any_requires_grad_one(const std::vector<Tensor>& ts) {
  for (const auto& t : ts)
    if (requires_grad(t)) return true;
  return false;
}
/// Whether any of the tensor arguments requires grad.
template <typename... Ts>
bool any_requires_grad(const Ts&... ts) {
  return (any_requires_grad_one(ts) || ...);
}

}  // namespace hy::autograd
