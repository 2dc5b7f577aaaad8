// Moving kLanes signals between memory and a lane-interleaved FFT block (fft_lanes.h): the gathers and
// scatters around every power-of-two transform in fft.cpp.
//
// Each lane is a sequence of (a, b) pairs in memory — a complex number, or two neighbouring real samples
// of a real row (the half-length trick) — `stride` values apart; the block holds point k of lane l at
// re[k * kLanes + l] (the pair's a) and im[k * kLanes + l] (its b). Three ways, fastest first:
//   * rows (stride 2, all kLanes lanes): 8 points of 16 rows are one 16x16 tile of floats (4 points of
//     16 rows two 8x8 tiles of doubles), moved with in-register transposes (AVX-512 builds) — the scalar
//     loop took about as long as the transform's butterflies;
//   * neighbouring columns (lane l = lane 0 + l pairs): point k of all lanes is 2*kLanes contiguous
//     values, de-interleaved by two-source permutes (AVX-512 builds; elsewhere a loop the compiler
//     vectorizes);
//   * anything else: a scalar loop, a few points of one lane at a time (cache-line friendly).
// Every way moves the same values, so results never depend on which one ran.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns that the intrinsics' internal "undefined" operands may be uninitialized (a false
// positive; lowp_convert.h and softmax.cpp silence it the same way). It stays silenced for the rest of
// the file that includes this header (fft.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/cpu/fft_lanes.h"
#include "kernels/cpu/transpose16_avx512.h"

namespace hy::kernels::cpu::fft_lanes {

// Where the lanes of one block live: lane l's point k is at base[l][k * stride] (a) and
// base[l][k * stride + 1] (b); only the first `width` lanes exist.
template <typename T>
struct PairLanes {
  T* base[kLanes] = {};
  int64_t width = 0;
  int64_t stride = 2;

  PairLanes<const T> reading() const {  // the same lanes, to gather from
    PairLanes<const T> r;
    std::copy(base, base + kLanes, r.base);
    r.width = width;
    r.stride = stride;
    return r;
  }

  bool neighbouring() const {  // lane l starts l pairs after lane 0
    if (width != kLanes) return false;
    for (int64_t l = 1; l < kLanes; ++l)
      if (base[l] != base[0] + 2 * l) return false;
    return true;
  }
};

namespace lane_io_detail {

// Points moved per lane before the next lane in the scalar loop: point-major order (one point of each
// of 16 rows in turn) maps 16 rows of a power-of-two length to the same cache set, which evicts each
// line before its next point is used (the row gathers took 2x longer that way).
constexpr int64_t kChunk = 8;

#if defined(__AVX512F__)
using hy::cpu::transpose16x16_f32;

// Rows of floats, all 16 lanes, points [0, whole): 8 points (16 floats of each row) per tile. Row l of
// a tile is [a0 b0 a1 b1 ... a7 b7]; after the transpose vector 2j holds a_j of every lane, 2j+1 b_j.
inline int64_t gather_row_tiles(const PairLanes<const float>& L, int64_t points, float* re, float* im) {
  const int64_t whole = points / 8 * 8;
  __m512 r[16];
  for (int64_t k0 = 0; k0 < whole; k0 += 8) {
    for (int l = 0; l < 16; ++l) r[l] = _mm512_loadu_ps(L.base[l] + 2 * k0);
    transpose16x16_f32(r);
    for (int j = 0; j < 8; ++j) {
      _mm512_storeu_ps(re + (k0 + j) * kLanes, r[2 * j]);
      _mm512_storeu_ps(im + (k0 + j) * kLanes, r[2 * j + 1]);
    }
  }
  return whole;
}

inline int64_t scatter_row_tiles(const float* re, const float* im, int64_t points, float scale,
                                 const PairLanes<float>& L) {
  const int64_t whole = points / 8 * 8;
  const __m512 s = _mm512_set1_ps(scale);
  __m512 r[16];
  for (int64_t k0 = 0; k0 < whole; k0 += 8) {
    for (int j = 0; j < 8; ++j) {
      r[2 * j] = _mm512_mul_ps(_mm512_loadu_ps(re + (k0 + j) * kLanes), s);
      r[2 * j + 1] = _mm512_mul_ps(_mm512_loadu_ps(im + (k0 + j) * kLanes), s);
    }
    transpose16x16_f32(r);
    for (int l = 0; l < 16; ++l) _mm512_storeu_ps(L.base[l] + 2 * k0, r[l]);
  }
  return whole;
}

// Neighbouring lanes of floats: point k of the 16 lanes is 32 contiguous floats [a0 b0 ... a15 b15],
// two vectors de-interleaved (or interleaved back) by two-source permutes.
inline void gather_neighbours(const PairLanes<const float>& L, int64_t points, float* re, float* im) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int64_t k = 0; k < points; ++k) {
    const float* src = L.base[0] + k * L.stride;
    const __m512 lo = _mm512_loadu_ps(src), hi = _mm512_loadu_ps(src + 16);
    _mm512_storeu_ps(re + k * kLanes, _mm512_permutex2var_ps(lo, even, hi));
    _mm512_storeu_ps(im + k * kLanes, _mm512_permutex2var_ps(lo, odd, hi));
  }
}

inline void scatter_neighbours(const float* re, const float* im, int64_t points, float scale,
                               const PairLanes<float>& L) {
  const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 s = _mm512_set1_ps(scale);
  for (int64_t k = 0; k < points; ++k) {
    const __m512 a = _mm512_mul_ps(_mm512_loadu_ps(re + k * kLanes), s);
    const __m512 b = _mm512_mul_ps(_mm512_loadu_ps(im + k * kLanes), s);
    float* dst = L.base[0] + k * L.stride;
    _mm512_storeu_ps(dst, _mm512_permutex2var_ps(a, first, b));
    _mm512_storeu_ps(dst + 16, _mm512_permutex2var_ps(a, second, b));
  }
}

// Rows of doubles, all 16 lanes, points [0, whole): 4 points (8 doubles of each row) per step, as two
// 8x8 tiles (lanes 0-7 and 8-15). Row l of a tile is [a0 b0 a1 b1 a2 b2 a3 b3]; after the transpose
// vector 2j holds a_j of the tile's 8 lanes, 2j+1 b_j.
using hy::cpu::transpose8x8_f64;

inline int64_t gather_row_tiles(const PairLanes<const double>& L, int64_t points, double* re, double* im) {
  const int64_t whole = points / 4 * 4;
  __m512d r[8];
  for (int64_t k0 = 0; k0 < whole; k0 += 4)
    for (int half = 0; half < 2; ++half) {
      for (int l = 0; l < 8; ++l) r[l] = _mm512_loadu_pd(L.base[8 * half + l] + 2 * k0);
      transpose8x8_f64(r);
      for (int j = 0; j < 4; ++j) {
        _mm512_storeu_pd(re + (k0 + j) * kLanes + 8 * half, r[2 * j]);
        _mm512_storeu_pd(im + (k0 + j) * kLanes + 8 * half, r[2 * j + 1]);
      }
    }
  return whole;
}

inline int64_t scatter_row_tiles(const double* re, const double* im, int64_t points, double scale,
                                 const PairLanes<double>& L) {
  const int64_t whole = points / 4 * 4;
  const __m512d s = _mm512_set1_pd(scale);
  __m512d r[8];
  for (int64_t k0 = 0; k0 < whole; k0 += 4)
    for (int half = 0; half < 2; ++half) {
      for (int j = 0; j < 4; ++j) {
        r[2 * j] = _mm512_mul_pd(_mm512_loadu_pd(re + (k0 + j) * kLanes + 8 * half), s);
        r[2 * j + 1] = _mm512_mul_pd(_mm512_loadu_pd(im + (k0 + j) * kLanes + 8 * half), s);
      }
      transpose8x8_f64(r);
      for (int l = 0; l < 8; ++l) _mm512_storeu_pd(L.base[8 * half + l] + 2 * k0, r[l]);
    }
  return whole;
}

// Neighbouring lanes of doubles: point k of the 16 lanes is 32 contiguous doubles, four vectors; each
// pair of them (8 lanes) de-interleaved (or interleaved back) by two-source permutes.
inline void gather_neighbours(const PairLanes<const double>& L, int64_t points, double* re, double* im) {
  const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
  for (int64_t k = 0; k < points; ++k) {
    const double* src = L.base[0] + k * L.stride;
    for (int half = 0; half < 2; ++half) {
      const __m512d lo = _mm512_loadu_pd(src + 16 * half), hi = _mm512_loadu_pd(src + 16 * half + 8);
      _mm512_storeu_pd(re + k * kLanes + 8 * half, _mm512_permutex2var_pd(lo, even, hi));
      _mm512_storeu_pd(im + k * kLanes + 8 * half, _mm512_permutex2var_pd(lo, odd, hi));
    }
  }
}

inline void scatter_neighbours(const double* re, const double* im, int64_t points, double scale,
                               const PairLanes<double>& L) {
  const __m512i first = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
  const __m512i second = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
  const __m512d s = _mm512_set1_pd(scale);
  for (int64_t k = 0; k < points; ++k) {
    double* dst = L.base[0] + k * L.stride;
    for (int half = 0; half < 2; ++half) {
      const __m512d a = _mm512_mul_pd(_mm512_loadu_pd(re + k * kLanes + 8 * half), s);
      const __m512d b = _mm512_mul_pd(_mm512_loadu_pd(im + k * kLanes + 8 * half), s);
      _mm512_storeu_pd(dst + 16 * half, _mm512_permutex2var_pd(a, first, b));
      _mm512_storeu_pd(dst + 16 * half + 8, _mm512_permutex2var_pd(a, second, b));
    }
  }
}

// The types with a vector path above.
template <typename T>
constexpr bool kVectorLaneIo = std::is_same_v<T, float> || std::is_same_v<T, double>;
#endif

template <typename T>
int64_t gather_fast(const PairLanes<const T>& L, int64_t points, T* re, T* im) {
#if defined(__AVX512F__)
  if constexpr (kVectorLaneIo<T>)
    if (L.width == kLanes && L.stride == 2) return gather_row_tiles(L, points, re, im);
#endif
  if (L.neighbouring()) {
#if defined(__AVX512F__)
    if constexpr (kVectorLaneIo<T>) {
      gather_neighbours(L, points, re, im);
      return points;
    }
#endif
    for (int64_t k = 0; k < points; ++k) {
      const T* src = L.base[0] + k * L.stride;
      T* a = re + k * kLanes;
      T* b = im + k * kLanes;
#pragma GCC ivdep
      for (int64_t l = 0; l < kLanes; ++l) {
        a[l] = src[2 * l];
        b[l] = src[2 * l + 1];
      }
    }
    return points;
  }
  return 0;
}

template <typename T>
int64_t scatter_fast(const T* re, const T* im, int64_t points, T scale, const PairLanes<T>& L) {
#if defined(__AVX512F__)
  if constexpr (kVectorLaneIo<T>)
    if (L.width == kLanes && L.stride == 2) return scatter_row_tiles(re, im, points, scale, L);
#endif
  if (L.neighbouring()) {
#if defined(__AVX512F__)
    if constexpr (kVectorLaneIo<T>) {
      scatter_neighbours(re, im, points, scale, L);
      return points;
    }
#endif
    for (int64_t k = 0; k < points; ++k) {
      T* dst = L.base[0] + k * L.stride;
      const T* a = re + k * kLanes;
      const T* b = im + k * kLanes;
#pragma GCC ivdep
      for (int64_t l = 0; l < kLanes; ++l) {
        dst[2 * l] = a[l] * scale;
        dst[2 * l + 1] = b[l] * scale;
      }
    }
    return points;
  }
  return 0;
}

}  // namespace lane_io_detail

// The four arrays one task transforms in (a block's re and im, and their scratch), cut from one
// allocation. A radix-8 pass reads 8 points len/8 apart: a power of two of bytes, so in arrays that all
// start at the same offset within a 4 KiB page (large mallocs are page-aligned) the 8 re and 8 im
// streams, and the outputs, compete for the same L1 set and evict each other's prefetched lines. Each
// array here starts at least 128 bytes further into the page than the previous one (a 64-byte
// boundary, array sizes rounded up to one, plus 128 bytes of skew).
template <typename T>
class LaneArrays {
 public:
  explicit LaneArrays(size_t values) : stride_(round_up(values) + kSkew), buf_(4 * stride_ + kAlign) {
    const auto addr = reinterpret_cast<uintptr_t>(buf_.data());
    first_ = buf_.data() + (kAlignBytes - addr % kAlignBytes) % kAlignBytes / sizeof(T);
  }
  T* operator[](int i) { return first_ + static_cast<size_t>(i) * stride_; }

 private:
  static constexpr size_t kAlignBytes = 64, kAlign = kAlignBytes / sizeof(T), kSkew = 128 / sizeof(T);
  static size_t round_up(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }
  size_t stride_;
  std::vector<T> buf_;
  T* first_ = nullptr;
};

// re/im[k * kLanes + l] = lane l's pair k, for k < points and l < L.width (other lanes untouched).
template <typename T>
void gather_pairs(const PairLanes<const T>& L, int64_t points, T* re, T* im) {
  const int64_t done = lane_io_detail::gather_fast(L, points, re, im);
  for (int64_t k0 = done; k0 < points; k0 += lane_io_detail::kChunk) {
    const int64_t k1 = std::min(points, k0 + lane_io_detail::kChunk);
    for (int64_t l = 0; l < L.width; ++l)
      for (int64_t k = k0; k < k1; ++k) {
        re[k * kLanes + l] = L.base[l][k * L.stride];
        im[k * kLanes + l] = L.base[l][k * L.stride + 1];
      }
  }
}

// Lane l's pair k = (re, im)[k * kLanes + l] * scale, for k < points and l < L.width.
template <typename T>
void scatter_pairs(const T* re, const T* im, int64_t points, T scale, const PairLanes<T>& L) {
  const int64_t done = lane_io_detail::scatter_fast(re, im, points, scale, L);
  for (int64_t k0 = done; k0 < points; k0 += lane_io_detail::kChunk) {
    const int64_t k1 = std::min(points, k0 + lane_io_detail::kChunk);
    for (int64_t l = 0; l < L.width; ++l)
      for (int64_t k = k0; k < k1; ++k) {
        L.base[l][k * L.stride] = re[k * kLanes + l] * scale;
        L.base[l][k * L.stride + 1] = im[k * kLanes + l] * scale;
      }
  }
}

}  // namespace hy::kernels::cpu::fft_lanes
