// uniform_ / normal_ (and so rand / randn) on CUDA with the CPU generator's stream: element i of a draw
// uses Philox4x32-10 on (seed, base + i) and the same conversion to [0, 1) as the CPU kernels
// (kernels/cpu/creation.cpp), so uniform draws are bit-identical to the CPU's for the same seed and
// offset; normal draws go through log/sqrt/cos, whose CUDA versions may differ from glibc's by an ulp.
#include <cmath>

#include "cuda/elementwise.cuh"

namespace hy::cuda {
namespace {

// The same rounds as hy::philox4x32 (core/generator.cpp); test_cuda_ops.py compares the two streams.
struct Words { uint32_t w[4]; };
__device__ __forceinline__ Words philox4x32(uint64_t key, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// 24 bits for float32 and below, 53 for float64, as on the CPU.
__device__ __forceinline__ double uniform01(const Words& w, int which, bool wide) {
  if (wide) {
    const uint64_t bits = (static_cast<uint64_t>(w.w[2 * which]) << 21) ^ (w.w[2 * which + 1] >> 11);
    return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
  }
  return static_cast<double>(w.w[which] >> 8) * (1.0 / 16777216.0);
}

template <typename S>
__global__ void random_kernel(S* out, int64_t n, uint64_t key, uint64_t base, bool normal, double a, double b,
                              bool wide) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const Words w = philox4x32(key, base + static_cast<uint64_t>(i));
    double v;
    if (normal) {
      const double u1 = 1.0 - uniform01(w, 0, wide), u2 = uniform01(w, 1, wide);
      v = a + b * (sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    } else {
      v = a + (b - a) * uniform01(w, 0, wide);
    }
    out[i] = from_compute<S>(v);
  }
}

}  // namespace

void launch_random(bool normal, DType dtype, void* out, int64_t numel, uint64_t key, uint64_t base, double a,
                   double b, void* stream) {
  if (numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const bool wide = dtype == DType::Float64;
#define HY_RANDOM(S) \
  random_kernel<S><<<grid_for(numel), kThreads, 0, s>>>(static_cast<S*>(out), numel, key, base, normal, a, b, wide)
  switch (dtype) {
    case DType::Float16: { HY_RANDOM(__half); break; }
    case DType::BFloat16: { HY_RANDOM(__nv_bfloat16); break; }
    case DType::Float32: { HY_RANDOM(float); break; }
    case DType::Float64: { HY_RANDOM(double); break; }
    default: throw TypeError(str("random: dtype ", dtype_name(dtype), " is not a floating-point dtype"));
  }
#undef HY_RANDOM
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
