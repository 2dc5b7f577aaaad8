// Fused SGD and Adam/AdamW steps on CUDA: one launch for every parameter of a step, one CUDA block per
// chunk of the chunk table (multi-tensor apply). The element formulas are the CPU kernels'
// (kernels/cpu/optim.cpp) with each product rounded on its own (no fused multiply-add), in the same order.
#include "cuda/elementwise.cuh"

namespace hy::cuda {
namespace {

__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }

template <typename T>
__global__ void fused_sgd_kernel(const OptimChunk* chunks, int64_t n, SgdHyper h) {
  const T wd = static_cast<T>(h.weight_decay), mom = static_cast<T>(h.momentum);
  const T damp1 = static_cast<T>(1.0 - h.dampening), neg_lr = static_cast<T>(-h.lr);
  for (int64_t c = blockIdx.x; c < n; c += gridDim.x) {
    const OptimChunk ch = chunks[c];
    T* p = static_cast<T*>(ch.param);
    const T* g = static_cast<const T*>(ch.grad);
    T* buf = static_cast<T*>(ch.state[0]);
    for (int64_t i = ch.begin + threadIdx.x; i < ch.end; i += blockDim.x) {
      T d = h.maximize ? -g[i] : g[i];
      if (h.weight_decay != 0.0) d = d + mul(wd, p[i]);
      if (h.use_momentum) {
        const T b = h.first_step ? d : mul(buf[i], mom) + mul(damp1, d);
        buf[i] = b;
        d = h.nesterov ? d + mul(mom, b) : b;
      }
      p[i] = p[i] + mul(neg_lr, d);
    }
  }
}

template <typename T>
__global__ void fused_adam_kernel(const OptimChunk* chunks, int64_t n, AdamHyper h) {
  const T b1c = static_cast<T>(1.0 - h.beta1), b2 = static_cast<T>(h.beta2), b2c = static_cast<T>(1.0 - h.beta2);
  const T wd = static_cast<T>(h.weight_decay), decay = static_cast<T>(1.0 - h.lr * h.weight_decay);
  const T inv_bc2 = static_cast<T>(h.bias_correction2_sqrt), e = static_cast<T>(h.eps);
  const T neg_step = static_cast<T>(-h.lr / h.bias_correction1);
  for (int64_t c = blockIdx.x; c < n; c += gridDim.x) {
    const OptimChunk ch = chunks[c];
    T* p = static_cast<T*>(ch.param);
    const T* g = static_cast<const T*>(ch.grad);
    T* m = static_cast<T*>(ch.state[0]);
    T* v = static_cast<T*>(ch.state[1]);
    T* vmax = static_cast<T*>(ch.state[2]);
    for (int64_t i = ch.begin + threadIdx.x; i < ch.end; i += blockDim.x) {
      T gi = h.maximize ? -g[i] : g[i];
      T pi = p[i];
      if (h.weight_decay != 0.0) {
        if (h.decoupled) pi = mul(pi, decay);
        else gi = gi + mul(wd, pi);
      }
      const T mi = m[i] + mul(b1c, gi - m[i]);
      const T vi = mul(v[i], b2) + mul(mul(b2c, gi), gi);
      m[i] = mi;
      v[i] = vi;
      T denom_src = vi;
      if (h.amsgrad) {
        denom_src = vmax[i] < vi ? vi : vmax[i];  // std::max(vmax, vi), NaN included
        vmax[i] = denom_src;
      }
      const T denom = sqrt(denom_src) / inv_bc2 + e;
      p[i] = pi + mul(neg_step, mi / denom);
    }
  }
}

unsigned chunk_grid(int64_t n) { return static_cast<unsigned>(std::min<int64_t>(n, 65535)); }

}  // namespace

void launch_fused_sgd(DType dtype, const OptimChunk* chunks, int64_t n, const SgdHyper& h, void* stream) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (dtype == DType::Float32) fused_sgd_kernel<float><<<chunk_grid(n), kThreads, 0, s>>>(chunks, n, h);
  else fused_sgd_kernel<double><<<chunk_grid(n), kThreads, 0, s>>>(chunks, n, h);
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_fused_adam(DType dtype, const OptimChunk* chunks, int64_t n, const AdamHyper& h, void* stream) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (dtype == DType::Float32) fused_adam_kernel<float><<<chunk_grid(n), kThreads, 0, s>>>(chunks, n, h);
  else fused_adam_kernel<double><<<chunk_grid(n), kThreads, 0, s>>>(chunks, n, h);
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
