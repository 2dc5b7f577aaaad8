// im2col / col2im for convolution: patches as GEMM rows (N, Ho*Wo, C*kh*kw) and their adjoint.
// im2col is parallel over output rows; col2im over images, each written by one thread only.
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "core/parallel.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/conv_internal.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cpu {
namespace {

using Geometry = ConvGeometry;

Geometry geometry(const char* op, const Shape& in, const DimVector& k, const DimVector& d, const DimVector& p,
                  const DimVector& s) {
  HY_CHECK(in.size() == 4, ValueError, op, ": input must be 4-D (N, C, H, W), got shape ", in);
  HY_CHECK(k.size() == 2 && d.size() == 2 && p.size() == 2 && s.size() == 2, ValueError, op,
           ": kernel_size, dilation, padding and stride must have 2 entries each, got ", k, ", ", d, ", ", p,
           ", ", s);
  HY_CHECK(k[0] > 0 && k[1] > 0 && d[0] > 0 && d[1] > 0 && s[0] > 0 && s[1] > 0 && p[0] >= 0 && p[1] >= 0,
           ValueError, op, ": kernel_size, dilation and stride must be positive and padding >= 0, got kernel_size=",
           k, " dilation=", d, " padding=", p, " stride=", s);
  Geometry g{in[0], in[1], in[2], in[3], k[0], k[1], d[0], d[1], p[0], p[1], s[0], s[1], 0, 0};
  g.ho = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.wo = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  HY_CHECK(g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1 >= 0 && g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1 >= 0, ValueError,
           op, ": input of shape ", in, " with padding ", p, " is smaller than the kernel ", k, " with dilation ", d);
  return g;
}

inline void ow_range(int64_t off, int64_t sw, int64_t w, int64_t wo, int64_t& lo, int64_t& hi) {
  conv_ow_range(off, sw, w, wo, lo, hi);
}

// One window offset of max pooling across n outputs: v[k] replaces best[k] (and its index base + k * step)
// when larger, or when NaN unless best[k] already is; restrict + branch-free select so it vectorizes.
template <typename T>
void pool_update(const T* __restrict v, T* __restrict best, int64_t* __restrict best_i, int64_t n, int64_t base,
                 int64_t step) {
  for (int64_t k = 0; k < n; ++k) {
    const T x = v[k], b = best[k];
    const bool take = (x > b) | ((x != x) & (b == b));
    best[k] = take ? x : b;
    best_i[k] = take ? base + k * step : best_i[k];
  }
}

bool low_precision(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

}  // namespace

Tensor im2col(const Tensor& self, const DimVector& kernel_size, const DimVector& dilation, const DimVector& padding,
              const DimVector& stride) {
  hy::cpu::check_defined(self, "im2col", "self");
  if (low_precision(self.dtype()))
    return ops::to_dtype(im2col(ops::to_dtype(self, DType::Float32, false), kernel_size, dilation, padding, stride),
                         self.dtype(), false);
  const Geometry g = geometry("im2col", self.shape(), kernel_size, dilation, padding, stride);
  Tensor x = hy::cpu::contiguous(self);
  const int64_t K = g.c * g.kh * g.kw, L = g.ho * g.wo;
  // Stored patch-major and batch-inner: a contiguous (K, N, L) block, returned as its (N, L, K) view.
  // conv2d then multiplies the weight (O, K) by the whole (K, N*L) block in one GEMM, and its weight
  // gradient is one GEMM with N*L-long dot products (per-image GEMMs of 64x288x576 ran at a third of
  // that speed on the MNIST net); col2im takes the gradient in the same order. Each of the K*N rows is
  // a shifted copy of input rows, which vectorizes (writing (N, L, K) rows gathered 3 floats at a time).
  Tensor block = Tensor::empty(Shape{K, g.n, L}, self.dtype());
  HY_DISPATCH_FLOAT(self.dtype(), "im2col", [&] {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = block.data<scalar_t>();
    parallel_for(0, g.n * K, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, L)),
                 [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t n = r / K, k = r % K;
        const int64_t c = k / (g.kh * g.kw), i = (k / g.kw) % g.kh, j = k % g.kw;
        const scalar_t* plane = src + (n * g.c + c) * g.h * g.w;
        scalar_t* row = dst + (k * g.n + n) * L;
        const int64_t off = j * g.dw - g.pw;  // input column of output column 0
        int64_t lo = 0, hi = 0;
        ow_range(off, g.sw, g.w, g.wo, lo, hi);
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          scalar_t* seg = row + oh * g.wo;
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.h) {
            std::fill(seg, seg + g.wo, scalar_t(0));
            continue;
          }
          const scalar_t* line = plane + ih * g.w + off;
          std::fill(seg, seg + lo, scalar_t(0));
          if (g.sw == 1) {
            // Fixed 8-element steps: these copies are a few dozen floats (24 per row on the MNIST net), and
            // std::copy made each one a memmove call (a sixth of a training step went to call overhead).
            int64_t ow = lo;
            for (; ow + 8 <= hi; ow += 8)
              for (int q = 0; q < 8; ++q) seg[ow + q] = line[ow + q];
            for (; ow < hi; ++ow) seg[ow] = line[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) seg[ow] = line[ow * g.sw];
          }
          std::fill(seg + hi, seg + g.wo, scalar_t(0));
        }
      }
    });
  });
  return ops::permute(block, DimVector{1, 2, 0});
}

Tensor col2im(const Tensor& self, const DimVector& input_size, const DimVector& kernel_size, const DimVector& dilation,
              const DimVector& padding, const DimVector& stride) {
  hy::cpu::check_defined(self, "col2im", "self");
  if (low_precision(self.dtype()))
    return ops::to_dtype(col2im(ops::to_dtype(self, DType::Float32, false), input_size, kernel_size, dilation,
                                padding, stride),
                         self.dtype(), false);
  const Geometry g = geometry("col2im", input_size, kernel_size, dilation, padding, stride);
  const int64_t K = g.c * g.kh * g.kw;
  HY_CHECK(self.dim() == 3 && self.shape()[0] == g.n && self.shape()[1] == g.ho * g.wo && self.shape()[2] == K,
           ValueError, "col2im: self must have shape (", g.n, ", ", g.ho * g.wo, ", ", K, ") for input_size ",
           input_size, ", got ", self.shape());
  // Patch-major memory (each (n, k) row of L values contiguous: (K, N, L) as conv2d's backward GEMM
  // produces it, or (N, K, L)) is read in place; anything else is made a contiguous (N, L, K) first.
  const int64_t L = g.ho * g.wo;
  const bool patch_major = L > 1 && K > 1 && self.strides()[1] == 1;
  Tensor cols = patch_major ? self : hy::cpu::contiguous(self);
  const int64_t s_l = K, s_k = 1;  // element strides of the contiguous (N, L, K) path
  const int64_t row_n = self.strides()[0], row_k = self.strides()[2];  // patch-major row (n, k) offsets
  Tensor out = Tensor::empty(input_size, self.dtype());
  HY_DISPATCH_FLOAT(self.dtype(), "col2im", [&] {
    const scalar_t* src = cols.data<scalar_t>();
    scalar_t* dst = out.data<scalar_t>();
    // One image per task: its patch rows are read in order and scattered into its own C*H*W block
    // (small enough to stay in cache), so no two threads write the same element.
    parallel_for(0, g.n, 1, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        scalar_t* img = dst + n * g.c * g.h * g.w;
        for (int64_t i = 0; i < g.c * g.h * g.w; ++i) img[i] = scalar_t(0);
        if (patch_major) {  // each (n, k) row of L values contiguous: the scatter conv_transpose2d shares
          col2im_add_image(src + n * row_n, row_k, img, g);
          continue;
        }
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          const scalar_t* rows = src + n * L * K + oh * g.wo * s_l;
          for (int64_t c = 0; c < g.c; ++c) {
            scalar_t* plane = img + c * g.h * g.w;
            for (int64_t i = 0; i < g.kh; ++i) {
              const int64_t ih = oh * g.sh - g.ph + i * g.dh;
              if (ih < 0 || ih >= g.h) continue;
              scalar_t* line = plane + ih * g.w;
              for (int64_t j = 0; j < g.kw; ++j) {
                const scalar_t* cell = rows + ((c * g.kh + i) * g.kw + j) * s_k;
                int64_t lo = 0, hi = 0;
                ow_range(j * g.dw - g.pw, g.sw, g.w, g.wo, lo, hi);
                scalar_t* out_line = line + (j * g.dw - g.pw);
                for (int64_t ow = lo; ow < hi; ++ow) out_line[ow * g.sw] += cell[ow * s_l];
              }
            }
          }
        }
      }
    });
  });
  return out;
}

}  // namespace hy::kernels::cpu

namespace hy::kernels::cpu {

std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& self, const DimVector& kernel_size,
                                                   const DimVector& stride, const DimVector& padding,
                                                   const DimVector& dilation) {
  const char* op = "max_pool2d_with_indices";
  hy::cpu::check_defined(self, op, "self");
  if (low_precision(self.dtype())) {
    auto [v, i] = max_pool2d_with_indices(ops::to_dtype(self, DType::Float32, false), kernel_size, stride, padding,
                                          dilation);
    return {ops::to_dtype(v, self.dtype(), false), i};
  }
  const Geometry g = geometry(op, self.shape(), kernel_size, dilation, padding, stride);
  HY_CHECK(2 * g.ph <= g.kh && 2 * g.pw <= g.kw, ValueError, op, ": padding ", padding,
           " must be at most half the kernel size ", kernel_size);
  Tensor x = hy::cpu::contiguous(self);
  Tensor out = Tensor::empty(Shape{g.n, g.c, g.ho, g.wo}, self.dtype());
  Tensor idx = Tensor::empty(Shape{g.n, g.c, g.ho, g.wo}, DType::Int64);
  HY_DISPATCH_FLOAT(self.dtype(), op, [&] {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = out.data<scalar_t>();
    int64_t* di = idx.data<int64_t>();
    parallel_for(0, g.n * g.c, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, g.h * g.w)),
                 [&](int64_t b, int64_t e) {
      std::vector<scalar_t> tmp_buf(g.wo);
      scalar_t* tmp = tmp_buf.data();
      for (int64_t nc = b; nc < e; ++nc) {
        const scalar_t* plane = src + nc * g.h * g.w;
        scalar_t* o = dst + nc * g.ho * g.wo;
        int64_t* oi = di + nc * g.ho * g.wo;
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          scalar_t* orow = o + oh * g.wo;
          int64_t* irow = oi + oh * g.wo;
          // Interior outputs [lo, hi) (window fully inside) are updated a window offset at a time across the
          // row, branch-free: the first maximum (or first NaN) wins as in the generic loop below.
          const int64_t ih0 = oh * g.sh - g.ph;
          int64_t lo = 0, hi = 0;
          if (ih0 >= 0 && ih0 + (g.kh - 1) * g.dh < g.h) ow_range(-g.pw, g.sw, g.w - (g.kw - 1) * g.dw, g.wo, lo, hi);
          if (g.kh == 2 && g.kw == 2 && g.dh == 1 && g.dw == 1 && g.sw == 2 && lo < hi) {
            // the common 2x2 / stride-2 window: four loads per output, branch-free selects
            const int64_t base = ih0 * g.w - g.pw;
            const scalar_t* r0 = plane + base;
            const scalar_t* r1 = r0 + g.w;
            for (int64_t ow = lo; ow < hi; ++ow) {
              const int64_t at = base + 2 * ow;
              scalar_t bv = r0[2 * ow];
              int64_t bi = at;
              const scalar_t v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
              if (v1 != v1 || v2 != v2 || v3 != v3 || bv != bv) {  // rare: NaN, the first one wins
                const scalar_t vs[3] = {v1, v2, v3};
                const int64_t ats[3] = {at + 1, at + g.w, at + g.w + 1};
                for (int q = 0; q < 3 && bv == bv; ++q)
                  if (!(vs[q] <= bv)) {
                    bv = vs[q];
                    bi = ats[q];
                  }
              } else {
                // max keeps its first argument on ties (first maximum wins). The index select is done
                // with masks: written as `?:` the compiler may emit branches, which random data
                // mispredicts half the time (that made this loop 4x slower).
                auto pick = [](int64_t cur, int64_t cand, bool take) {
                  const int64_t m = -static_cast<int64_t>(take);
                  return (cur & ~m) | (cand & m);
                };
                bi = pick(bi, at + 1, v1 > bv);
                bv = std::max(bv, v1);
                bi = pick(bi, at + g.w, v2 > bv);
                bv = std::max(bv, v2);
                bi = pick(bi, at + g.w + 1, v3 > bv);
                bv = std::max(bv, v3);
              }
              orow[ow] = bv;
              irow[ow] = bi;
            }
          } else
          for (int64_t i = 0; i < g.kh; ++i) {
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t off = (ih0 + i * g.dh) * g.w + j * g.dw - g.pw;
              if (i == 0 && j == 0) {
                for (int64_t ow = lo; ow < hi; ++ow) {
                  orow[ow] = plane[off + ow * g.sw];
                  irow[ow] = off + ow * g.sw;
                }
                continue;
              }
              // gather the strided column first so the select loop is contiguous and vectorizes
              for (int64_t ow = lo; ow < hi; ++ow) tmp[ow] = plane[off + ow * g.sw];
              pool_update(tmp + lo, orow + lo, irow + lo, hi - lo, off + lo * g.sw, g.sw);
            }
          }
          for (int64_t ow = 0; ow < g.wo; ++ow) {
            if (ow == lo && lo < hi) {
              ow = hi - 1;
              continue;
            }
            scalar_t best = -std::numeric_limits<scalar_t>::infinity();
            int64_t best_i = -1;
            for (int64_t i = 0; i < g.kh; ++i) {
              const int64_t ih = oh * g.sh - g.ph + i * g.dh;
              if (ih < 0 || ih >= g.h) continue;
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t iw = ow * g.sw - g.pw + j * g.dw;
                if (iw < 0 || iw >= g.w) continue;
                const scalar_t v = plane[ih * g.w + iw];
                if (best_i < 0 || v > best || std::isnan(v)) {
                  best = v;
                  best_i = ih * g.w + iw;
                  if (std::isnan(v)) goto done;
                }
              }
            }
          done:
            o[oh * g.wo + ow] = best;
            oi[oh * g.wo + ow] = best_i;
          }
        }
      }
    });
  });
  return {out, idx};
}

Tensor max_pool2d_backward(const Tensor& self, const Tensor& indices, const DimVector& input_size) {
  const char* op = "max_pool2d_backward";
  hy::cpu::check_defined(self, op, "self");
  HY_CHECK(indices.dtype() == DType::Int64 && indices.shape() == self.shape() && self.dim() == 4, ValueError, op,
           ": self must be 4-D and indices an int64 tensor of the same shape, got ", self.describe(), " and ",
           indices.describe());
  HY_CHECK(input_size.size() == 4 && input_size[0] == self.shape()[0] && input_size[1] == self.shape()[1], ValueError,
           op, ": input_size ", input_size, " does not fit gradient shape ", self.shape());
  if (low_precision(self.dtype()))
    return ops::to_dtype(max_pool2d_backward(ops::to_dtype(self, DType::Float32, false), indices, input_size),
                         self.dtype(), false);
  Tensor grad = hy::cpu::contiguous(self), ind = hy::cpu::contiguous(indices);
  Tensor out = Tensor::empty(input_size, self.dtype());
  const int64_t nc_total = input_size[0] * input_size[1], hw = input_size[2] * input_size[3];
  const int64_t l = self.shape()[2] * self.shape()[3];
  HY_DISPATCH_FLOAT(self.dtype(), op, [&] {
    const scalar_t* g = grad.data<scalar_t>();
    const int64_t* ix = ind.data<int64_t>();
    scalar_t* dst = out.data<scalar_t>();
    parallel_for(0, nc_total, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, hw)),
                 [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc) {
        scalar_t* plane = dst + nc * hw;
        for (int64_t i = 0; i < hw; ++i) plane[i] = scalar_t(0);
        for (int64_t i = 0; i < l; ++i) {
          const int64_t at = ix[nc * l + i];
          HY_CHECK(at >= 0 && at < hw, IndexError, "max_pool2d_backward: index ", at, " out of range for ", hw,
                   " input elements per plane");
          plane[at] += g[nc * l + i];
        }
      }
    });
  });
  return out;
}

}  // namespace hy::kernels::cpu
