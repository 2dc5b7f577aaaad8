// HY_CUDA_CHECK: a failed CUDA runtime call becomes a RuntimeError naming the call and CUDA's reason.
#pragma once
#include <cuda_runtime_api.h>

#include "core/error.h"

#define HY_CUDA_CHECK(expr)                                                                          \
  do {                                                                                               \
    cudaError_t hy_cuda_err_ = (expr);                                                               \
    if (hy_cuda_err_ != cudaSuccess)                                                                 \
      throw ::hy::RuntimeError(::hy::str("CUDA error: ", cudaGetErrorString(hy_cuda_err_), " (",   \
                                         cudaGetErrorName(hy_cuda_err_), ") in ", #expr));           \
  } while (0)
