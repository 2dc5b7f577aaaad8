// The .cu <-> .cpp boundary (as launch_internal.h) of the advanced-indexing kernels (advanced_index.cu:
// index, index_put_, nonzero, masked_select), the sorts (sort.cu: sort, argsort, topk) and the particle
// transfers (particle.cu: deposit_cic, interp_cic and their gradients): plain pointers, dtypes and
// geometries, no Tensor and no CUDA types.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/launch_internal.h"

namespace hy::cuda {

// --- advanced indexing (advanced_index.cu) ------------------------------------------------------------
/// One index tensor of `index`/`index_put_`: over the geometry (tensor 0 the dense int64 offsets `off`,
/// tensor 1 the int64 index broadcast to the indices' common shape), off[i] = (first ? 0 : off[i]) +
/// wrap(index) * stride, where wrap maps [-size, 0) to [0, size). An entry outside [-size, size) writes
/// nothing to `off` and lowers *first_bad (device memory set to all ones beforehand) to its position.
void launch_index_offsets(int64_t* off, const int64_t* index, const Geometry<2>& g, int64_t size, int64_t stride,
                          bool first, unsigned long long* first_bad, void* stream);
/// out[i] = i for i < n (the entry numbers a sort carries along).
void launch_iota(int64_t* out, int64_t n, void* stream);
/// index_put_ without accumulate: winner[b] is true for the last of the `n` entries (in entry order)
/// that address each element offset; `keys_sorted`/`entries_sorted` are the offsets and entry numbers
/// after a stable sort by offset (launch_radix_sort_pairs).
void launch_mark_last(const uint64_t* keys_sorted, const int64_t* entries_sorted, int64_t n, bool* winner,
                      void* stream);
/// self[o0 + off[o2]] = values[o1] over the geometry (self's trailing-dim view, the values, the dense
/// offsets broadcast along the trailing dims), elements moved as `itemsize` raw bytes; entries whose
/// winner[o2] is false are skipped (winner may be null: every entry writes).
void launch_index_put(int itemsize, void* self, const void* values, const int64_t* off, const bool* winner,
                      const Geometry<3>& g, void* stream);
/// *count += the number of true entries of the dense bool mask (count: device memory, zeroed first).
void launch_count_true(const bool* mask, int64_t n, unsigned long long* count, void* stream);
/// Scratch (CUB temporary storage) of the selections below over n entries; itemsize 0 is nonzero's.
size_t select_scratch_bytes(int itemsize, int64_t n);
/// The positions (0..n-1, ascending) where the dense bool mask is true, into `out`; *num_selected (device)
/// receives their number (the caller sized `out` by launch_count_true).
void launch_select_positions(const bool* mask, int64_t n, int64_t* out, int64_t* num_selected, void* scratch,
                             size_t scratch_bytes, void* stream);
/// The elements (raw bytes, `itemsize` wide) of the dense `in` where the dense mask is true, in order.
void launch_masked_select(int itemsize, const void* in, const bool* mask, int64_t n, void* out,
                          int64_t* num_selected, void* scratch, size_t scratch_bytes, void* stream);
/// Row-major coordinates: out[r * ndim + d] is coordinate d of linear position linear[r] in `sizes`.
struct NdSizes {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
};
void launch_unravel(const int64_t* linear, int64_t count, const NdSizes& shape, int64_t* out, void* stream);

// --- sorting (sort.cu) ----------------------------------------------------------------------------------
/// Scratch of launch_sort_positions for `rows` rows of `cols` elements of `dtype`.
size_t sort_scratch_bytes(DType dtype, int64_t rows, int64_t cols);
/// Stable sort of each row (ties keep their input order, NaN larger than every number: the CPU kernel's
/// total order), reading the input through the geometry's tensor 1 (shape [..., cols], any strides;
/// tensor 0 is the dense output layout): the sorted positions (0..cols-1) of each row into the dense
/// [rows, cols] int64 `positions`. Every dtype but complex (NotImplementedError).
void launch_sort_positions(DType dtype, const void* in, const Geometry<2>& g, int64_t rows, int64_t cols,
                           bool descending, int64_t* positions, void* scratch, size_t scratch_bytes, void* stream);
/// A stable ascending radix sort of n (uint64 key, int64 value) pairs over the keys' low `key_bits` bits.
size_t radix_sort_pairs_scratch_bytes(int64_t n, int key_bits);
void launch_radix_sort_pairs(const uint64_t* keys_in, uint64_t* keys_out, const int64_t* values_in,
                             int64_t* values_out, int64_t n, int key_bits, void* scratch, size_t scratch_bytes,
                             void* stream);

// --- particle-grid transfers (particle.cu) ---------------------------------------------------------------
/// A checked 1-D grid of `n` nodes with spacing dx (inv_dx = 1 / dx, computed once on the host).
struct CicGrid {
  int64_t n = 0;
  double inv_dx = 1.0;
  bool periodic = true;
};
/// Adds each particle's weight to its two nodes of the zeroed `grid` (float32/float64, dense) with
/// atomicAdd. A particle outside the grid (or not finite) adds nothing and lowers *first_bad to its number.
void launch_deposit_cic(DType dtype, void* grid, const void* positions, const void* weights, int64_t np,
                        const CicGrid& c, unsigned long long* first_bad, void* stream);
/// Per particle: (1 - f) grid[i] + f grid[j] (interpolation), or scale[p] (grid[j] - grid[i]) / dx
/// (derivative, scale non-null); bad particles as above (their output is 0).
void launch_cic_per_particle(DType dtype, void* out, const void* grid, const void* positions, const void* scale,
                             int64_t np, const CicGrid& c, unsigned long long* first_bad, void* stream);

}  // namespace hy::cuda
