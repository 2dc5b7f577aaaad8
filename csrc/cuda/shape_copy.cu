// flip, pad, repeat and tile: one gather kernel over the dense output. Each output element splits its
// linear index into coordinates, maps every coordinate to a source coordinate by its dim's rule (keep,
// mirror, modulo, or pad by mode) and copies one element read through the source's strides, so any
// input layout is read in place and each op is one pass. Elements move as raw bytes (instantiated per
// item size, not per dtype; complex included). Index math is 32-bit when the output has fewer than 2^31
// elements (64-bit division is several times slower on the GPU) and 64-bit otherwise.
#include <cstring>

#include "cuda/elementwise.cuh"

namespace hy::cuda {
namespace {

// Element types by size and by the alignment the pointers actually have (a complex64 view of float32
// memory may be only 4-byte aligned).
struct alignas(16) Bytes16 {
  uint64_t w[2];
};
struct Words8 {
  uint32_t w[2];
};
struct Words16 {
  uint32_t w[4];
};

// The source coordinate of output coordinate c along one dim; false when it lies in a constant pad.
__device__ __forceinline__ bool source_coord(AxisMap map, PadMode mode, int64_t c, int64_t n, int64_t before,
                                             int64_t* s) {
  switch (map) {
    case AxisMap::AxisMap_Same: *s = c; return true;
    case AxisMap::AxisMap_Flip: *s = n - 1 - c; return true;
    case AxisMap::AxisMap_Repeat: *s = c % n; return true;  // n > 0: an empty source gives an empty output
    case AxisMap::AxisMap_Pad: break;
  }
  int64_t t = c - before;
  if (t >= 0 && t < n) {
    *s = t;
    return true;
  }
  // The glue checked the widths: reflect < n, circular <= n, so one reflection or wrap lands inside.
  switch (mode) {
    case PadMode::PadMode_Constant: return false;
    case PadMode::PadMode_Reflect: t = t < 0 ? -t : 2 * (n - 1) - t; break;
    case PadMode::PadMode_Replicate: t = t < 0 ? 0 : n - 1; break;
    case PadMode::PadMode_Circular: t = t < 0 ? t + n : t - n; break;
  }
  *s = t;
  return true;
}

template <typename E, typename I>
__global__ void index_map_kernel(E* __restrict__ out, const E* __restrict__ in, IndexMapGeometry g, E fill) {
  const I numel = static_cast<I>(g.numel);
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < numel; i += stride) {
    I rest = i;
    int64_t off = 0;
    bool inside = true;
    for (int d = g.ndim - 1; d >= 0; --d) {
      const I size = static_cast<I>(g.out_sizes[d]);
      const I c = rest % size;
      rest /= size;
      int64_t s = 0;
      if (g.map[d] == AxisMap::AxisMap_Repeat) {
        s = static_cast<int64_t>(c % static_cast<I>(g.in_sizes[d]));
      } else {
        inside &= source_coord(g.map[d], g.mode, static_cast<int64_t>(c), g.in_sizes[d], g.before[d], &s);
      }
      off += s * g.in_strides[d];
    }
    out[i] = inside ? in[off] : fill;
  }
}

template <typename E>
void index_map_as(void* out, const void* in, const IndexMapGeometry& g, cudaStream_t s) {
  E fill;
  static_assert(sizeof(E) <= 16);
  unsigned char bytes[16] = {};
  memcpy(bytes, &g.fill_bits, sizeof g.fill_bits);  // the value's storage bytes (complex: real part first)
  memcpy(&fill, bytes, sizeof(E));
  const unsigned grid = grid_for(g.numel);
  // 32-bit math when every output index fits (the loop's i + stride must not wrap either).
  if (g.numel + int64_t(grid) * kThreads < (int64_t{1} << 31))
    index_map_kernel<E, uint32_t><<<grid, kThreads, 0, s>>>(static_cast<E*>(out), static_cast<const E*>(in), g, fill);
  else
    index_map_kernel<E, int64_t><<<grid, kThreads, 0, s>>>(static_cast<E*>(out), static_cast<const E*>(in), g, fill);
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void launch_index_map_copy(int itemsize, void* out, const void* in, const IndexMapGeometry& g, void* stream) {
  if (g.numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const auto aligned = [&](uintptr_t a) {
    return reinterpret_cast<uintptr_t>(out) % a == 0 && reinterpret_cast<uintptr_t>(in) % a == 0;
  };
  switch (itemsize) {
    case 1: return index_map_as<uint8_t>(out, in, g, s);
    case 2: return index_map_as<uint16_t>(out, in, g, s);
    case 4: return index_map_as<uint32_t>(out, in, g, s);
    case 8: return aligned(8) ? index_map_as<uint64_t>(out, in, g, s) : index_map_as<Words8>(out, in, g, s);
    case 16: return aligned(16) ? index_map_as<Bytes16>(out, in, g, s) : index_map_as<Words16>(out, in, g, s);
    default: throw NotImplementedError(str("CUDA index-mapped copy: item size ", itemsize, " is not supported"));
  }
}

}  // namespace hy::cuda
