// Non-temporal ("streaming") stores for the graph compiler's generated elementwise loops
// (python/hyflow/compiler/codegen/kernel_source.py).
//
// A plain store of a line that is not in cache first reads the line from memory (write-allocate), so an
// elementwise kernel writing a large output moves 4 bytes per 3 it must (two inputs read, one output
// read *and* written): STREAM triad on the machine runs at 75 GB/s with plain stores and 103 GB/s with
// streaming ones (../shared/machine.md). A kernel whose output is far larger than the last-level cache
// gains nothing from leaving it in cache (its start is evicted before the kernel ends), so generated code
// computes a block of results into a small aligned buffer on the stack (L1-resident, vectorized as
// usual) and copies the block out with streaming stores:
//
//   hy::gen::stream_copy(out + b0, buf, (b1 - b0) * sizeof(float));  // per block
//   hy::gen::stream_fence();                                          // once, before the kernel returns
//
// GCC has no way to ask for streaming stores from a plain loop (`#pragma omp simd nontemporal` is parsed
// and ignored), hence the copy. Streaming stores are weakly ordered: the fence makes them visible before
// the kernel returns to the thread pool, whose join is what the caller synchronizes on.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace hy::gen {

/// Copy `bytes` from `src` to `dst` (not overlapping); the 64-byte-aligned lines of `dst` are written with
/// streaming stores, its unaligned head and tail with ordinary ones. Without SSE2: a plain copy.
inline void stream_copy(void* dst, const void* src, int64_t bytes) {
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
#if defined(__SSE2__)
  int64_t head = static_cast<int64_t>((64 - (reinterpret_cast<uintptr_t>(d) & 63)) & 63);
  if (head > bytes) head = bytes;
  std::memcpy(d, s, static_cast<size_t>(head));
  d += head;
  s += head;
  bytes -= head;
  for (; bytes >= 64; d += 64, s += 64, bytes -= 64) {
#if defined(__AVX512F__)
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d), _mm512_loadu_si512(s));
#elif defined(__AVX__)
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 32),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 32)));
#else
    for (int k = 0; k < 64; k += 16)
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + k), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + k)));
#endif
  }
#endif
  std::memcpy(d, s, static_cast<size_t>(bytes));
}

/// Order the streaming stores made so far before any later store (the pool's completion flag).
inline void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace hy::gen
