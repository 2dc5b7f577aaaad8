// The CUDA kernels of flip, pad, repeat and tile: each is one index-mapped copy (shape_copy.cu) from the
// input, read in place through its strides, into a fresh dense result. Argument checks, their order and
// wording follow the CPU kernels (kernels/cpu/shape_ops.cpp).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/scalar_check.h"
#include "core/shape_util.h"
#include "cuda/glue_internal.h"
#include "cuda/reduce_glue_internal.h"

namespace hy::kernels::cuda {
namespace {

using hy::cuda::AxisMap;
using hy::cuda::PadMode;

struct Axis {
  int64_t out_size, in_size, in_stride, before;
  AxisMap map;
};

// The axes of an output of self's rank: every dim copied as it is.
std::vector<Axis> same_axes(const Tensor& self) {
  std::vector<Axis> axes;
  for (int64_t d = 0; d < self.dim(); ++d)
    axes.push_back({self.shape()[d], self.shape()[d], self.strides()[d], 0, AxisMap::AxisMap_Same});
  return axes;
}

// out (dense, of the axes' output sizes) = self read through the axes. Size-1 dims that always read
// coordinate 0 are dropped and neighbouring copied dims that self lays out contiguously are merged, so
// only unusual layouts reach the kernel's dim limit.
void run(const char* op, const Tensor& out, const Tensor& self, const std::vector<Axis>& axes, PadMode mode,
         uint64_t fill_bits) {
  if (out.numel() == 0) return;
  std::vector<Axis> kept;
  for (const Axis& a : axes) {
    const bool trivial = a.out_size == 1 && a.in_size == 1 && (a.map != AxisMap::AxisMap_Pad || a.before == 0);
    if (trivial) continue;
    if (!kept.empty() && kept.back().map == AxisMap::AxisMap_Same && a.map == AxisMap::AxisMap_Same &&
        kept.back().in_stride == a.in_stride * a.in_size) {
      kept.back().out_size *= a.out_size;
      kept.back().in_size *= a.in_size;
      kept.back().in_stride = a.in_stride;
      continue;
    }
    kept.push_back(a);
  }
  HY_CHECK(static_cast<int>(kept.size()) <= hy::cuda::kMaxMapDims, ValueError, op, ": the CUDA kernel handles at most ",
           hy::cuda::kMaxMapDims, " dims (after merging contiguous ones), got ", kept.size());
  hy::cuda::IndexMapGeometry g;
  g.ndim = static_cast<int>(kept.size());
  g.numel = out.numel();
  for (int d = 0; d < g.ndim; ++d) {
    g.out_sizes[d] = kept[d].out_size;
    g.in_sizes[d] = kept[d].in_size;
    g.in_strides[d] = kept[d].in_stride;
    g.before[d] = kept[d].before;
    g.map[d] = kept[d].map;
  }
  g.mode = mode;
  g.fill_bits = fill_bits;
  hy::cuda::launch_index_map_copy(static_cast<int>(out.itemsize()), out.raw_data(), self.raw_data(), g,
                                  hy::cuda::launch_stream(out.device()));
}

}  // namespace

Tensor flip(const Tensor& self, const DimVector& dims) {
  hy::cuda::require_defined(self, "flip", "self");
  std::vector<bool> seen(static_cast<size_t>(std::max<int64_t>(self.dim(), 1)), false);
  std::vector<Axis> axes = same_axes(self);
  for (int64_t x : dims) {
    const int64_t d = wrap_dim(x, self.dim());
    HY_CHECK(!seen[d], ValueError, "flip: dim ", x, " appears more than once in dims ", dims);
    seen[d] = true;
    if (self.dim() == 0 || self.shape()[d] == 0) continue;
    axes[d].map = AxisMap::AxisMap_Flip;
  }
  Tensor out = Tensor::empty(self.shape(), self.dtype(), self.device());
  run("flip", out, self, axes, PadMode::PadMode_Constant, 0);
  return out;
}

Tensor repeat(const Tensor& self, const DimVector& repeats) {
  hy::cuda::require_defined(self, "repeat", "self");
  const int64_t n = static_cast<int64_t>(repeats.size()), lead = n - self.dim();
  HY_CHECK(lead >= 0, ValueError, "repeat: ", n, " repeats ", repeats, " are fewer than the dims of shape ",
           self.shape());
  // Output dim i is repeats[i] copies of self's dim i - lead (a size-1 dim for the extra leading ones).
  Shape out_shape;
  std::vector<Axis> axes;
  for (int64_t i = 0; i < n; ++i) {
    HY_CHECK(repeats[i] >= 0, ValueError, "repeat: repeats must be non-negative, got ", repeats);
    const int64_t size = i < lead ? 1 : self.shape()[i - lead];
    const int64_t stride = i < lead ? 0 : self.strides()[i - lead];
    out_shape.push_back(checked_mul(repeats[i], size, "repeat: result size"));
    axes.push_back({out_shape.back(), size, stride, 0,
                    repeats[i] == 1 ? AxisMap::AxisMap_Same : AxisMap::AxisMap_Repeat});
  }
  Tensor out = Tensor::empty(out_shape, self.dtype(), self.device());
  run("repeat", out, self, axes, PadMode::PadMode_Constant, 0);
  return out;
}

Tensor tile(const Tensor& self, const DimVector& dims) {
  hy::cuda::require_defined(self, "tile", "self");
  DimVector r = dims;
  while (static_cast<int64_t>(r.size()) < self.dim()) r.insert(r.begin(), 1);
  return repeat(self, r);
}

Tensor pad(const Tensor& self, const DimVector& pad, const std::string& mode, double value) {
  hy::cuda::require_defined(self, "pad", "self");
  HY_CHECK(mode == "constant" || mode == "reflect" || mode == "replicate" || mode == "circular", ValueError,
           "pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got '", mode, "'");
  HY_CHECK(pad.size() % 2 == 0, ValueError, "pad: padding ", pad, " must have an even length (pairs per dim)");
  const int64_t pairs = static_cast<int64_t>(pad.size()) / 2;
  HY_CHECK(pairs <= self.dim(), ValueError, "pad: padding ", pad, " covers ", pairs, " dims but the input has shape ",
           self.shape());
  // Pairs run from the last dim backwards: (last_left, last_right, second_last_left, ...).
  auto dim_of = [&](int64_t i) { return self.dim() - 1 - i; };
  std::vector<Axis> axes = same_axes(self);
  Shape shape = self.shape();
  PadMode pm = PadMode::PadMode_Constant;
  uint64_t fill_bits = 0;
  if (mode == "constant") {
    bool fills = false;
    for (int64_t i = 0; i < pairs; ++i) {
      const int64_t d = dim_of(i), l = pad[2 * i], r = pad[2 * i + 1];
      shape[d] += l + r;
      HY_CHECK(shape[d] >= 0, ValueError, "pad: padding ", pad, " crops dim ", d, " of shape ", self.shape(),
               " below zero");
      fills = fills || l > 0 || r > 0;
    }
    // The CPU writes the border with fill_(value), which checks that the value fits the dtype (only when
    // there is a border); the value is converted on the host as fill_ converts it.
    if (fills) {
      check_scalar_fits(Scalar(value), self.dtype(), "fill_", "value");
      HY_DISPATCH_ALL(self.dtype(), "pad", [&] {
        const scalar_t v = Scalar(value).to<scalar_t>();
        std::memcpy(&fill_bits, &v, sizeof v);
      });
    }
  } else {
    pm = mode == "reflect" ? PadMode::PadMode_Reflect
         : mode == "replicate" ? PadMode::PadMode_Replicate
                               : PadMode::PadMode_Circular;
    for (int64_t i = 0; i < pairs; ++i) {
      const int64_t d = dim_of(i), l = pad[2 * i], r = pad[2 * i + 1], n = self.shape()[d];
      HY_CHECK(l >= 0 && r >= 0, ValueError, "pad: negative padding ", pad, " is only supported in 'constant' mode");
      if (l == 0 && r == 0) continue;
      HY_CHECK(n > 0, ValueError, "pad: '", mode, "' padding of dim ", d, " needs a non-empty dim, input shape ",
               self.shape());
      if (mode == "reflect") {
        HY_CHECK(l < n && r < n, ValueError, "pad: reflect padding (", l, ", ", r, ") of dim ", d,
                 " must be smaller than its size; input shape ", self.shape());
      } else if (mode == "circular") {
        HY_CHECK(l <= n && r <= n, ValueError, "pad: circular padding (", l, ", ", r, ") of dim ", d,
                 " may not exceed its size; input shape ", self.shape());
      }
      shape[d] += l + r;
    }
  }
  for (int64_t i = 0; i < pairs; ++i) {
    const int64_t d = dim_of(i);
    if (pad[2 * i] == 0 && pad[2 * i + 1] == 0) continue;
    axes[d].out_size = shape[d];
    axes[d].before = pad[2 * i];
    axes[d].map = AxisMap::AxisMap_Pad;
  }
  Tensor out = Tensor::empty(shape, self.dtype(), self.device());
  run("pad", out, self, axes, pm, fill_bits);
  return out;
}

}  // namespace hy::kernels::cuda
