#include "core/dtype.h"

#include <atomic>

#include "core/error.h"

namespace hy {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Complex64: return "complex64";
    case DType::Complex128: return "complex128";
  }
  return "?";
}

int64_t dtype_itemsize(DType t) {
  switch (t) {
    case DType::Bool: return 1;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::Float16: return 2;
    case DType::BFloat16: return 2;
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Complex64: return 8;
    case DType::Complex128: return 16;
  }
  return 0;
}

DType dtype_from_name(const std::string& n) {
  if (n == "bool" || n == "?" || n == "b1") return DType::Bool;
  if (n == "int32" || n == "i4" || n == "int") return DType::Int32;
  if (n == "int64" || n == "i8" || n == "long") return DType::Int64;
  if (n == "float16" || n == "f2" || n == "half") return DType::Float16;
  if (n == "bfloat16") return DType::BFloat16;
  if (n == "float32" || n == "f4" || n == "float") return DType::Float32;
  if (n == "float64" || n == "f8" || n == "double") return DType::Float64;
  if (n == "complex64" || n == "c8" || n == "cfloat") return DType::Complex64;
  if (n == "complex128" || n == "c16" || n == "cdouble") return DType::Complex128;
  throw TypeError(str("unsupported dtype '", n,
                      "'; hyflow supports bool, int32, int64, float16, bfloat16, float32, float64, "
                      "complex64, complex128"));
}

DType dtype_complex_part(DType t) {
  if (t == DType::Complex64) return DType::Float32;
  if (t == DType::Complex128) return DType::Float64;
  return t;
}

DType dtype_to_complex(DType t) {
  if (dtype_is_complex(t)) return t;
  return t == DType::Float64 ? DType::Complex128 : DType::Complex64;
}

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::Bool) return b;
  if (b == DType::Bool) return a;
  if (dtype_is_complex(a) || dtype_is_complex(b)) {
    // torch: the complex dtype wide enough for both parts (float64 + complex64 -> complex128).
    DType pa = dtype_complex_part(a), pb = dtype_complex_part(b);
    DType part = dtype_is_floating(pa) && dtype_is_floating(pb) ? promote_types(pa, pb)
                 : dtype_is_floating(pa) ? pa : pb;
    return dtype_to_complex(part);
  }
  bool fa = dtype_is_floating(a), fb = dtype_is_floating(b);
  if (fa != fb) return fa ? a : b;  // int with float -> the float
  if (!fa) return DType::Int64;     // int32 with int64
  // Two different floats: the wider one; float16 with bfloat16 meet at float32 (neither holds the other).
  if ((a == DType::Float16 && b == DType::BFloat16) || (a == DType::BFloat16 && b == DType::Float16))
    return DType::Float32;
  return dtype_itemsize(a) >= dtype_itemsize(b) ? a : b;
}

namespace {
// Global, not thread-local, as torch's: a worker thread of a workflow or a DataLoader sees what the main
// thread set. Relaxed is enough: the value is one byte with no other memory published along with it.
std::atomic<DType> g_default_float{DType::Float32};
}  // namespace

DType default_float_dtype() { return g_default_float.load(std::memory_order_relaxed); }

void set_default_float_dtype(DType t) {
  HY_CHECK(dtype_is_floating(t), TypeError, "set_default_dtype(): only floating-point types are supported as the "
           "default type (float16, bfloat16, float32, float64), got ", dtype_name(t));
  g_default_float.store(t, std::memory_order_relaxed);
}

DType default_complex_dtype() { return default_float_dtype() == DType::Float64 ? DType::Complex128 : DType::Complex64; }

DType to_floating(DType t, DType default_float) {
  return dtype_is_floating(t) || dtype_is_complex(t) ? t : default_float;
}

}  // namespace hy
