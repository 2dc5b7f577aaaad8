// Vectorized conversion of float16/bfloat16 spans to and from float32: the one place low-precision
// kernels widen their inputs and round their results (round-to-nearest-even, NaN stays NaN, inf stays
// inf, subnormals kept), so every elementwise and reduction kernel rounds exactly like Half/BFloat16's
// scalar from_float (core/half.h), which the tests check bit for bit against NumPy and PyTorch.
//
//   float buf[kLowpBlock];
//   lowp_widen(src, buf, n);                      // BFloat16/Half -> float32, exact
//   for (...) buf[i] = f(buf[i]);
//   lowp_narrow(buf, dst, n);                     // float32 -> BFloat16/Half, rounded once
//
// What runs depends on the CPU variant this file is compiled into (docs/design.md, "CPU variants"), so
// HYFLOW_CPU_CAPABILITY caps it like every other hot kernel:
//   * bfloat16 -> float32 is a 16-bit shift: a plain loop the compiler vectorizes at any level.
//   * float32 -> bfloat16: the avx512 variant uses AVX512-BF16's VCVTNE2PS2BF16 when the CPU has it
//     (checked once at run time; the instruction is outside x86-64-v4, so it is compiled with a target
//     attribute). The instruction treats float32 subnormal inputs as zero, so a block holding one takes
//     the integer path below instead. Elsewhere, the integer round-to-nearest-even of
//     BFloat16::from_float written without branches, which the compiler vectorizes.
//   * float16 <-> float32: F16C's VCVTPH2PS/VCVTPS2PH (avx2 and avx512 variants; x86-64-v3 includes
//     F16C), else Half's scalar conversion per element (the baseline).
#pragma once
#include <cstdint>

#include "core/half.h"

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
// GCC 12 reports false (maybe-)uninitialized warnings inside its own AVX-512 intrinsics
// (_mm512_undefined_*) once they are inlined into a kernel, as unary_float.cpp notes; this silences them
// for the avx512 variant's files that include this header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace hy::cpu {

/// Elements a low-precision kernel widens into a stack buffer at a time (1 KiB of float32). Small blocks
/// keep the widened operands and the result in L1 between passes: a bf16 add over 4M elements measured
/// 0.72 ms with 256, 0.85 with 512, 0.93 with 2,048 (one fused per-element loop: 0.66; for float16,
/// whose scalar conversion does not vectorize, 11.6 ms).
constexpr int64_t kLowpBlock = 256;

namespace lowp_detail {

/// BFloat16::from_float without branches (the compiler vectorizes the loop calling it).
inline uint16_t bf16_round_bits(uint32_t x) {
  const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (x >> 16) | 0x40u;
  return static_cast<uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

// The bits are read with memcpy (detail::f32_bits), not through a uint32_t pointer: that would break
// strict aliasing, and GCC then assumes the float stores of the kernel's buffer never reach the loads.
inline void narrow_bf16_portable(const float* src, BFloat16* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i].bits = bf16_round_bits(detail::f32_bits(src[i]));
}

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__)
#define HYFLOW_LOWP_HAS_AVX512_BF16_PATH 1
// The CPU check costs a CPUID once per process; the avx512 variant is loaded only where the OS saves
// the ZMM state, so the instruction is safe to run whenever the CPU reports it.
inline bool cpu_has_avx512_bf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}

__attribute__((target("avx512bf16"))) inline void narrow_bf16_avx512bf16(const float* src, BFloat16* dst,
                                                                         int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 lo = _mm512_loadu_ps(src + i);
    const __m512 hi = _mm512_loadu_ps(src + i + 16);
    // fpclass 0x20: subnormal lanes, which the instruction would flush to zero (rare in practice).
    if (_mm512_fpclass_ps_mask(lo, 0x20) | _mm512_fpclass_ps_mask(hi, 0x20)) {
      narrow_bf16_portable(src + i, dst + i, 32);
      continue;
    }
    const __m512bh packed = _mm512_cvtne2ps_pbh(hi, lo);
    _mm512_storeu_si512(reinterpret_cast<void*>(dst + i), reinterpret_cast<__m512i>(packed));
  }
  narrow_bf16_portable(src + i, dst + i, n - i);
}
#endif

}  // namespace lowp_detail

/// dst[i] = float(src[i]) for n bfloat16 values (exact).
inline void lowp_widen(const BFloat16* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = detail::bits_f32(static_cast<uint32_t>(src[i].bits) << 16);
}

/// A float32 -> bfloat16 narrow (same results as narrow_bf16_portable) that the avx512 CPU variant installs
/// when it loads on a CPU with AVX512-BF16 (variant_entry.cpp), so that code compiled for the baseline
/// ISA — the core's casts and copies, autocast's casts of every weight and input — runs the instruction
/// too: a 512 x 784 cast took 111 us there against 44 for torch. Null until then (lowp_convert.cpp).
using NarrowBf16Fn = void (*)(const float* src, BFloat16* dst, int64_t n);
void install_bf16_narrow(NarrowBf16Fn fn);
NarrowBf16Fn installed_bf16_narrow();

/// dst[i] = bfloat16(src[i]) for n values, round-to-nearest-even.
inline void lowp_narrow(const float* src, BFloat16* dst, int64_t n) {
#ifdef HYFLOW_LOWP_HAS_AVX512_BF16_PATH
  if (lowp_detail::cpu_has_avx512_bf16()) return lowp_detail::narrow_bf16_avx512bf16(src, dst, n);
#else
  if (NarrowBf16Fn fn = installed_bf16_narrow()) return fn(src, dst, n);
#endif
  lowp_detail::narrow_bf16_portable(src, dst, n);
}

/// dst[i] = float(src[i]) for n float16 values (exact).
inline void lowp_widen(const Half* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
#elif defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
  for (; i < n; ++i) dst[i] = Half::to_float(src[i].bits);
}

/// dst[i] = float16(src[i]) for n values, round-to-nearest-even (overflow to inf, subnormals kept).
inline void lowp_narrow(const float* src, Half* dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__) || defined(__AVX512F__)
  constexpr int kRne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
#endif
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), kRne));
#elif defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), kRne));
#endif
  for (; i < n; ++i) dst[i].bits = Half::from_float(src[i]);
}

}  // namespace hy::cpu
