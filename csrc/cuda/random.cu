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

// A uniform draw for a 16-bit dtype keeps as many bits as its significand (11 for float16, 8 for bfloat16),
// so [0, 1) stays below 1 after rounding to the dtype: 24 bits would round up to 1.0. As on the CPU.
__device__ __forceinline__ double uniform_digits(const Words& w, int digits) {
  return static_cast<double>(w.w[0] >> (32 - digits)) * exp2(-static_cast<double>(digits));
}

template <typename S>
__global__ void random_kernel(S* out, int64_t n, uint64_t key, uint64_t base, bool normal, double a, double b,
                              bool wide, int digits) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const Words w = philox4x32(key, base + static_cast<uint64_t>(i));
    // a + scale * draw with the product rounded on its own (__dmul_rn), as the CPU computes it: nvcc
    // would otherwise fuse it into one multiply-add, and uniform_(low, high) would no longer be the
    // CPU's draw bit for bit.
    double v;
    if (normal) {
      const double u1 = 1.0 - uniform01(w, 0, wide), u2 = uniform01(w, 1, wide);
      v = __dadd_rn(a, __dmul_rn(b, sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2)));
    } else {
      v = __dadd_rn(a, __dmul_rn(b - a, wide ? uniform01(w, 0, true) : uniform_digits(w, digits)));
    }
    out[i] = from_compute<S>(v);
  }
}

// randint: 64 random bits mapped onto [0, range) by multiply-high (Lemire), as on the CPU.
template <typename S>
__global__ void randint_kernel(S* out, int64_t n, uint64_t key, uint64_t base, int64_t low, uint64_t range) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const Words w = philox4x32(key, base + static_cast<uint64_t>(i));
    const uint64_t r = (static_cast<uint64_t>(w.w[0]) << 32) | w.w[1];
    out[i] = from_compute<S>(static_cast<int64_t>(static_cast<uint64_t>(low) + __umul64hi(r, range)));
  }
}

// The CPU multinomial's uniform53 (kernels/cpu/random.cpp).
__device__ __forceinline__ double uniform53(uint64_t key, uint64_t counter) {
  const Words w = philox4x32(key, counter);
  const uint64_t bits = (static_cast<uint64_t>(w.w[0]) << 21) ^ (w.w[1] >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Per row of float64 weights: status[r] = 0 (valid), 1 + c (weight c is negative or not finite),
// -1 (sum <= 0), or -2 - positive (too few positive weights for sampling without replacement). One
// thread walks a row in order, so the first bad weight is the CPU's.
__global__ void multinomial_check_kernel(const double* w, int64_t rows, int64_t n, int64_t num_samples,
                                         bool replacement, int64_t* status) {
  const int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const double* wr = w + r * n;
  double total = 0;
  int64_t positive = 0;
  for (int64_t c = 0; c < n; ++c) {
    const double x = wr[c];
    if (!isfinite(x) || x < 0) {
      status[r] = 1 + c;
      return;
    }
    total += x;
    positive += x > 0;
  }
  status[r] = !(total > 0) ? -1 : (!replacement && positive < num_samples) ? -2 - positive : 0;
}

// With replacement, one block per row: the row's running sums in the CPU's (sequential) order by one
// thread, then each sample looks its uniform up (upper bound) in them.
__global__ void multinomial_replacement_kernel(const double* w, int64_t n, int64_t num_samples, uint64_t key,
                                               uint64_t base, double* acc, int64_t* out) {
  const int64_t r = blockIdx.x;
  const double* wr = w + r * n;
  double* ar = acc + r * n;
  __shared__ int64_t last;
  if (threadIdx.x == 0) {
    double sum = 0;
    for (int64_t c = 0; c < n; ++c) ar[c] = sum += wr[c];
    int64_t l = n - 1;  // the last positive category: the draw when u * total rounds up to total
    while (l > 0 && wr[l] <= 0) --l;
    last = l;
  }
  __syncthreads();
  const uint64_t row_base = base + static_cast<uint64_t>(r * num_samples);
  for (int64_t s = threadIdx.x; s < num_samples; s += blockDim.x) {
    const double u = uniform53(key, row_base + static_cast<uint64_t>(s)) * ar[n - 1];
    int64_t lo = 0, hi = n;  // the first running sum greater than u
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (ar[mid] <= u) lo = mid + 1; else hi = mid;
    }
    out[r * num_samples + s] = lo < last ? lo : last;
  }
}

// Without replacement, the exponential race: keys E_c / w_c, then each category's rank among the row's
// keys (ties by index, as the CPU's sort); the num_samples smallest are written in rank order.
__global__ void multinomial_race_kernel(const double* w, int64_t n, int64_t num_samples, uint64_t key,
                                        uint64_t base, double* keys, int64_t* out) {
  const int64_t r = blockIdx.x;
  const double* wr = w + r * n;
  double* kr = keys + r * n;
  const uint64_t row_base = base + static_cast<uint64_t>(r * n);
  for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
    const double exp1 = -log1p(-uniform53(key, row_base + static_cast<uint64_t>(c)));
    kr[c] = wr[c] > 0 ? exp1 / wr[c] : INFINITY;
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
    const double k = kr[c];
    int64_t rank = 0;
    for (int64_t j = 0; j < n && rank < num_samples; ++j) rank += kr[j] < k || (kr[j] == k && j < c);
    if (rank < num_samples) out[r * num_samples + rank] = c;
  }
}

}  // namespace

void launch_random(bool normal, DType dtype, void* out, int64_t numel, uint64_t key, uint64_t base, double a,
                   double b, void* stream) {
  if (numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const bool wide = dtype == DType::Float64;
  const int digits = dtype == DType::Float16 ? 11 : dtype == DType::BFloat16 ? 8 : 24;
#define HY_RANDOM(S) \
  random_kernel<S><<<grid_for(numel), kThreads, 0, s>>>(static_cast<S*>(out), numel, key, base, normal, a, b, wide, \
                                                        digits)
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

void launch_randint(DType dtype, void* out, int64_t numel, uint64_t key, uint64_t base, int64_t low, uint64_t range,
                    void* stream) {
  if (numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_RANDINT(S) \
  randint_kernel<S><<<grid_for(numel), kThreads, 0, s>>>(static_cast<S*>(out), numel, key, base, low, range)
  HY_CUDA_DTYPE_SWITCH(dtype, HY_RANDINT,
                       throw NotImplementedError(str("op 'randint' has no CUDA kernel for dtype ", dtype_name(dtype))))
#undef HY_RANDINT
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_multinomial_check(const double* weights, int64_t rows, int64_t n, int64_t num_samples, bool replacement,
                              int64_t* status, void* stream) {
  multinomial_check_kernel<<<static_cast<unsigned>((rows + kThreads - 1) / kThreads), kThreads, 0,
                             static_cast<cudaStream_t>(stream)>>>(weights, rows, n, num_samples, replacement, status);
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_multinomial(const double* weights, int64_t rows, int64_t n, int64_t num_samples, bool replacement,
                        uint64_t key, uint64_t base, double* scratch, int64_t* out, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  HY_CHECK(rows <= INT32_MAX, ValueError, "multinomial: the CUDA kernel takes at most ", INT32_MAX, " rows, got ", rows);
  const auto blocks = static_cast<unsigned>(rows);
  if (replacement) {
    multinomial_replacement_kernel<<<blocks, kThreads, 0, s>>>(weights, n, num_samples, key, base, scratch, out);
  } else {
    multinomial_race_kernel<<<blocks, kThreads, 0, s>>>(weights, n, num_samples, key, base, scratch, out);
  }
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
