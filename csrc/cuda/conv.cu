// im2col / col2im (convolution as a GEMM over patch rows, conv2d's forward and backward) and max
// pooling on CUDA: one thread per output element each, the CPU kernels' layouts (kernels/cpu/conv.cpp).
#include "cuda/elementwise.cuh"

namespace hy::cuda {
namespace {

template <typename T>
__global__ void im2col_kernel(T* block, const T* in, ConvGeometry g) {
  const int64_t L = g.ho * g.wo, K = g.c * g.kh * g.kw, total = K * g.n * L;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t l = t % L, n = (t / L) % g.n, k = t / (L * g.n);  // block[k][n][l]
    const int64_t c = k / (g.kh * g.kw), i = (k / g.kw) % g.kh, j = k % g.kw;
    const int64_t ih = (l / g.wo) * g.sh - g.ph + i * g.dh, iw = (l % g.wo) * g.sw - g.pw + j * g.dw;
    block[t] = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w ? in[((n * g.c + c) * g.h + ih) * g.w + iw] : T(0);
  }
}

template <typename T>
__global__ void col2im_kernel(T* out, const T* cols, int64_t s_n, int64_t s_l, int64_t s_k, ConvGeometry g) {
  const int64_t total = g.n * g.c * g.h * g.w;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t iw = t % g.w, ih = (t / g.w) % g.h, c = (t / (g.w * g.h)) % g.c, n = t / (g.w * g.h * g.c);
    T acc = T(0);
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t oh_at = ih + g.ph - i * g.dh;  // oh * sh
      if (oh_at < 0 || oh_at % g.sh != 0 || oh_at / g.sh >= g.ho) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t ow_at = iw + g.pw - j * g.dw;
        if (ow_at < 0 || ow_at % g.sw != 0 || ow_at / g.sw >= g.wo) continue;
        const int64_t l = (oh_at / g.sh) * g.wo + ow_at / g.sw, k = (c * g.kh + i) * g.kw + j;
        acc += cols[n * s_n + l * s_l + k * s_k];
      }
    }
    out[t] = acc;
  }
}

template <typename T>
__global__ void max_pool2d_kernel(T* out, int64_t* indices, const T* in, ConvGeometry g) {
  const int64_t total = g.n * g.c * g.ho * g.wo;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t ow = t % g.wo, oh = (t / g.wo) % g.ho, nc = t / (g.wo * g.ho);
    const T* plane = in + nc * g.h * g.w;
    T best = T(-INFINITY);
    int64_t best_i = -1;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ih = oh * g.sh - g.ph + i * g.dh;
      if (ih < 0 || ih >= g.h) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t iw = ow * g.sw - g.pw + j * g.dw;
        if (iw < 0 || iw >= g.w) continue;
        const T v = plane[ih * g.w + iw];
        if (best_i < 0 || v > best || v != v) {
          best = v;
          best_i = ih * g.w + iw;
          if (v != v) goto done;  // the first NaN wins
        }
      }
    }
  done:
    out[t] = best;
    indices[t] = best_i;
  }
}

}  // namespace

#define HY_CONV_FLOAT_SWITCH(dtype, MACRO, op)                     \
  switch (dtype) {                                                 \
    case DType::Float32: { MACRO(float); break; }                  \
    case DType::Float64: { MACRO(double); break; }                 \
    default: throw TypeError(str(op, ": CUDA compute dtype ", dtype_name(dtype), " is not float32 or float64")); \
  }

void launch_im2col(DType dtype, void* block, const void* in, const ConvGeometry& g, void* stream) {
  const int64_t total = g.c * g.kh * g.kw * g.n * g.ho * g.wo;
  if (total == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_IM2COL(T) \
  im2col_kernel<T><<<grid_for(total), kThreads, 0, s>>>(static_cast<T*>(block), static_cast<const T*>(in), g)
  HY_CONV_FLOAT_SWITCH(dtype, HY_IM2COL, "im2col")
#undef HY_IM2COL
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_col2im(DType dtype, void* out, const void* cols, const int64_t (&col_strides)[3], const ConvGeometry& g,
                   void* stream) {
  const int64_t total = g.n * g.c * g.h * g.w;
  if (total == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_COL2IM(T)                                                                                          \
  col2im_kernel<T><<<grid_for(total), kThreads, 0, s>>>(static_cast<T*>(out), static_cast<const T*>(cols),  \
                                                        col_strides[0], col_strides[1], col_strides[2], g)
  HY_CONV_FLOAT_SWITCH(dtype, HY_COL2IM, "col2im")
#undef HY_COL2IM
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_max_pool2d(DType dtype, void* out, int64_t* indices, const void* in, const ConvGeometry& g, void* stream) {
  const int64_t total = g.n * g.c * g.ho * g.wo;
  if (total == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_MAX_POOL(T)                                                                                      \
  max_pool2d_kernel<T><<<grid_for(total), kThreads, 0, s>>>(static_cast<T*>(out), indices,                \
                                                            static_cast<const T*>(in), g)
  HY_CONV_FLOAT_SWITCH(dtype, HY_MAX_POOL, "max_pool2d_with_indices")
#undef HY_MAX_POOL
  HY_CUDA_CHECK(cudaGetLastError());
}

#undef HY_CONV_FLOAT_SWITCH

}  // namespace hy::cuda
