#include "core/scalar_check.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/error.h"

namespace hy {
namespace {

// [lo, hi] of an integral dtype.
void int_range(DType dtype, int64_t& lo, int64_t& hi) {
  if (dtype == DType::Int32) {
    lo = std::numeric_limits<int32_t>::min();
    hi = std::numeric_limits<int32_t>::max();
  } else {
    lo = std::numeric_limits<int64_t>::min();
    hi = std::numeric_limits<int64_t>::max();
  }
}

// The value of a wrapped number (wrapped_number_tensor makes it bool, int64 or float64).
Scalar scalar_of_wrapped(const Tensor& t) {
  switch (t.dtype()) {
    case DType::Bool: return Scalar(*t.data<bool>());
    case DType::Int32: return Scalar(static_cast<int64_t>(*t.data<int32_t>()));
    case DType::Int64: return Scalar(*t.data<int64_t>());
    case DType::Float32: return Scalar(static_cast<double>(*t.data<float>()));
    case DType::Float64: return Scalar(*t.data<double>());
    default: return Scalar(0.0);  // half types: floats always fit a float dtype (complex: never wrapped)
  }
}

}  // namespace

bool scalar_fits(const Scalar& value, DType dtype) {
  if (!dtype_is_integral(dtype) || value.is_bool()) return true;
  int64_t lo, hi;
  int_range(dtype, lo, hi);
  if (value.is_int()) return value.to_int() >= lo && value.to_int() <= hi;
  // A float converts by truncation (3.7 -> 3, as torch and C do), so its integer part must fit;
  // 2^63 is exactly representable and is the first double past int64's range.
  double d = std::trunc(value.to_double());
  if (!std::isfinite(d)) return false;
  return dtype == DType::Int32 ? d >= static_cast<double>(lo) && d <= static_cast<double>(hi)
                               : d >= -9223372036854775808.0 && d < 9223372036854775808.0;
}

void check_scalar_fits(const Scalar& value, DType dtype, const char* op, const char* arg) {
  if (scalar_fits(value, dtype)) return;
  if (value.is_int())
    throw ValueError(str(op, ": Python integer ", value.to_int(), " out of bounds for ", dtype_name(dtype),
                         " (", arg, ")"));
  throw ValueError(str(op, ": ", arg, " ", value.to_double(), " cannot be converted to type ", dtype_name(dtype),
                       " without overflow"));
}

bool wrapped_number_overflows(const Tensor& t, DType dtype) {
  return t.defined() && t.impl()->is_wrapped_number() && !scalar_fits(scalar_of_wrapped(t), dtype);
}

void check_wrapped_number_fits(const Tensor& t, DType dtype, const char* op) {
  if (wrapped_number_overflows(t, dtype)) check_scalar_fits(scalar_of_wrapped(t), dtype, op, "a Python scalar operand");
}

}  // namespace hy
