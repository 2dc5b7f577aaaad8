// Element storage and compute types on the device: float16/bfloat16 are stored as CUDA's __half and
// __nv_bfloat16 and computed in float (as the CPU kernels compute them), everything else as itself.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "core/dtype.h"

namespace hy::cuda {

template <typename S> struct ComputeOf { using type = S; };
template <> struct ComputeOf<__half> { using type = float; };
template <> struct ComputeOf<__nv_bfloat16> { using type = float; };
template <typename S> using compute_t = typename ComputeOf<S>::type;

template <typename C, typename S> __device__ __forceinline__ C to_compute(S v) { return static_cast<C>(v); }
template <typename C> __device__ __forceinline__ C to_compute(__half v) { return static_cast<C>(__half2float(v)); }
template <typename C> __device__ __forceinline__ C to_compute(__nv_bfloat16 v) {
  return static_cast<C>(__bfloat162float(v));
}
// Rounds to nearest even like the CPU's float->half conversion; bool is "not zero".
template <typename S, typename C> __device__ __forceinline__ S from_compute(C v) {
  if constexpr (std::is_same_v<S, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<S, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<S, bool>) {
    return v != C(0);
  } else {
    return static_cast<S>(v);
  }
}

}  // namespace hy::cuda

// Calls MACRO(storage type) for `dtype`'s device storage type; other dtypes reach `on_error`.
#define HY_CUDA_DTYPE_SWITCH(dtype, MACRO, on_error)          \
  switch (dtype) {                                           \
    case ::hy::DType::Bool: { MACRO(bool); break; }          \
    case ::hy::DType::Int32: { MACRO(int32_t); break; }      \
    case ::hy::DType::Int64: { MACRO(int64_t); break; }      \
    case ::hy::DType::Float16: { MACRO(__half); break; }     \
    case ::hy::DType::BFloat16: { MACRO(__nv_bfloat16); break; } \
    case ::hy::DType::Float32: { MACRO(float); break; }      \
    case ::hy::DType::Float64: { MACRO(double); break; }     \
    default: on_error;                                       \
  }
