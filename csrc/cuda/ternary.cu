// Ternary elementwise ops: where (a bool condition selecting between two values) and clamp with tensor
// bounds, plus clamp's one-bound and number-bound forms through the generic launcher. The element math
// is the generated hy::scalar_ops functors (where, clamp_tensor_*: NaN bounds propagate, min > max gives
// max, as on the CPU).
//
// The launcher of elementwise.cuh takes one or two inputs of one storage type; where's condition is bool
// while its values have any dtype, so three-input ops have their own small launcher here, built the same
// way: a dense path with one aligned vector load per input (each input's vector as wide as the output's),
// and a strided path for broadcast or permuted inputs.
#include "cuda/elementwise.cuh"
#include "cuda/launch_elem_internal.h"
#include "hyflow/ops/scalar_ops_generated.h"

namespace hy::cuda {
namespace {

template <typename SO, typename S0, typename S1, typename S2>
struct Ptrs3 {
  SO* out;
  const S0* a;
  const S1* b;
  const S2* c;
};

template <typename F, typename S0, typename S1, typename S2>
__device__ __forceinline__ auto apply3(const F& f, S0 x, S1 y, S2 z) {
  return f(to_compute<compute_t<S0>>(x), to_compute<compute_t<S1>>(y), to_compute<compute_t<S2>>(z));
}

// Dense inputs and output: VEC consecutive elements per thread, one aligned vector load per input.
template <int VEC, typename SO, typename S0, typename S1, typename S2, typename F>
__global__ void ternary_dense_kernel(Ptrs3<SO, S0, S1, S2> p, int64_t n, F f) {
  struct alignas(sizeof(S0) * VEC) V0 { S0 v[VEC]; };
  struct alignas(sizeof(S1) * VEC) V1 { S1 v[VEC]; };
  struct alignas(sizeof(S2) * VEC) V2 { S2 v[VEC]; };
  struct alignas(sizeof(SO) * VEC) VO { SO v[VEC]; };
  const int64_t stride = int64_t(gridDim.x) * blockDim.x * VEC;
  for (int64_t base = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * VEC; base < n; base += stride) {
    if (base + VEC <= n) {
      const V0 x = *reinterpret_cast<const V0*>(p.a + base);
      const V1 y = *reinterpret_cast<const V1*>(p.b + base);
      const V2 z = *reinterpret_cast<const V2*>(p.c + base);
      VO r;
#pragma unroll
      for (int j = 0; j < VEC; ++j) r.v[j] = from_compute<SO>(apply3(f, x.v[j], y.v[j], z.v[j]));
      *reinterpret_cast<VO*>(p.out + base) = r;
    } else {
      for (int64_t i = base; i < n; ++i) p.out[i] = from_compute<SO>(apply3(f, p.a[i], p.b[i], p.c[i]));
    }
  }
}

// Any geometry of (out, a, b, c): offsets from the coordinates of the linear index (stride 0 broadcasts).
template <typename SO, typename S0, typename S1, typename S2, typename F>
__global__ void ternary_strided_kernel(Ptrs3<SO, S0, S1, S2> p, Geometry<4> g, F f) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += stride) {
    int64_t rest = i, off[4] = {0, 0, 0, 0};
    for (int d = g.ndim - 1; d >= 0; --d) {
      const int64_t coord = rest % g.sizes[d];
      rest /= g.sizes[d];
#pragma unroll
      for (int k = 0; k < 4; ++k) off[k] += coord * g.strides[k][d];
    }
    p.out[off[0]] = from_compute<SO>(apply3(f, p.a[off[1]], p.b[off[2]], p.c[off[3]]));
  }
}

template <typename T> bool aligned_to(const T* ptr, int vec) {
  return reinterpret_cast<uintptr_t>(ptr) % (sizeof(T) * vec) == 0;
}

template <typename SO, typename S0, typename S1, typename S2, typename F>
void launch_ternary(Ptrs3<SO, S0, S1, S2> p, const Geometry<4>& g, F f, void* stream) {
  if (g.numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  constexpr size_t kWidest = std::max({sizeof(SO), sizeof(S0), sizeof(S1), sizeof(S2)});
  constexpr int kVec = std::max<int>(1, std::min<int>(16 / kWidest, 8));
  const bool aligned =
      aligned_to(p.out, kVec) && aligned_to(p.a, kVec) && aligned_to(p.b, kVec) && aligned_to(p.c, kVec);
  if (g.contiguous && aligned) {
    ternary_dense_kernel<kVec><<<grid_for((g.numel + kVec - 1) / kVec), kThreads, 0, s>>>(p, g.numel, f);
  } else if (g.contiguous) {
    ternary_dense_kernel<1><<<grid_for(g.numel), kThreads, 0, s>>>(p, g.numel, f);
  } else {
    ternary_strided_kernel<<<grid_for(g.numel), kThreads, 0, s>>>(p, g, f);
  }
  HY_CUDA_CHECK(cudaGetLastError());
}

template <typename B>
void where_as(void* out, const bool* cond, const void* a, const void* b, const Geometry<4>& g, void* stream) {
  launch_ternary(Ptrs3<B, bool, B, B>{static_cast<B*>(out), cond, static_cast<const B*>(a), static_cast<const B*>(b)},
                 g, hy::scalar_ops::where{}, stream);
}

// clamp with number bounds held in the compute type C, through the generated clamp_tensor functors. Which
// bounds are given is a flag of one kernel (uniform across the launch) rather than three instantiations.
template <typename C> struct ClampScalar {
  C lo, hi;
  bool has_lo, has_hi;
  template <typename T> __device__ T operator()(T x) const {
    if (has_lo && has_hi) return hy::scalar_ops::clamp_tensor_both{}(x, T(lo), T(hi));
    if (has_lo) return hy::scalar_ops::clamp_tensor_min{}(x, T(lo));
    return hy::scalar_ops::clamp_tensor_max{}(x, T(hi));
  }
};

// clamp with one tensor bound: min or max by a flag.
struct ClampOne {
  bool is_min;
  template <typename T> __device__ T operator()(T x, T bound) const {
    return is_min ? hy::scalar_ops::clamp_tensor_min{}(x, bound) : hy::scalar_ops::clamp_tensor_max{}(x, bound);
  }
};

template <typename S>
void clamp_scalar_as(const ClampScalars& bd, void* out, const void* x, const Geometry<2>& g, void* stream) {
  using C = compute_t<S>;
  ClampScalar<C> f{};
  f.has_lo = bd.has_lo;
  f.has_hi = bd.has_hi;
  if constexpr (std::is_integral_v<C>) {
    f.lo = static_cast<C>(bd.lo_i);
    f.hi = static_cast<C>(bd.hi_i);
  } else {
    f.lo = static_cast<C>(bd.lo_f);
    f.hi = static_cast<C>(bd.hi_f);
  }
  launch_elementwise<S, S, 1>(static_cast<S*>(out), InPtrs<S, 1>{{static_cast<const S*>(x)}}, g, f, stream);
}

[[noreturn]] void unsupported(const char* what, DType dtype) {
  throw NotImplementedError(str("CUDA ", what, " kernel: dtype ", dtype_name(dtype), " is not supported"));
}

}  // namespace

// clamp's dtypes: numeric and the 16-bit floats (bool raises before the launch).
#define HY_CLAMP_SWITCH(dtype, M)                         \
  switch (dtype) {                                        \
    case DType::Int32: { M(int32_t); return; }            \
    case DType::Int64: { M(int64_t); return; }            \
    case DType::Float16: { M(__half); return; }           \
    case DType::BFloat16: { M(__nv_bfloat16); return; }   \
    case DType::Float32: { M(float); return; }            \
    case DType::Float64: { M(double); return; }           \
    default: break;                                       \
  }

void launch_where(int itemsize, void* out, const bool* condition, const void* a, const void* b,
                  const Geometry<4>& g, void* stream) {
  switch (itemsize) {
    case 1: return where_as<uint8_t>(out, condition, a, b, g, stream);
    case 2: return where_as<uint16_t>(out, condition, a, b, g, stream);
    case 4: return where_as<uint32_t>(out, condition, a, b, g, stream);
    case 8: return where_as<uint64_t>(out, condition, a, b, g, stream);
    default: throw NotImplementedError(str("CUDA where kernel: ", itemsize, "-byte elements are not supported"));
  }
}

void launch_clamp2(DType dtype, void* out, const void* x, const void* lo, const void* hi, const Geometry<4>& g,
                   void* stream) {
#define HY_CLAMP2(S)                                                                                          \
  launch_ternary(Ptrs3<S, S, S, S>{static_cast<S*>(out), static_cast<const S*>(x), static_cast<const S*>(lo), \
                                   static_cast<const S*>(hi)},                                                \
                 g, hy::scalar_ops::clamp_tensor_both{}, stream)
  HY_CLAMP_SWITCH(dtype, HY_CLAMP2)
#undef HY_CLAMP2
  unsupported("clamp", dtype);
}

void launch_clamp1(bool is_min, DType dtype, void* out, const void* x, const void* bound, const Geometry<3>& g,
                   void* stream) {
#define HY_CLAMP1(S)                                                                                   \
  launch_elementwise<S, S, 2>(static_cast<S*>(out),                                                    \
                              InPtrs<S, 2>{{static_cast<const S*>(x), static_cast<const S*>(bound)}}, g, \
                              ClampOne{is_min}, stream)
  HY_CLAMP_SWITCH(dtype, HY_CLAMP1)
#undef HY_CLAMP1
  unsupported("clamp", dtype);
}

void launch_clamp_scalar(DType dtype, const ClampScalars& bounds, void* out, const void* x, const Geometry<2>& g,
                         void* stream) {
#define HY_CLAMP_SCALAR(S) clamp_scalar_as<S>(bounds, out, x, g, stream)
  HY_CLAMP_SWITCH(dtype, HY_CLAMP_SCALAR)
#undef HY_CLAMP_SCALAR
  unsupported("clamp", dtype);
}

#undef HY_CLAMP_SWITCH

}  // namespace hy::cuda
