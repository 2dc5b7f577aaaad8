// Element types and the type-promotion lattice (NumPy/PyTorch rules).
//
//   DType t = promote_types(DType::Int64, DType::Float32);   // Float32
#pragma once
#include <complex>
#include <cstdint>
#include <string>
#include <type_traits>

#include "core/half.h"

namespace hy {

/// Element type of a tensor. Order matters only for readability; promotion uses promote_types().
/// Complex64/Complex128 (interleaved real, imag: std::complex) come last; most ops accept only the
/// real dtypes, and the generated front functions refuse complex inputs for them (docs/tensors.md).
enum class DType : uint8_t { Bool, Int32, Int64, Float16, BFloat16, Float32, Float64, Complex64, Complex128 };
constexpr int kNumDTypes = 9;

/// Name as Python spells it ("float32").
const char* dtype_name(DType t);
/// Bytes per element.
int64_t dtype_itemsize(DType t);
/// Float16, BFloat16, Float32 or Float64 (not complex: a named range, never "everything past Float16").
inline bool dtype_is_floating(DType t) {
  return t == DType::Float16 || t == DType::BFloat16 || t == DType::Float32 || t == DType::Float64;
}
/// Complex64 or Complex128.
inline bool dtype_is_complex(DType t) { return t == DType::Complex64 || t == DType::Complex128; }
/// The real dtype of a complex one's parts (Complex64 -> Float32); other dtypes are returned unchanged.
DType dtype_complex_part(DType t);
/// The complex dtype whose parts are `t` (Float64 -> Complex128; Float32/Float16/BFloat16/ints/bool ->
/// Complex64, as torch's default complex dtype); complex dtypes are returned unchanged.
DType dtype_to_complex(DType t);
/// Int32 or Int64.
inline bool dtype_is_integral(DType t) { return t == DType::Int32 || t == DType::Int64; }
/// Parse "float32", "f4", "int64", "bool", ... Throws TypeError for unknown names.
DType dtype_from_name(const std::string& name);
/// The smallest dtype both a and b convert to without losing their category (bool < int < float).
DType promote_types(DType a, DType b);
/// The process-wide default floating dtype (torch.get_default_dtype()): what float factories without
/// dtype=, Python floats in promotion and integer inputs of float ops (exp, true division) become.
/// Float32 until set_default_float_dtype changes it.
DType default_float_dtype();
/// Sets the default floating dtype: Float16, BFloat16, Float32 or Float64, else TypeError naming it.
/// One value for the whole process (as torch's, not per thread); read with a relaxed atomic load.
void set_default_float_dtype(DType t);
/// The complex dtype of the default: Complex128 when it is Float64, else Complex64 (torch gives complex32
/// for a float16 default; hyflow has no complex32).
DType default_complex_dtype();
/// The float dtype an integer/bool input computes in for ops like exp (the default float dtype).
DType to_floating(DType t, DType default_float = default_float_dtype());

/// Category of a dtype for promotion between tensors and Python scalars.
enum class DTypeCategory : uint8_t {
  DTypeCategory_Bool, DTypeCategory_Integral, DTypeCategory_Floating, DTypeCategory_Complex
};
inline DTypeCategory dtype_category(DType t) {
  if (t == DType::Bool) return DTypeCategory::DTypeCategory_Bool;
  if (dtype_is_complex(t)) return DTypeCategory::DTypeCategory_Complex;
  return dtype_is_floating(t) ? DTypeCategory::DTypeCategory_Floating : DTypeCategory::DTypeCategory_Integral;
}

/// Compile-time C++ type of each dtype.
template <DType D> struct dtype_cpp;
template <> struct dtype_cpp<DType::Bool> { using type = bool; };
template <> struct dtype_cpp<DType::Int32> { using type = int32_t; };
template <> struct dtype_cpp<DType::Int64> { using type = int64_t; };
template <> struct dtype_cpp<DType::Float16> { using type = Half; };
template <> struct dtype_cpp<DType::BFloat16> { using type = BFloat16; };
template <> struct dtype_cpp<DType::Float32> { using type = float; };
template <> struct dtype_cpp<DType::Float64> { using type = double; };
template <> struct dtype_cpp<DType::Complex64> { using type = std::complex<float>; };
template <> struct dtype_cpp<DType::Complex128> { using type = std::complex<double>; };

/// True for std::complex<float> / std::complex<double> (the complex dtypes' element types).
template <typename T> struct is_complex_t : std::false_type {};
template <typename T> struct is_complex_t<std::complex<T>> : std::true_type {};
template <typename T> constexpr bool is_complex_v = is_complex_t<T>::value;

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<Half>() { return DType::Float16; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::BFloat16; }
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<std::complex<float>>() { return DType::Complex64; }
template <> constexpr DType dtype_of<std::complex<double>>() { return DType::Complex128; }

}  // namespace hy

/// Run a generic lambda with `scalar_t` bound to the C++ type of `dtype`:
///   HY_DISPATCH_ALL(t.dtype(), "sum", [&] { ... scalar_t ... });
#define HY_DTYPE_CASE(D, ...) \
  case ::hy::DType::D: {      \
    using scalar_t = ::hy::dtype_cpp<::hy::DType::D>::type; \
    return __VA_ARGS__();     \
  }
#define HY_DISPATCH_SWITCH(dtype, opname, ...)                                                    \
  [&] {                                                                                          \
    switch (dtype) {                                                                             \
      __VA_ARGS__                                                                                \
      default:                                                                                   \
        throw ::hy::NotImplementedError(::hy::str("op '", opname, "' has no CPU kernel for dtype ", \
                                                  ::hy::dtype_name(dtype)));                     \
    }                                                                                            \
  }()
#define HY_DISPATCH_ALL(dtype, opname, F)                                                        \
  HY_DISPATCH_SWITCH(dtype, opname, HY_DTYPE_CASE(Bool, F) HY_DTYPE_CASE(Int32, F)              \
                     HY_DTYPE_CASE(Int64, F) HY_DTYPE_CASE(Float16, F) HY_DTYPE_CASE(BFloat16, F) \
                     HY_DTYPE_CASE(Float32, F) HY_DTYPE_CASE(Float64, F))
/// HY_DISPATCH_ALL plus the complex dtypes: only for kernels that handle std::complex (copies, fills).
#define HY_DISPATCH_ALL_AND_COMPLEX(dtype, opname, F)                                            \
  HY_DISPATCH_SWITCH(dtype, opname, HY_DTYPE_CASE(Bool, F) HY_DTYPE_CASE(Int32, F)              \
                     HY_DTYPE_CASE(Int64, F) HY_DTYPE_CASE(Float16, F) HY_DTYPE_CASE(BFloat16, F) \
                     HY_DTYPE_CASE(Float32, F) HY_DTYPE_CASE(Float64, F)                         \
                     HY_DTYPE_CASE(Complex64, F) HY_DTYPE_CASE(Complex128, F))
#define HY_DISPATCH_COMPLEX(dtype, opname, F) \
  HY_DISPATCH_SWITCH(dtype, opname, HY_DTYPE_CASE(Complex64, F) HY_DTYPE_CASE(Complex128, F))
#define HY_DISPATCH_NUMERIC(dtype, opname, F)                                                    \
  HY_DISPATCH_SWITCH(dtype, opname, HY_DTYPE_CASE(Int32, F) HY_DTYPE_CASE(Int64, F)             \
                     HY_DTYPE_CASE(Float32, F) HY_DTYPE_CASE(Float64, F))
#define HY_DISPATCH_FLOAT(dtype, opname, F) \
  HY_DISPATCH_SWITCH(dtype, opname, HY_DTYPE_CASE(Float32, F) HY_DTYPE_CASE(Float64, F))
