// Shape arithmetic with overflow checks: every size that becomes an allocation goes through here.
#pragma once
#include <cstdint>

#include "core/dim_vector.h"

namespace hy {

/// Product of dims; throws ValueError for negative dims or when the product overflows int64.
int64_t shape_numel(const Shape& shape);
/// a * b, throwing ValueError (naming `what`) on int64 overflow.
int64_t checked_mul(int64_t a, int64_t b, const char* what);
/// Row-major (C order) strides in elements.
Strides contiguous_strides(const Shape& shape);
/// Wrap a possibly negative dim into [0, ndim); throws IndexError naming the valid range.
int64_t wrap_dim(int64_t dim, int64_t ndim);
/// NumPy broadcasting of two shapes; throws ValueError naming both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);
/// True when `strides` describe a dense row-major layout of `shape` (size-1 dims are ignored).
bool strides_are_contiguous(const Shape& shape, const Strides& strides);

}  // namespace hy
