// The generated front functions' refusal of complex arguments for ops whose table entry accepts only
// real dtypes (gen_ops.py, complex_guard): one dtype test per tensor argument, then a TypeError that
// names the op, the argument and its dtype, before any kernel could misread std::complex elements.
//
//   if (complex_arg(self)) reject_complex("exp", "self", self);
#pragma once
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace hy::ops {

/// True when `t` is a defined complex tensor.
inline bool complex_arg(const Tensor& t) { return t.defined() && dtype_is_complex(t.dtype()); }
/// True when `t` holds a complex tensor.
inline bool complex_arg(const std::optional<Tensor>& t) { return t && complex_arg(*t); }
/// True when any tensor of `ts` is complex.
inline bool complex_arg(const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts)
    if (complex_arg(t)) return true;
  return false;
}
/// True for a complex dtype argument (`dtype=hy.complex64`).
inline bool complex_arg(DType d) { return dtype_is_complex(d); }
inline bool complex_arg(const std::optional<DType>& d) { return d && dtype_is_complex(*d); }

/// Throws TypeError: op `op` does not support complex dtypes (argument `arg` is complex64, ...).
[[noreturn]] void reject_complex_dtype(const char* op, const char* arg, DType dtype);

inline DType complex_dtype_of(const Tensor& t) { return t.dtype(); }
inline DType complex_dtype_of(const std::optional<Tensor>& t) { return t->dtype(); }
inline DType complex_dtype_of(const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts)
    if (complex_arg(t)) return t.dtype();
  return DType::Complex64;
}
inline DType complex_dtype_of(DType d) { return d; }
inline DType complex_dtype_of(const std::optional<DType>& d) { return *d; }

/// Throws the TypeError for argument `arg` of `op`, which complex_arg found complex.
template <typename A>
[[noreturn]] void reject_complex(const char* op, const char* arg, const A& value) {
  reject_complex_dtype(op, arg, complex_dtype_of(value));
}

}  // namespace hy::ops
