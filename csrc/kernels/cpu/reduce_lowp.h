// float16/bfloat16 reductions without a float32 copy of the input: the reduction engine (reduce_impl.h)
// reads the 16-bit [P, R, Q] buffer and LowpReducer widens what each float reducer reads, so memory
// traffic is the 16-bit input plus the float32 outputs.
//
// Results are bit-identical to "widen the tensor, reduce in float32, round once" (tests/python/
// test_lowp_reduce.py). Two things make that so:
//   * every reducer sees exactly the float values and the spans the float32 path gives it: the engine's
//     chunking depends only on the shape, and spans are widened whole (or, for sums, leaf by leaf along
//     the same pairwise tree);
//   * Eigen's vectorized sums and products peel scalar elements until an aligned address, so their
//     association depends on where a span starts within a 64-byte line. A fresh float32 buffer is
//     64-byte aligned at element 0, so element e starts at float e % 16 of its line; the 16-bit buffer
//     is kept 64-byte aligned too (reduce_prepare copies one that is not), so the same e % 16 can be read
//     off a 16-bit address, and the widened copy is placed at that phase (lowp_phase).
//
//   reduce_run(in, make_sum_reducer<float>(...));   // in.data bfloat16: runs LowpReducer<BFloat16, ...>
#pragma once
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/half.h"
#include "kernels/cpu/lowp_convert.h"

namespace hy::cpu {

/// Floats in a 64-byte line: the positions a span can start at relative to Eigen's alignment.
constexpr int64_t kLowpPhases = 16;

/// The float index within its 64-byte line that element `p` of a 64-byte-aligned 16-bit buffer would
/// have in a float32 copy of that buffer (element e: e % 16).
template <typename S>
inline int64_t lowp_phase(const S* p) {
  return static_cast<int64_t>((reinterpret_cast<uintptr_t>(p) / sizeof(S)) % kLowpPhases);
}

/// One element widened (exact): the column path of the engine reads element by element.
inline float lowp_to_float(BFloat16 x) { return detail::bits_f32(static_cast<uint32_t>(x.bits) << 16); }
inline float lowp_to_float(Half x) {
#if defined(__F16C__) || defined(__AVX512F__)
  return _cvtsh_ss(x.bits);
#else
  return Half::to_float(x.bits);
#endif
}

/// A float `buf` of at least n + kLowpPhases floats for this thread, and in it the start of n floats at
/// `phase` within their 64-byte line.
inline float* lowp_phase_buffer(int64_t n, int64_t phase) {
  thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n + kLowpPhases) buf.resize(static_cast<size_t>(n + kLowpPhases));
  const int64_t at = static_cast<int64_t>((reinterpret_cast<uintptr_t>(buf.data()) / sizeof(float)) % kLowpPhases);
  return buf.data() + (phase - at + kLowpPhases) % kLowpPhases;
}

/// Red (a reducer over float) reading S (Half/BFloat16) elements. A reducer that declares kReadsLowp
/// takes 16-bit spans itself (sums widen leaf by leaf); for the others a span is widened whole into a
/// per-thread buffer: a row, or a chunk of kReduceChunk elements of a long one, never the tensor.
template <typename S, typename Red>
struct LowpReducer {
  using In = S;
  using Acc = typename Red::Acc;
  static constexpr bool kFoldable = Red::kFoldable;
  Red red;

  template <typename R, typename = void> struct reads_lowp : std::false_type {};
  template <typename R> struct reads_lowp<R, std::void_t<decltype(R::kReadsLowp)>> : std::bool_constant<R::kReadsLowp> {};

  Acc identity() const { return red.identity(); }
  Acc combine(const Acc& a, const Acc& b) const { return red.combine(a, b); }
  Acc reduce_span(const S* p, int64_t n, int64_t r0, int64_t o) const {
    if constexpr (reads_lowp<Red>::value) {
      return red.reduce_span(p, n, r0, o);
    } else {
      float* f = lowp_phase_buffer(n, lowp_phase(p));
      lowp_widen(p, f, n);
      return red.reduce_span(f, n, r0, o);
    }
  }
  Acc lift(S x, int64_t r, int64_t o) const { return red.lift(lowp_to_float(x), r, o); }
  void store(int64_t o, const Acc& a) const { red.store(o, a); }
};

}  // namespace hy::cpu
