// The per-device cache of cuFFT plans, as the backend and hy.backends.cuda.cufft_plan_cache see it
// (cufft/fft_plan_cache.cpp; a build without cuFFT has an always-empty cache, cufft_missing.cpp).
#pragma once
#include <cstdint>

namespace hy::cuda {

/// Default capacity of each device's cache (torch's cufft_plan_cache default).
constexpr int64_t kFftPlanCacheDefaultMax = 4096;

/// Plans held for `device`.
int64_t fft_plan_cache_size(int device);
/// The most plans `device` keeps; the least recently used ones are destroyed beyond it.
int64_t fft_plan_cache_max_size(int device);
/// Changes the capacity, destroying least recently used plans down to it (0 disables caching).
void set_fft_plan_cache_max_size(int device, int64_t max_size);
/// Destroys every cached plan of `device`.
void fft_plan_cache_clear(int device);

}  // namespace hy::cuda
