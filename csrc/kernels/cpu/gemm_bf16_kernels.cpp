// hyflow's bfloat16 GEMM kernels (gemm_bf16.h): packing, the AMX and AVX512-BF16 block kernels and the
// blocking over hyflow's TBB pool. Compiled where the compiler targets AVX-512 (the avx512 CPU variant
// library, or a HYFLOW_NATIVE build on an AVX-512 machine): the portable core holds no AVX-512
// instruction (ctest cpu_isa_guard), so it reaches these through the pointer the variant installs.
//
// Packed layouts (bf16 bits, zero-padded to mp = m, np = n, kp = k rounded up to 32):
//   A: 16-row strips, each [kp/32][16 rows][32 k]  - one 16x32 AMX A tile is 1 KiB, contiguous;
//   B: 16-column strips, each [kp/2][16 cols][2 k] - the VNNI pair layout: one AMX B tile (32 k x 16
//      columns) is 1 KiB, contiguous, and one 64-byte row of it is what VDPBF16PS multiplies by a
//      broadcast pair of A.
// AVX512-BF16 and AMX are not part of x86-64-v4: those functions carry target attributes and run only
// after gemm_bf16.cpp checked the CPU (and, for AMX, got Linux's permission).
#include "kernels/cpu/gemm_bf16.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__AVX512F__) && \
    defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#define HYFLOW_BF16_GEMM_KERNELS 1
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "core/parallel.h"
#include "kernels/cpu/transpose16_avx512.h"
#endif

namespace hy::cpu {

#ifdef HYFLOW_BF16_GEMM_KERNELS
namespace {

#define HY_BF16_TARGET __attribute__((target("avx512bf16")))
#define HY_AMX_TARGET __attribute__((target("avx512bf16,amx-tile,amx-bf16")))

constexpr int64_t kPad = 32;        // m, n and k are padded to this (a 2x2 block of 16x16 tiles, 32 k per tile)
constexpr int64_t kStripElems = 16;  // rows (A) or columns (B) per packed strip
constexpr int64_t kTileElems = 512;  // bf16 elements in one 1 KiB tile of a strip (16 x 32)
constexpr int64_t kBlockK = 512;     // k per pass over a block: a 32 x 512 B sub-block (32 KiB) stays in L1
constexpr int64_t kBlockMax = 256;   // rows / columns of one work item: 256 x 512 A and B sub-blocks and the
                                     // float32 accumulators (256 KiB each) stay in a 2 MiB L2

int64_t round_up(int64_t x, int64_t r) { return (x + r - 1) / r * r; }

// ---- packing ----------------------------------------------------------------------------------------

// Two-source 16-bit permutation: element j of the first source to 2j, of the second to 2j + 1.
alignas(64) const uint16_t kInterleave[32] = {0,  32, 1,  33, 2,  34, 3,  35, 4,  36, 5,  37, 6,  38, 7,  39,
                                              8,  40, 9,  41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};

// Mask of the first `count` 16-bit lanes (none when count <= 0: a strip past m or n reads nothing).
inline __mmask32 first_lanes(int64_t count) {
  return count <= 0 ? __mmask32{0} : count >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << count) - 1);
}

// Rows [16 t, 16 t + 16) of A (m x k, GemmMatrix layout at `a`) into strip t of the packed A. Rows past m
// (a strip of the padding, or the tail of the last one) are zeros and nothing past m is read.
HY_BF16_TARGET void pack_a_strip(const uint16_t* a, int64_t ld, bool trans, int64_t m, int64_t k, int64_t kp,
                                 int64_t t, uint16_t* strip) {
  const int64_t r0 = t * kStripElems, rows = std::clamp<int64_t>(m - r0, 0, kStripElems);
  if (rows == 0) {  // all padding: only the AMX kernel reads it (the AVX-512 one skips rows past m)
    std::memset(strip, 0, static_cast<size_t>(kStripElems * kp) * 2);
    return;
  }
  // The row-major copy writes every element of the strip's first `rows` rows (zeros past k).
  if (!trans && rows < kStripElems) std::memset(strip, 0, static_cast<size_t>(kStripElems * kp) * 2);
  const __m512i perm = _mm512_load_si512(kInterleave);
  const __mmask32 row_mask = first_lanes(rows);
  for (int64_t q = 0; q * 32 < k; ++q) {
    uint16_t* tile = strip + q * kTileElems;
    const int64_t k0 = q * 32, kn = std::min<int64_t>(32, k - k0);
    if (!trans) {
      const __mmask32 mask = first_lanes(kn);
      for (int64_t r = 0; r < rows; ++r)
        _mm512_storeu_si512(tile + r * 32, _mm512_maskz_loadu_epi16(mask, a + (r0 + r) * ld + k0));
    } else {  // element (row, kk) at a[kk * ld + row]: the stored transpose's rows are A's columns
      // Rows kk = 2t and 2t + 1 of the stored transpose interleaved as in pack_b_strip give 16 words
      // (A[r][2t], A[r][2t + 1]) over r; the 16 x 16 words transposed are the tile's rows (rows past m and
      // pairs past k load as zeros, so the whole tile is written). Scattering each word cost ~5x more on
      // AMD Zen, whose scatters and gathers are slow.
      __m512 w[16];
      for (int p = 0; p < 16; ++p) {
        const int64_t kk = k0 + 2 * p;
        const __m512i lo = 2 * p < kn ? _mm512_maskz_loadu_epi16(row_mask, a + kk * ld + r0) : _mm512_setzero_si512();
        const __m512i hi = 2 * p + 1 < kn ? _mm512_maskz_loadu_epi16(row_mask, a + (kk + 1) * ld + r0)
                                          : _mm512_setzero_si512();
        w[p] = _mm512_castsi512_ps(_mm512_permutex2var_epi16(lo, perm, hi));
      }
      transpose16x16_f32(w);
      for (int r = 0; r < 16; ++r) _mm512_storeu_si512(tile + r * 32, _mm512_castps_si512(w[r]));
    }
  }
}

// Columns [16 s, 16 s + 16) of B (k x n) into strip s of the packed B: pair p of row j holds
// (B[2p][16 s + j], B[2p + 1][16 s + j]). Columns past n are zeros and nothing past n is read.
HY_BF16_TARGET void pack_b_strip(const uint16_t* b, int64_t ld, bool trans, int64_t n, int64_t k, int64_t kp,
                                 int64_t s, uint16_t* strip) {
  const int64_t c0 = s * kStripElems, cols = std::clamp<int64_t>(n - c0, 0, kStripElems);
  if (cols == 0) {  // all padding
    std::memset(strip, 0, static_cast<size_t>(kStripElems * kp) * 2);
    return;
  }
  if (!trans) {
    // Writes pairs [0, ceil(k / 2)) whole (zeros past n); the pairs past k are zeroed here.
    const int64_t written = (k + 1) / 2 * 32;
    std::memset(strip + written, 0, static_cast<size_t>(kStripElems * kp - written) * 2);
    // Rows 2p and 2p + 1 (16 columns each, in the low halves of two registers) interleaved.
    const __m512i perm = _mm512_load_si512(kInterleave);
    const __mmask32 mask = first_lanes(cols);
    for (int64_t p = 0; 2 * p < k; ++p) {
      const __m512i lo = _mm512_maskz_loadu_epi16(mask, b + (2 * p) * ld + c0);
      const __m512i hi = 2 * p + 1 < k ? _mm512_maskz_loadu_epi16(mask, b + (2 * p + 1) * ld + c0) : _mm512_setzero_si512();
      _mm512_storeu_si512(strip + p * 32, _mm512_permutex2var_epi16(lo, perm, hi));
    }
  } else {  // element (kk, col) at b[col * ld + kk]: column j is a contiguous row of the stored transpose
    // 32 k of the 16 columns at a time: row j of the stored transpose holds column j's pairs
    // (B[2p][j], B[2p + 1][j]) as 16 consecutive words; the 16 x 16 words transposed are packed rows
    // p .. p + 15 (16-lane gathers, one packed row each, were several times slower on AMD Zen). Columns
    // past n and k past its end load as zeros; kp is a multiple of 32, so every packed row is written.
    const uint16_t* base = b + c0 * ld;
    for (int64_t p = 0; 2 * p < k; p += 16) {
      const __mmask32 k_mask = first_lanes(k - 2 * p);
      __m512 w[16];
      for (int j = 0; j < 16; ++j)
        w[j] = j < cols ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(k_mask, base + j * ld + 2 * p)) : _mm512_setzero_ps();
      transpose16x16_f32(w);
      for (int i = 0; i < 16; ++i) _mm512_storeu_si512(strip + (p + i) * 32, _mm512_castps_si512(w[i]));
    }
  }
}

// ---- block kernels: C (32 x 32 float32, row stride ldc) (+)= A strips pa0/pa1 x B strips pb0/pb1 ----
// over the 32-k slices [q0, q1). `first`: C starts at zero instead of being loaded.

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Every tile 16 rows x 64 bytes. A static object, not a local: GCC 12 does not see _tile_loadconfig
// read the local's rows/colsb fields and drops their stores (the tiles then stay unconfigured: SIGILL).
TileConfig make_tile_config() {
  TileConfig cfg{};
  cfg.palette_id = 1;
  for (int i = 0; i < 8; ++i) {
    cfg.colsb[i] = 64;
    cfg.rows[i] = 16;
  }
  return cfg;
}
const TileConfig kTileConfig = make_tile_config();

HY_AMX_TARGET void amx_configure() { _tile_loadconfig(&kTileConfig); }

HY_AMX_TARGET void amx_release() { _tile_release(); }

// Tiles 0-3: C (rows 0-15 / 16-31 x columns 0-15 / 16-31); 4-5: A; 6-7: B.
HY_AMX_TARGET void amx_block(const uint16_t* pa0, const uint16_t* pa1, const uint16_t* pb0, const uint16_t* pb1,
                             int64_t q0, int64_t q1, float* c, int64_t ldc, bool first) {
  const int64_t stride = ldc * 4;
  if (first) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  } else {
    _tile_loadd(0, c, stride);
    _tile_loadd(1, c + 16, stride);
    _tile_loadd(2, c + 16 * ldc, stride);
    _tile_loadd(3, c + 16 * ldc + 16, stride);
  }
  for (int64_t q = q0; q < q1; ++q) {
    const int64_t off = q * kTileElems;
    _tile_loadd(4, pa0 + off, 64);
    _tile_loadd(6, pb0 + off, 64);
    _tile_loadd(5, pa1 + off, 64);
    _tile_loadd(7, pb1 + off, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, stride);
  _tile_stored(1, c + 16, stride);
  _tile_stored(2, c + 16 * ldc, stride);
  _tile_stored(3, c + 16 * ldc + 16, stride);
}

// What of a 32 x 32 block the AVX-512 kernel computes: rows past m, a 16-column strip past n and the
// zero pairs of the last k tile are skipped (a linear layer with 2 outputs, or 2 inputs in its backward,
// padded to 32 did 16x the work it needed).
struct LiveBlock {
  int64_t rows, cols;   // of the block's 32 x 32, at least 1 each
  int64_t tail_q;       // index of the last k tile
  int tail_pairs;       // its pairs that hold k < the product's k (1..16)
};

// ROWS rows (from row r0 of A strip pa) x NS 16-column B strips: ROWS * NS = 16 accumulators, each pair
// of A broadcast against one 64-byte row of each B strip.
template <int NS>
HY_BF16_TARGET void avx512_rows(const uint16_t* pa, int64_t r0, const uint16_t* pb0, const uint16_t* pb1,
                                int64_t q0, int64_t q1, const LiveBlock& live, float* c, int64_t ldc, bool first) {
  constexpr int ROWS = 16 / NS;
  __m512 acc[ROWS][NS];
  for (int r = 0; r < ROWS; ++r)
    for (int s = 0; s < NS; ++s) acc[r][s] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c + r * ldc + 16 * s);
  for (int64_t q = q0; q < q1; ++q) {
    const uint16_t* at = pa + q * kTileElems + r0 * 32;
    const uint16_t* b[2] = {pb0 + q * kTileElems, pb1 + q * kTileElems};
    const int pairs = q == live.tail_q ? live.tail_pairs : 16;
    for (int p = 0; p < pairs; ++p) {
      __m512bh vb[NS];
      for (int s = 0; s < NS; ++s) vb[s] = (__m512bh)_mm512_loadu_si512(b[s] + p * 32);
      for (int r = 0; r < ROWS; ++r) {
        int32_t pair;
        std::memcpy(&pair, at + r * 32 + 2 * p, 4);
        const __m512bh va = (__m512bh)_mm512_set1_epi32(pair);
        for (int s = 0; s < NS; ++s) acc[r][s] = _mm512_dpbf16_ps(acc[r][s], va, vb[s]);
      }
    }
  }
  for (int r = 0; r < ROWS; ++r)
    for (int s = 0; s < NS; ++s) _mm512_storeu_ps(c + r * ldc + 16 * s, acc[r][s]);
}

// Rows and columns skipped here are never stored (compute_block writes only rows < m, columns < n).
HY_BF16_TARGET void avx512_block(const uint16_t* pa0, const uint16_t* pa1, const uint16_t* pb0,
                                 const uint16_t* pb1, int64_t q0, int64_t q1, const LiveBlock& live, float* c,
                                 int64_t ldc, bool first) {
  if (live.cols <= 16) {  // one B strip: 16 rows per call
    avx512_rows<1>(pa0, 0, pb0, pb1, q0, q1, live, c, ldc, first);
    if (live.rows > 16) avx512_rows<1>(pa1, 0, pb0, pb1, q0, q1, live, c + 16 * ldc, ldc, first);
    return;
  }
  for (int g = 0; g < 4 && 8 * g < live.rows; ++g)
    avx512_rows<2>(g < 2 ? pa0 : pa1, (g % 2) * 8, pb0, pb1, q0, q1, live, c + 8 * g * ldc, ldc, first);
}

// ---- epilogue: the accumulators, scaled, written to C once ------------------------------------------

// dst = alpha * acc + beta * dst (dst not read when beta == 0: it may be uninitialized).
HY_BF16_TARGET void store_row_f32(const float* acc, float* dst, int64_t cols, float alpha, float beta) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int64_t j = 0; j < cols; j += 16) {
    const __mmask16 mask = cols - j >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (cols - j)) - 1);
    __m512 v = _mm512_mul_ps(va, _mm512_loadu_ps(acc + j));
    if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, dst + j), v);
    _mm512_mask_storeu_ps(dst + j, mask, v);
  }
}

// dst = bf16(alpha * acc (+ beta * bias)): VCVTNEPS2BF16 rounds to nearest even and keeps NaN a (quiet)
// NaN. `bias` (bf16 bits, the row's columns) may be null.
HY_BF16_TARGET void store_row_bf16(const float* acc, uint16_t* dst, int64_t cols, float alpha, const uint16_t* bias,
                                   float beta) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int64_t j = 0; j < cols; j += 16) {
    const __mmask16 mask = cols - j >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (cols - j)) - 1);
    __m512 v = _mm512_mul_ps(va, _mm512_loadu_ps(acc + j));
    if (bias) {  // bf16 -> float32 is the 16-bit pattern shifted into the high half
      const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, bias + j));
      v = _mm512_fmadd_ps(vb, _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16)), v);
    }
    const __m256bh h = _mm512_cvtneps_pbh(v);
    _mm256_mask_storeu_epi16(dst + j, mask, (__m256i)h);
  }
}

// ---- one product ------------------------------------------------------------------------------------

struct AlignedFree {
  void operator()(void* p) const { ::operator delete(p, std::align_val_t{64}); }
};
template <typename T>
std::unique_ptr<T[], AlignedFree> aligned_buffer(int64_t count) {
  return std::unique_ptr<T[], AlignedFree>(
      static_cast<T*>(::operator new(static_cast<size_t>(count) * sizeof(T), std::align_val_t{64})));
}

// One product's operands, packed, and where its result goes.
struct Product {
  int64_t m, n, k, mp, np, kp;
  const uint16_t* pa;  // packed A, mp / 16 strips
  const uint16_t* pb;  // packed B, np / 16 strips
  float alpha, beta;
  void* c;  // dense row-major m x n, float32 or bf16
  bool c_is_f32;
  const uint16_t* bias;  // bf16 per column (with a bf16 C), or null
};

// Block [i0, i0 + mb) x [j0, j0 + nb) (multiples of 32, inside mp x np) of `p`, accumulated in `acc`
// (mb x nb floats, row stride kBlockMax) and written to C once: alpha * acc + beta * C, rounded.
void compute_block(Bf16Kernel kern, const Product& p, int64_t i0, int64_t j0, int64_t mb, int64_t nb, float* acc) {
  const int64_t strip = kStripElems * p.kp, ldc = kBlockMax;
  const int64_t tail_q = p.kp / 32 - 1;
  const int tail_pairs = static_cast<int>((p.k - 32 * tail_q + 1) / 2);
  for (int64_t k0 = 0; k0 < p.kp; k0 += kBlockK) {
    const int64_t q0 = k0 / 32, q1 = std::min(p.kp, k0 + kBlockK) / 32;
    for (int64_t jj = 0; jj < nb; jj += 32) {
      const uint16_t* pb0 = p.pb + ((j0 + jj) / 16) * strip;
      for (int64_t ii = 0; ii < mb; ii += 32) {
        const uint16_t* pa0 = p.pa + ((i0 + ii) / 16) * strip;
        float* cb = acc + ii * ldc + jj;
        if (kern == Bf16Kernel::Amx) {
          amx_block(pa0, pa0 + strip, pb0, pb0 + strip, q0, q1, cb, ldc, k0 == 0);
        } else {
          const LiveBlock live{std::min<int64_t>(32, p.m - i0 - ii), std::min<int64_t>(32, p.n - j0 - jj), tail_q,
                               tail_pairs};
          avx512_block(pa0, pa0 + strip, pb0, pb0 + strip, q0, q1, live, cb, ldc, k0 == 0);
        }
      }
    }
  }
  const int64_t rows = std::min(mb, p.m - i0), cols = std::min(nb, p.n - j0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t out = (i0 + r) * p.n + j0;
    if (p.c_is_f32) store_row_f32(acc + r * ldc, static_cast<float*>(p.c) + out, cols, p.alpha, p.beta);
    else store_row_bf16(acc + r * ldc, static_cast<uint16_t*>(p.c) + out, cols, p.alpha, p.bias ? p.bias + j0 : nullptr,
                        p.beta);
  }
}

// Work items of one product: blocks of `blk` x `blk` (a multiple of 32, at most kBlockMax).
struct Blocking {
  int64_t blk, mblocks, nblocks;
};
Blocking blocking_for(int64_t mp, int64_t np, int64_t want_items) {
  int64_t blk = kBlockMax;
  while (blk > 32 && ((mp + blk - 1) / blk) * ((np + blk - 1) / blk) < want_items) blk /= 2;
  return {blk, (mp + blk - 1) / blk, (np + blk - 1) / blk};
}

void compute_item(Bf16Kernel kern, const Product& p, const Blocking& bl, int64_t item, float* acc) {
  const int64_t i0 = (item / bl.nblocks) * bl.blk, j0 = (item % bl.nblocks) * bl.blk;
  compute_block(kern, p, i0, j0, std::min(bl.blk, p.mp - i0), std::min(bl.blk, p.np - j0), acc);
}

// The AMX tile registers are per thread: every chunk of work configures them and hands them back
// (an idle thread holding tile state costs a larger context switch).
struct TileScope {
  explicit TileScope(Bf16Kernel k) : amx(k == Bf16Kernel::Amx) {
    if (amx) amx_configure();
  }
  ~TileScope() {
    if (amx) amx_release();
  }
  bool amx;
};

float* thread_accumulators() {
  thread_local std::unique_ptr<float[], AlignedFree> acc = aligned_buffer<float>(kBlockMax * kBlockMax);
  return acc.get();
}

// Packed operands of the calling thread's large products, kept between calls up to 8 MiB each: fresh
// pages for the 2 x 8 MiB of an N = 2048 product measured 7% of its time in page faults. Larger ones are
// allocated per call, so a thread does not hold on to 2 x 32 MiB after one N = 4096 product.
constexpr int64_t kKeptPacking = int64_t{4} << 20;  // elements

struct PackingBuffer {
  uint16_t* get(int64_t count) {
    if (count > kKeptPacking) {
      once = aligned_buffer<uint16_t>(count);
      return once.get();
    }
    if (kept_size < count) {
      kept = aligned_buffer<uint16_t>(count);
      kept_size = count;
    }
    return kept.get();
  }
  std::unique_ptr<uint16_t[], AlignedFree> kept, once;
  int64_t kept_size = 0;
};

void pack_product(const LowpGemm& g, int64_t b, int64_t mp, int64_t kp, uint16_t* pa, uint16_t* pb,
                  int64_t strip_begin, int64_t strip_end) {
  const int64_t a_strips = mp / kStripElems;
  for (int64_t s = strip_begin; s < strip_end; ++s) {
    if (s < a_strips)
      pack_a_strip(g.a.base + g.a.batch_offsets[b], g.a.ld, g.a.trans, g.m, g.k, kp, s, pa + s * kStripElems * kp);
    else
      pack_b_strip(g.b.base + g.b.batch_offsets[b], g.b.ld, g.b.trans, g.n, g.k, kp, s - a_strips,
                   pb + (s - a_strips) * kStripElems * kp);
  }
}

}  // namespace

void run_gemm_bf16(Bf16Kernel kern, const LowpGemm& g, void* c, bool c_is_f32) {
  const int64_t mp = round_up(g.m, kPad), np = round_up(g.n, kPad), kp = round_up(g.k, kPad);
  const int64_t strips = (mp + np) / kStripElems;
  const size_t c_elem = c_is_f32 ? 4 : 2;
  auto product = [&](int64_t b, const uint16_t* pa, const uint16_t* pb) {
    return Product{g.m, g.n, g.k, mp, np, kp, pa, pb, g.alpha, g.beta,
                   static_cast<char*>(c) + static_cast<size_t>(b * g.m * g.n) * c_elem, c_is_f32, g.bias};
  };
  const int threads = in_parallel_region() ? 1 : get_num_threads();
  const bool small = g.m * g.n * g.k < (int64_t{1} << 21);
  if (g.batch > 1 && (small || g.batch >= 4 * threads)) {
    // Many products: each chunk packs and multiplies whole products on its own thread.
    parallel_for(0, g.batch, 1, [&](int64_t b0, int64_t b1) {
      auto pa = aligned_buffer<uint16_t>(mp * kp), pb = aligned_buffer<uint16_t>(np * kp);
      TileScope tiles(kern);
      const Blocking bl = blocking_for(mp, np, 1);
      for (int64_t b = b0; b < b1; ++b) {
        pack_product(g, b, mp, kp, pa.get(), pb.get(), 0, strips);
        const Product p = product(b, pa.get(), pb.get());
        for (int64_t item = 0; item < bl.mblocks * bl.nblocks; ++item)
          compute_item(kern, p, bl, item, thread_accumulators());
      }
    });
    return;
  }
  // Few large products: pack each one on all threads, then split it into blocks.
  thread_local PackingBuffer a_buffer, b_buffer;
  uint16_t* pa = a_buffer.get(mp * kp);
  uint16_t* pb = b_buffer.get(np * kp);
  const Blocking bl = blocking_for(mp, np, 4 * static_cast<int64_t>(threads));
  for (int64_t b = 0; b < g.batch; ++b) {
    parallel_for(0, strips, 1, [&](int64_t s0, int64_t s1) { pack_product(g, b, mp, kp, pa, pb, s0, s1); });
    const Product p = product(b, pa, pb);
    parallel_for(0, bl.mblocks * bl.nblocks, 1, [&](int64_t i0, int64_t i1) {
      TileScope tiles(kern);
      for (int64_t item = i0; item < i1; ++item) compute_item(kern, p, bl, item, thread_accumulators());
    });
  }
  a_buffer.once.reset();
  b_buffer.once.reset();
}

#endif  // HYFLOW_BF16_GEMM_KERNELS

Bf16GemmRun bf16_gemm_compiled_kernels() {
#ifdef HYFLOW_BF16_GEMM_KERNELS
  return &run_gemm_bf16;
#else
  return nullptr;
#endif
}

}  // namespace hy::cpu
