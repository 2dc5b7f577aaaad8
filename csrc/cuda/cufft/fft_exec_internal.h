// One batched cuFFT transform over dense buffers, through the per-device plan cache (fft_plan_cache.cpp):
// the glue of the FFT ops (kernels_fft.cpp) lays its data out densely and calls fft_execute once per group
// of at most three transformed dims.
//
//   FftPlanKey key{device, FftKind::FftKind_R2C, /*double_precision=*/false, 2, {64, 64, 1}, batch};
//   fft_execute(key, real_in, complex_out, /*forward=*/true);
#pragma once
#include <cstdint>
#include <functional>

namespace hy::cuda {

enum class FftKind : uint8_t { FftKind_C2C, FftKind_R2C, FftKind_C2R };

/// What a plan is made for. Buffers are dense: `batch` signals back to back, each of rank dims of sizes
/// n[0..rank) (row-major; for R2C/C2R n are the real side's sizes, the complex side's last dim holds
/// n[rank-1] / 2 + 1 bins), so the key determines every stride.
struct FftPlanKey {
  int device = 0;
  FftKind kind = FftKind::FftKind_C2C;
  bool double_precision = false;
  int rank = 1;
  int64_t n[3] = {1, 1, 1};
  int64_t batch = 1;

  bool operator==(const FftPlanKey& o) const {
    return device == o.device && kind == o.kind && double_precision == o.double_precision && rank == o.rank &&
           n[0] == o.n[0] && n[1] == o.n[1] && n[2] == o.n[2] && batch == o.batch;
  }
};

struct FftPlanKeyHash {
  size_t operator()(const FftPlanKey& k) const {
    size_t h = std::hash<int64_t>()(k.batch);
    for (int64_t v : {int64_t(k.device), int64_t(k.kind), int64_t(k.double_precision), int64_t(k.rank), k.n[0], k.n[1],
                      k.n[2]})
      h = h * 1000003u ^ std::hash<int64_t>()(v);
    return h;
  }
};

/// Runs the transform `key` describes from `in` to `out` (they may be the same buffer for C2C) on the
/// current stream of key.device, unnormalized; `forward` picks the C2C direction (R2C is forward, C2R
/// inverse). The plan comes from the cache (made and cached on first use); its work area from the caching
/// allocator on the same stream. Throws RuntimeError naming cuFFT's error.
void fft_execute(const FftPlanKey& key, void* in, void* out, bool forward);

}  // namespace hy::cuda
