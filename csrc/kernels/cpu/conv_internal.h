// What the convolution kernels share (conv.cpp: im2col, col2im, pooling; conv_transpose.cpp): the window
// geometry and col2im's scatter of patch rows into an image.
//
//   ConvGeometry g{...};                      // image (c, h, w), patch grid (ho, wo), kernel, stride, ...
//   col2im_add_image(rows, L, img, g);        // img[c][ih][iw] += every patch row element landing there
#pragma once
#include <algorithm>
#include <cstdint>

namespace hy::kernels::cpu {

/// A sliding window over an (n, c, h, w) image: kernel (kh, kw), dilation (dh, dw), zero padding (ph, pw),
/// stride (sh, sw), and the (ho, wo) grid of window positions ("patches").
struct ConvGeometry {
  int64_t n, c, h, w, kh, kw, dh, dw, ph, pw, sh, sw, ho, wo;
};

/// Patch columns ow in [lo, hi) whose image column ow * sw + off lies inside [0, w).
inline void conv_ow_range(int64_t off, int64_t sw, int64_t w, int64_t wo, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : std::min<int64_t>(wo, (-off + sw - 1) / sw);
  hi = w - off > 0 ? std::min<int64_t>(wo, (w - off + sw - 1) / sw) : 0;
  if (hi < lo) hi = lo;
}

/// Adds one image's patch rows into its (c, h, w) planes: row k = (channel, i, j) tap holds ho * wo values
/// (row-major over the patch grid) at rows + k * row_stride. The caller initializes img (zeros, a bias).
/// Why this order: each of the c * kh * kw rows is read front to back and added into its channel's plane
/// (a few KiB, in L1), a shifted row at a time; an output-row-major order jumped between the rows every wo
/// elements (3x slower on the MNIST net's 32->64 conv).
template <typename T>
void col2im_add_image(const T* rows, int64_t row_stride, T* img, const ConvGeometry& g) {
  const int64_t taps = g.kh * g.kw;
  for (int64_t k = 0; k < g.c * taps; ++k) {
    const int64_t c = k / taps, i = (k / g.kw) % g.kh, j = k % g.kw;
    const T* row = rows + k * row_stride;
    T* plane = img + c * g.h * g.w;
    int64_t lo = 0, hi = 0;
    conv_ow_range(j * g.dw - g.pw, g.sw, g.w, g.wo, lo, hi);
    for (int64_t oh = 0; oh < g.ho; ++oh) {
      const int64_t ih = oh * g.sh - g.ph + i * g.dh;
      if (ih < 0 || ih >= g.h) continue;
      T* __restrict out_line = plane + ih * g.w + (j * g.dw - g.pw);
      const T* __restrict seg = row + oh * g.wo;
      if (g.sw == 1) {
        for (int64_t ow = lo; ow < hi; ++ow) out_line[ow] += seg[ow];
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) out_line[ow * g.sw] += seg[ow];
      }
    }
  }
}

}  // namespace hy::kernels::cpu
