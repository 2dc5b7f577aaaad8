// Power-of-two FFTs on blocks of kLanes signals at once: hyflow's own kernels for the sizes that matter
// for speed (docs/design.md, "Library choices", says why; other sizes stay on Eigen's kissfft).
//
// A block holds kLanes signals of n points "lane-interleaved" and split into real and imaginary arrays:
// point k of lane l is re[k * kLanes + l], im[k * kLanes + l]. Every butterfly then works on kLanes
// neighbouring numbers with the same twiddle, so the innermost loops are plain contiguous loops the
// compiler vectorizes (one AVX-512 register of floats per point), whatever n is, and column transforms
// of a 2-D array need no transposed copy: a block is kLanes neighbouring columns.
//
// The transform is radix-8 (AVX-512 builds) and radix-4 Stockham passes (self-sorting: natural order in
// and out, no bit reversal) with one radix-2 pass when needed, ping-ponging between the data and a
// scratch block. Real transforms use the half-length trick: n real points are n/2 complex ones
// (even + i*odd), transformed and then split with one twiddle pass. Each lane's arithmetic is the same
// whichever block or thread runs it, so results do not depend on the thread count.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace hy::kernels::cpu::fft_lanes {

// 16 lanes: one 64-byte vector of floats (two of doubles) per point.
constexpr int64_t kLanes = 16;

// Radix-8 passes keep 16 complex lane-vectors live: AVX-512's 32 registers hold them, and the fewer passes
// over the block made a 1024-2048-point block 1.2-1.3x faster (measured here, -march=x86-64-v4); with the
// 16 registers of AVX2 or SSE they spill and radix-4 is faster, so those builds keep radix-4 only.
#if defined(__AVX512F__)
constexpr bool kRadix8 = true;
#else
constexpr bool kRadix8 = false;
#endif

inline bool is_power_of_two(int64_t n) { return n >= 1 && (n & (n - 1)) == 0; }

// The n roots e^{-2 pi i j/n}, computed in double (accuracy) and stored as T. A table for n also
// serves every power-of-two length dividing n (take every (n/len)-th root).
template <typename T>
struct Roots {
  int64_t n;
  std::vector<T> cos, sin;  // cos(2 pi j/n), -sin(2 pi j/n)
  explicit Roots(int64_t n_) : n(n_), cos(static_cast<size_t>(n_)), sin(static_cast<size_t>(n_)) {
    const double step = -2.0 * M_PI / static_cast<double>(n_);
    for (int64_t j = 0; j < n_; ++j) {
      cos[static_cast<size_t>(j)] = static_cast<T>(std::cos(step * static_cast<double>(j)));
      sin[static_cast<size_t>(j)] = static_cast<T>(std::sin(step * static_cast<double>(j)));
    }
  }
};

// The roots for n, computed once per (n, T) and kept: only powers of two come here, so the cache holds at
// most one table per bit width and dtype. Read-only once built, so blocks on any thread share it.
template <typename T>
std::shared_ptr<const Roots<T>> cached_roots(int64_t n) {
  static std::mutex mutex;
  static std::map<int64_t, std::shared_ptr<const Roots<T>>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[n];
  if (!slot) slot = std::make_shared<const Roots<T>>(n);
  return slot;
}

namespace detail {

// One radix-4 pass: `s` interleaved sub-transforms of length len (4 | len) become 4s of length len/4.
// Input point q + s*(p + t*len/4), output q + s*(4p + r) (q < s, p < len/4; each index times kLanes).
template <typename T, bool Forward>
void radix4_pass(const Roots<T>& roots, int64_t len, int64_t s, const T* xr, const T* xi, T* yr, T* yi) {
  const int64_t q4 = len / 4, block = s * kLanes, quarter = q4 * block, ts = roots.n / len;
  for (int64_t p = 0; p < q4; ++p) {
    const T w1r = roots.cos[static_cast<size_t>(p * ts)], w2r = roots.cos[static_cast<size_t>(2 * p * ts)],
            w3r = roots.cos[static_cast<size_t>(3 * p * ts)];
    // The inverse transform uses the conjugate roots.
    const T w1i = Forward ? roots.sin[static_cast<size_t>(p * ts)] : -roots.sin[static_cast<size_t>(p * ts)];
    const T w2i = Forward ? roots.sin[static_cast<size_t>(2 * p * ts)] : -roots.sin[static_cast<size_t>(2 * p * ts)];
    const T w3i = Forward ? roots.sin[static_cast<size_t>(3 * p * ts)] : -roots.sin[static_cast<size_t>(3 * p * ts)];
    const T* ar = xr + p * block;
    const T* ai = xi + p * block;
    T* or_ = yr + 4 * p * block;
    T* oi = yi + 4 * p * block;
    // s groups of kLanes (a compile-time count: whole vectors, no remainder loop)
    for (int64_t g = 0; g < block; g += kLanes)
#pragma GCC ivdep
    for (int64_t i = g; i < g + kLanes; ++i) {
      const T a_r = ar[i], a_i = ai[i], b_r = ar[i + quarter], b_i = ai[i + quarter];
      const T c_r = ar[i + 2 * quarter], c_i = ai[i + 2 * quarter];
      const T d_r = ar[i + 3 * quarter], d_i = ai[i + 3 * quarter];
      const T apc_r = a_r + c_r, apc_i = a_i + c_i, amc_r = a_r - c_r, amc_i = a_i - c_i;
      const T bpd_r = b_r + d_r, bpd_i = b_i + d_i, bmd_r = b_r - d_r, bmd_i = b_i - d_i;
      // j = -i*(b-d) forward, +i*(b-d) inverse
      const T j_r = Forward ? bmd_i : -bmd_i, j_i = Forward ? -bmd_r : bmd_r;
      const T u1r = amc_r + j_r, u1i = amc_i + j_i, u2r = apc_r - bpd_r, u2i = apc_i - bpd_i;
      const T u3r = amc_r - j_r, u3i = amc_i - j_i;
      or_[i] = apc_r + bpd_r;
      oi[i] = apc_i + bpd_i;
      or_[i + block] = w1r * u1r - w1i * u1i;
      oi[i + block] = w1r * u1i + w1i * u1r;
      or_[i + 2 * block] = w2r * u2r - w2i * u2i;
      oi[i + 2 * block] = w2r * u2i + w2i * u2r;
      or_[i + 3 * block] = w3r * u3r - w3i * u3i;
      oi[i + 3 * block] = w3r * u3i + w3i * u3r;
    }
  }
}

// One radix-8 pass: `s` sub-transforms of length len (8 | len) become 8s of length len/8 (fewer passes
// over the block than radix-4: each pass streams the whole block through the cache). The 8-point DFT
// is two 4-point ones: of a_t = x_t + x_{t+4} (even outputs) and of b_t = (x_t - x_{t+4}) w8^t (odd).
template <typename T, bool Forward>
void radix8_pass(const Roots<T>& roots, int64_t len, int64_t s, const T* xr, const T* xi, T* yr, T* yi) {
  const int64_t q8 = len / 8, block = s * kLanes, eighth = q8 * block, ts = roots.n / len;
  const T h = T(0.70710678118654752440L);
  for (int64_t p = 0; p < q8; ++p) {
    T wr[8], wi[8];
    for (int r = 1; r < 8; ++r) {
      wr[r] = roots.cos[static_cast<size_t>(p * r * ts)];
      wi[r] = Forward ? roots.sin[static_cast<size_t>(p * r * ts)] : -roots.sin[static_cast<size_t>(p * r * ts)];
    }
    const T* ar = xr + p * block;
    const T* ai = xi + p * block;
    T* or_ = yr + 8 * p * block;
    T* oi = yi + 8 * p * block;
    for (int64_t g = 0; g < block; g += kLanes)
#pragma GCC ivdep
    for (int64_t i = g; i < g + kLanes; ++i) {
      T a_r[4], a_i[4], b_r[4], b_i[4];
      for (int t = 0; t < 4; ++t) {
        const T u_r = ar[i + t * eighth], u_i = ai[i + t * eighth];
        const T v_r = ar[i + (t + 4) * eighth], v_i = ai[i + (t + 4) * eighth];
        a_r[t] = u_r + v_r;
        a_i[t] = u_i + v_i;
        b_r[t] = u_r - v_r;
        b_i[t] = u_i - v_i;
      }
      {  // b_t *= w8^t: w8 = (1 -+ i)/sqrt2, w8^2 = -+i, w8^3 = (-1 -+ i)/sqrt2 (forward/inverse)
        const T r1 = b_r[1], i1 = b_i[1], r2 = b_r[2], i2 = b_i[2], r3 = b_r[3], i3 = b_i[3];
        b_r[1] = Forward ? (r1 + i1) * h : (r1 - i1) * h;
        b_i[1] = Forward ? (i1 - r1) * h : (i1 + r1) * h;
        b_r[2] = Forward ? i2 : -i2;
        b_i[2] = Forward ? -r2 : r2;
        b_r[3] = Forward ? (i3 - r3) * h : -(r3 + i3) * h;
        b_i[3] = Forward ? -(r3 + i3) * h : (r3 - i3) * h;
      }
      T y_r[8], y_i[8];
      for (int odd = 0; odd < 2; ++odd) {  // 4-point DFTs: outputs odd, odd+2, odd+4, odd+6
        const T* v_r = odd ? b_r : a_r;
        const T* v_i = odd ? b_i : a_i;
        const T s02r = v_r[0] + v_r[2], s02i = v_i[0] + v_i[2], d02r = v_r[0] - v_r[2], d02i = v_i[0] - v_i[2];
        const T s13r = v_r[1] + v_r[3], s13i = v_i[1] + v_i[3], d13r = v_r[1] - v_r[3], d13i = v_i[1] - v_i[3];
        const T j_r = Forward ? d13i : -d13i, j_i = Forward ? -d13r : d13r;  // -+i (v1 - v3)
        y_r[odd] = s02r + s13r;
        y_i[odd] = s02i + s13i;
        y_r[odd + 2] = d02r + j_r;
        y_i[odd + 2] = d02i + j_i;
        y_r[odd + 4] = s02r - s13r;
        y_i[odd + 4] = s02i - s13i;
        y_r[odd + 6] = d02r - j_r;
        y_i[odd + 6] = d02i - j_i;
      }
      or_[i] = y_r[0];
      oi[i] = y_i[0];
      for (int r = 1; r < 8; ++r) {
        or_[i + r * block] = wr[r] * y_r[r] - wi[r] * y_i[r];
        oi[i + r * block] = wr[r] * y_i[r] + wi[r] * y_r[r];
      }
    }
  }
}

// The last pass when log2(len) is odd: s sub-transforms of length 2.
template <typename T>
void radix2_pass(int64_t s, const T* xr, const T* xi, T* yr, T* yi) {
  const int64_t block = s * kLanes;
  for (int64_t g = 0; g < block; g += kLanes)
#pragma GCC ivdep
  for (int64_t i = g; i < g + kLanes; ++i) {
    const T a_r = xr[i], a_i = xi[i], b_r = xr[i + block], b_i = xi[i + block];
    yr[i] = a_r + b_r;
    yi[i] = a_i + b_i;
    yr[i + block] = a_r - b_r;
    yi[i + block] = a_i - b_i;
  }
}

// Where a transform's result ended up: the data arrays or the scratch ones (the passes ping-pong).
template <typename T>
struct Result {
  T* re;
  T* im;
};

template <typename T, bool Forward>
Result<T> c2c_impl(const Roots<T>& roots, int64_t n, T* re, T* im, T* scratch_re, T* scratch_im) {
  T *xr = re, *xi = im, *yr = scratch_re, *yi = scratch_im;
  int64_t len = n, s = 1;
  if constexpr (kRadix8) {
    for (; len >= 8; len /= 8, s *= 8) {
      radix8_pass<T, Forward>(roots, len, s, xr, xi, yr, yi);
      std::swap(xr, yr);
      std::swap(xi, yi);
    }
  }
  for (; len >= 4; len /= 4, s *= 4) {
    radix4_pass<T, Forward>(roots, len, s, xr, xi, yr, yi);
    std::swap(xr, yr);
    std::swap(xi, yi);
  }
  if (len == 2) {
    radix2_pass<T>(s, xr, xi, yr, yi);
    std::swap(xr, yr);
    std::swap(xi, yi);
  }
  return {xr, xi};
}

}  // namespace detail

// Unscaled complex transform of a block of n points (n a power of two dividing roots.n) held in re/im,
// with scratch_re/scratch_im (n * kLanes values each) to ping-pong with; returns which pair holds the
// result (no copy back: the caller reads it where it is).
template <typename T>
detail::Result<T> c2c(const Roots<T>& roots, int64_t n, bool forward, T* re, T* im, T* scratch_re, T* scratch_im) {
  if (forward) return detail::c2c_impl<T, true>(roots, n, re, im, scratch_re, scratch_im);
  return detail::c2c_impl<T, false>(roots, n, re, im, scratch_re, scratch_im);
}

// Forward real transform, second half, in place: re/im hold Z, the transform of z[k] = x[2k] + i x[2k+1]
// (h = n/2 points), and room for one more point; they end up holding the bins X[0..h].
// X[k] = (Z[k] + conj Z[h-k])/2 - i w^k (Z[k] - conj Z[h-k])/2, w = e^{-2 pi i/n}, Z index mod h: X[k]
// and X[h-k] read the same two points, so each pair (k, h-k) is computed before either is overwritten.
template <typename T>
void r2c_split(const Roots<T>& roots_n, int64_t n, T* re, T* im) {
  const int64_t h = n / 2, ts = roots_n.n / n;
  // k = 0 and k = h: X = Re Z[0] +- Im Z[0], real.
  for (int64_t l = 0; l < kLanes; ++l) {
    const T z_r = re[l], z_i = im[l];
    re[l] = z_r + z_i;
    im[l] = T(0);
    re[h * kLanes + l] = z_r - z_i;
    im[h * kLanes + l] = T(0);
  }
  // One bin from Z[k] (zr, zi) and Z[h-k] (cr, ci).
  auto bin = [](T wr, T wi, T zr, T zi, T cr, T ci, T& xr, T& xi) {
    const T er = T(0.5) * (zr + cr), ei = T(0.5) * (zi - ci);  // (Z + conj Zc)/2
    const T dr = zr - cr, di = zi + ci;                         // Z - conj Zc
    const T o_r = T(0.5) * di, o_i = T(-0.5) * dr;              // -i (Z - conj Zc)/2
    xr = er + wr * o_r - wi * o_i;
    xi = ei + wr * o_i + wi * o_r;
  };
  for (int64_t k = 1; 2 * k <= h; ++k) {
    const int64_t m = h - k;
    const T wkr = roots_n.cos[static_cast<size_t>(k * ts)], wki = roots_n.sin[static_cast<size_t>(k * ts)];
    const T wmr = roots_n.cos[static_cast<size_t>(m * ts)], wmi = roots_n.sin[static_cast<size_t>(m * ts)];
    T* kr = re + k * kLanes;
    T* ki = im + k * kLanes;
    T* mr = re + m * kLanes;
    T* mi = im + m * kLanes;
#pragma GCC ivdep
    for (int64_t l = 0; l < kLanes; ++l) {
      const T zkr = kr[l], zki = ki[l], zmr = mr[l], zmi = mi[l];
      T xkr, xki, xmr, xmi;
      bin(wkr, wki, zkr, zki, zmr, zmi, xkr, xki);
      bin(wmr, wmi, zmr, zmi, zkr, zki, xmr, xmi);
      kr[l] = xkr;  // k == m (the middle bin) writes the same value twice
      ki[l] = xki;
      mr[l] = xmr;
      mi[l] = xmi;
    }
  }
}

// Inverse real transform, first half: from the bins X[0..h] in in_re/in_im ((h+1) * kLanes values;
// the imaginary parts of X[0] and X[h] are ignored, as NumPy and torch do) builds in re/im the h-point
// spectrum Z[k] = (X[k] + conj X[h-k]) + i conj(w^k) (X[k] - conj X[h-k]) whose unscaled inverse
// transform is n*x[2k] + i n*x[2k+1] (x the unscaled inverse of the Hermitian spectrum).
template <typename T>
void c2r_merge(const Roots<T>& roots_n, int64_t n, const T* in_re, const T* in_im, T* re, T* im) {
  const int64_t h = n / 2, ts = roots_n.n / n;
  for (int64_t k = 0; k < h; ++k) {
    const T wr = roots_n.cos[static_cast<size_t>(k * ts)], wi = -roots_n.sin[static_cast<size_t>(k * ts)];  // conj
    const T* ar = in_re + k * kLanes;
    const T* ai = in_im + k * kLanes;
    const T* br = in_re + (h - k) * kLanes;
    const T* bi = in_im + (h - k) * kLanes;
    const bool edge = k == 0;  // X[0] and X[h]: real parts only
    T* zr = re + k * kLanes;
    T* zi = im + k * kLanes;
#pragma GCC ivdep
    for (int64_t l = 0; l < kLanes; ++l) {
      const T xk_i = edge ? T(0) : ai[l], xm_i = edge ? T(0) : bi[l];
      const T sr = ar[l] + br[l], si = xk_i - xm_i;  // X[k] + conj X[h-k]
      const T dr = ar[l] - br[l], di = xk_i + xm_i;  // X[k] - conj X[h-k]
      const T tr = wr * dr - wi * di, ti = wr * di + wi * dr;
      zr[l] = sr - ti;  // + i*t
      zi[l] = si + tr;
    }
  }
}

}  // namespace hy::kernels::cpu::fft_lanes
