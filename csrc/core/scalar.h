// A Python number crossing into C++: bool, int or float, remembered as which, so type promotion can
// treat `t + 1` (int) and `t + 1.0` (float) differently like NumPy and PyTorch do.
#pragma once
#include <cstdint>
#include <ostream>

#include "core/dtype.h"

namespace hy {

/// A scalar value of category bool/int/float.
class Scalar {
 public:
  enum class Kind : uint8_t { Kind_Bool, Kind_Int, Kind_Float };
  Scalar() : kind_(Kind::Kind_Int), i_(0) {}
  Scalar(bool b) : kind_(Kind::Kind_Bool), i_(b) {}  // NOLINT
  Scalar(int v) : kind_(Kind::Kind_Int), i_(v) {}     // NOLINT
  Scalar(int64_t v) : kind_(Kind::Kind_Int), i_(v) {}  // NOLINT
  Scalar(double v) : kind_(Kind::Kind_Float), d_(v) {}  // NOLINT
  Scalar(float v) : kind_(Kind::Kind_Float), d_(v) {}   // NOLINT

  Kind kind() const { return kind_; }
  bool is_bool() const { return kind_ == Kind::Kind_Bool; }
  bool is_int() const { return kind_ == Kind::Kind_Int; }
  bool is_float() const { return kind_ == Kind::Kind_Float; }
  double to_double() const { return is_float() ? d_ : static_cast<double>(i_); }
  int64_t to_int() const { return is_float() ? static_cast<int64_t>(d_) : i_; }
  bool to_bool() const { return is_float() ? d_ != 0.0 : i_ != 0; }
  /// The value converted to C++ type T (Half/BFloat16 via float).
  template <typename T> T to() const {
    if constexpr (std::is_same_v<T, bool>) return to_bool();
    else if constexpr (std::is_integral_v<T>) return static_cast<T>(to_int());
    else return static_cast<T>(static_cast<float>(to_double()));
  }
  /// The dtype a lone scalar of this kind gets: bool, int64 or the default float dtype (float32 unless
  /// set_default_float_dtype changed it).
  DType default_dtype() const {
    return is_bool() ? DType::Bool : is_int() ? DType::Int64 : default_float_dtype();
  }

 private:
  Kind kind_;
  union { int64_t i_; double d_; };
};
template <> inline double Scalar::to<double>() const { return to_double(); }
template <> inline float Scalar::to<float>() const { return static_cast<float>(to_double()); }

inline std::ostream& operator<<(std::ostream& os, const Scalar& s) {
  if (s.is_bool()) return os << (s.to_bool() ? "True" : "False");
  if (s.is_int()) return os << s.to_int();
  return os << s.to_double();
}

}  // namespace hy
