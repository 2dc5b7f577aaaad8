// Range checks for a Python number becoming an element of a given dtype. C++ converts an out-of-range
// or NaN double to an integer with undefined behaviour (INT_MIN or 0 in practice) and narrows an int64
// by wrapping, so `int32_t.fill_(nan)` or `int32_t // 2**32` would silently compute garbage (the latter
// divides by a wrapped 0). Every path that turns a Python scalar into an integer element checks first.
//
//   check_scalar_fits(value, t.dtype(), "fill_", "value");   // ValueError for nan, inf, 2**40 into int32
#pragma once
#include "core/dtype.h"
#include "core/scalar.h"
#include "core/tensor.h"

namespace hy {

/// True when `value` converts to `dtype` without overflow: always for floating and bool dtypes (floats
/// round or become inf, any number is a bool); for int32/int64, a finite value whose integer part fits.
bool scalar_fits(const Scalar& value, DType dtype);

/// Throws ValueError "<op>: <arg> <value> cannot be converted to type <dtype> without overflow" (or, for
/// a Python int, NumPy's "Python integer <value> out of bounds for <dtype>") unless scalar_fits.
void check_scalar_fits(const Scalar& value, DType dtype, const char* op, const char* arg);

/// The same check for a wrapped Python number (a 0-d tensor from `t + 2**40`) about to be converted to
/// the dtype `dtype` an op computes in; other tensors pass (tensor casts keep their C semantics).
void check_wrapped_number_fits(const Tensor& t, DType dtype, const char* op);

/// True when `t` is a wrapped Python number that does not fit `dtype` (comparisons then widen instead).
bool wrapped_number_overflows(const Tensor& t, DType dtype);

}  // namespace hy
