// The cuBLASLt path of addmm as the backend and hy.backends.cuda.matmul.allow_cublaslt see it
// (cublas/gemm_lt.cpp; a build without cuBLAS has no Lt path, cublas_missing.cpp).
#pragma once
#include <cstdint>

#include "core/device_backend.h"

namespace hy::cuda {

/// Most (shape, dtype, layout) keys whose chosen algorithm each device keeps; least recently used go first.
constexpr int64_t kGemmLtCacheMax = 1024;

/// Whether addmm with a bias vector may use cuBLASLt (default true).
void set_gemm_lt_allowed(bool allow);
bool gemm_lt_allowed();
/// Counters and cached keys of `device`.
GemmLtStats gemm_lt_stats(int device);
/// Drops `device`'s cached algorithms (the counters stay).
void gemm_lt_cache_clear(int device);

}  // namespace hy::cuda
