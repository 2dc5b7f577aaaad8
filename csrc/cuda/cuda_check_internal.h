// HY_CUDA_CHECK: a failed CUDA runtime call becomes a RuntimeError naming the call and CUDA's reason.
// The runtime also keeps the failure as the thread's "last error", which the kernel launches read back
// with cudaGetLastError(): it is cleared before throwing, or the next launch would raise it again for a
// failure that was already reported (a sticky error, which poisons the context, stays set regardless).
#pragma once
#include <cuda_runtime_api.h>

#include "core/error.h"

#define HY_CUDA_CHECK(expr)                                                                          \
  do {                                                                                               \
    cudaError_t hy_cuda_err_ = (expr);                                                               \
    if (hy_cuda_err_ != cudaSuccess) {                                                               \
      (void)cudaGetLastError();                                                                      \
      throw ::hy::RuntimeError(::hy::str("CUDA error: ", cudaGetErrorString(hy_cuda_err_), " (",   \
                                         cudaGetErrorName(hy_cuda_err_), ") in ", #expr));           \
    }                                                                                                \
  } while (0)
