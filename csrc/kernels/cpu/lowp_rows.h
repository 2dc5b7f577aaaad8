// Row functions of the elementwise drivers for float16/bfloat16 tensors (S = Half or BFloat16): the
// row is cut into blocks of kLowpBlock elements, each block widened into a float32 stack buffer
// (lowp_convert.h), computed in float32 and rounded once into the output. No tensor-sized float32
// temporaries, and the conversions are vectorized where the CPU variant allows.
//
//   plan.run([&](char** p, const int64_t* s, int64_t n) {
//     lowp_unary_row<BFloat16>(p, s, n, [&](const float* x, float* y, int64_t m) { ... y[i] = f(x[i]) ... });
//   });
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/dtype.h"
#include "core/half.h"
#include "kernels/cpu/lowp_convert.h"

namespace hy::cpu {

/// buf[0..m) = float(S at p + i * stride): dense spans convert directly, others are gathered first.
/// With `float32` set the operand holds float32 instead of S (a Python number or an integer tensor
/// the driver cast to float32), copied as is.
template <typename S>
inline void lowp_load_block(const char* p, int64_t stride, int64_t m, float* buf, bool float32 = false) {
  if (stride == 0) {  // a broadcast value (x * 1.5): one conversion, then a fill the compiler vectorizes
    float v;
    if (float32) v = *reinterpret_cast<const float*>(p);
    else lowp_widen(reinterpret_cast<const S*>(p), &v, 1);
    std::fill_n(buf, m, v);
    return;
  }
  if (float32) {
    for (int64_t i = 0; i < m; ++i) buf[i] = *reinterpret_cast<const float*>(p + i * stride);
    return;
  }
  if (stride == static_cast<int64_t>(sizeof(S))) return lowp_widen(reinterpret_cast<const S*>(p), buf, m);
  alignas(64) S gathered[kLowpBlock];
  for (int64_t i = 0; i < m; ++i) gathered[i] = *reinterpret_cast<const S*>(p + i * stride);
  lowp_widen(gathered, buf, m);
}

/// S at p + i * stride = round(buf[i]) for i < m.
template <typename S>
inline void lowp_store_block(char* p, int64_t stride, int64_t m, const float* buf) {
  if (stride == static_cast<int64_t>(sizeof(S))) return lowp_narrow(buf, reinterpret_cast<S*>(p), m);
  alignas(64) S rounded[kLowpBlock];
  lowp_narrow(buf, rounded, m);
  for (int64_t i = 0; i < m; ++i) *reinterpret_cast<S*>(p + i * stride) = rounded[i];
}

/// out = block(a) over one row of S (operand 0 the output, 1 the input); `block(x, y, m)` writes
/// y[0..m) from x[0..m) in float32.
template <typename S, typename Block>
inline void lowp_unary_row(char** p, const int64_t* s, int64_t n, const Block& block) {
  alignas(64) float x[kLowpBlock];
  alignas(64) float y[kLowpBlock];
  for (int64_t start = 0; start < n; start += kLowpBlock) {
    const int64_t m = std::min(kLowpBlock, n - start);
    lowp_load_block<S>(p[1] + start * s[1], s[1], m, x);
    block(x, y, m);
    lowp_store_block<S>(p[0] + start * s[0], s[0], m, y);
  }
}

/// out = block(a, b) over one row (operands: out, a, b; a and b of S, or float32 where a_float32 /
/// b_float32 say so). Out is S (rounded once) or bool (comparisons: `block` writes 0/1 as float).
template <typename Out, typename S, typename Block>
inline void lowp_binary_row(char** p, const int64_t* s, int64_t n, const Block& block, bool a_float32 = false,
                            bool b_float32 = false) {
  alignas(64) float x[kLowpBlock];
  alignas(64) float y[kLowpBlock];
  alignas(64) float r[kLowpBlock];
  for (int64_t start = 0; start < n; start += kLowpBlock) {
    const int64_t m = std::min(kLowpBlock, n - start);
    lowp_load_block<S>(p[1] + start * s[1], s[1], m, x, a_float32);
    lowp_load_block<S>(p[2] + start * s[2], s[2], m, y, b_float32);
    block(x, y, r, m);
    char* o = p[0] + start * s[0];
    if constexpr (std::is_same_v<Out, bool>) {
      for (int64_t i = 0; i < m; ++i) *reinterpret_cast<bool*>(o + i * s[0]) = r[i] != 0.0f;
    } else {
      lowp_store_block<Out>(o, s[0], m, r);
    }
  }
}

/// Call run(S{}) with S the storage type of float16/bfloat16 dtype `dt`.
template <typename Run>
inline void visit_lowp_type(DType dt, const Run& run) {
  if (dt == DType::BFloat16) return run(BFloat16{});
  return run(Half{});
}

/// True for the 16-bit float dtypes these rows serve.
inline bool dtype_is_lowp_float(DType dt) { return dt == DType::Float16 || dt == DType::BFloat16; }

}  // namespace hy::cpu
