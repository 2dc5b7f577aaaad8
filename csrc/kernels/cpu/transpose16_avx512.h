// An in-register transpose of a 16 x 16 matrix of 32-bit elements (16 AVX-512 vectors), shared by the
// kernels that reshuffle 16 rows at once: the FFT's lane gathers (fft_lane_io.h: floats) and the bf16
// GEMM's packing of transposed operands (gemm_bf16_kernels.cpp: pairs of bf16 as 32-bit words); and
// an 8 x 8 one of 64-bit elements (8 vectors) for the FFT's lane gathers of doubles.
// Only for code compiled with AVX-512F; 64 shuffles for 256 elements, against 16 gathers or scatters.
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 reports false maybe-uninitialized warnings inside its own intrinsics' "undefined" operands once
// they are inlined (as lowp_convert.h notes); silenced for the rest of the including file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace hy::cpu {

/// r[i] becomes column i of the 16 x 16 matrix whose row i was r[i].
inline void transpose16x16_f32(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {  // 2x2 blocks of single elements
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // of pairs
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 16; i += 8)  // of 128-bit lanes, then of 256-bit halves
    for (int j = 0; j < 4; ++j) {
      t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
      t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
  }
}

/// The 64-bit analogue: r[i] becomes column i of the 8 x 8 matrix of doubles whose row i was r[i]
/// (24 shuffles for 64 elements; the FFT's lane gathers of doubles, fft_lane_io.h).
inline void transpose8x8_f64(__m512d r[8]) {
  __m512d t[8];
  for (int i = 0; i < 8; i += 2) {  // 2x2 blocks of single elements
    t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4)  // of 128-bit lanes
    for (int j = 0; j < 2; ++j) {
      r[i + j] = _mm512_shuffle_f64x2(t[i + j], t[i + j + 2], 0x88);
      r[i + j + 2] = _mm512_shuffle_f64x2(t[i + j], t[i + j + 2], 0xdd);
    }
  for (int j = 0; j < 4; ++j) {  // of 256-bit halves: r[j] now holds column j's 128-bit pieces
    t[j] = _mm512_shuffle_f64x2(r[j], r[j + 4], 0x88);
    t[j + 4] = _mm512_shuffle_f64x2(r[j], r[j + 4], 0xdd);
  }
  for (int j = 0; j < 8; ++j) r[j] = t[j];
}

}  // namespace hy::cpu
#endif
