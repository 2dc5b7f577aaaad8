// Memory overlap between the tensor an op writes and the tensors it reads, and inside the written
// tensor itself. The generated front functions (csrc/ops/gen_ops.py) call these for every in-place and
// `out=` call, so no kernel has to care:
//
//   check_written_layout("add_", "self", self);            // RuntimeError when self is expanded
//   if (input_needs_copy(out, other, /*exact_alias_ok=*/true)) other = ops::clone(other);
//
// Only geometry lives here (shape, strides, offset, storage); the copy itself is an op (ops::clone),
// so autograd records it.
#pragma once
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace hy {

/// True when two elements of `t` are one memory location: a stride 0 on a dim of size > 1 (expand,
/// broadcast_to) or an as_strided layout that folds onto itself. Exact for every layout; dense and
/// sliced tensors answer from their strides alone.
bool has_internal_overlap(const Tensor& t);

/// Call f(t) for each defined tensor of an op argument: a Tensor, an optional one, or a list.
template <typename F>
void for_each_tensor(const Tensor& t, const F& f) {
  if (t.defined()) f(t);
}
template <typename F>
void for_each_tensor(const std::optional<Tensor>& t, const F& f) {
  if (t) for_each_tensor(*t, f);
}
template <typename F>
void for_each_tensor(const std::vector<Tensor>& ts, const F& f) {
  for (const Tensor& t : ts) for_each_tensor(t, f);
}

/// True when the op writes something: a defined tensor, a present optional, a non-empty list.
inline bool is_written(const Tensor& t) { return t.defined(); }
inline bool is_written(const std::optional<Tensor>& t) { return t.has_value() && t->defined(); }
inline bool is_written(const std::vector<Tensor>& ts) { return !ts.empty(); }

/// Throw RuntimeError naming `op` and `arg` when a tensor the op writes has internal overlap: writing
/// through aliases gives an order-dependent result, so it is refused, as PyTorch does.
void check_written_layout(const char* op, const char* arg, const Tensor& t);
/// The same for an optional output and for every tensor of a list.
template <typename W>
void check_written_layout(const char* op, const char* arg, const W& written) {
  for_each_tensor(written, [&](const Tensor& t) { check_written_layout(op, arg, t); });
}

/// True when `a` and `b` are the same elements: same first address, same dtype, and `b` broadcast to
/// `a`'s shape has `a`'s strides (dims of size 1 aside). An elementwise op may then read b while writing a.
bool same_elements(const Tensor& a, const Tensor& b);

/// True when the op must copy `input` before writing `written`: their bytes intersect, and they are not
/// exactly the same elements (or are, but `exact_alias_ok` is false because the op reads other positions
/// than it writes). Tensors in separate allocations answer after a few comparisons.
bool input_needs_copy(const Tensor& written, const Tensor& input, bool exact_alias_ok);
/// Two lists an op walks in step (written[i] is computed from input[i]): an exact alias is harmless
/// only at the same position. Sorted by address first, so long lists cost O(n log n), not O(n^2).
bool input_needs_copy(const std::vector<Tensor>& written, const std::vector<Tensor>& input, bool exact_alias_ok);
/// Any other mix of Tensor, optional and list arguments: every written tensor against every input.
template <typename W, typename I>
bool input_needs_copy(const W& written, const I& input, bool exact_alias_ok) {
  bool any = false;
  for_each_tensor(written, [&](const Tensor& w) {
    for_each_tensor(input, [&](const Tensor& in) { any = any || input_needs_copy(w, in, exact_alias_ok); });
  });
  return any;
}

}  // namespace hy
