// Shape manipulation (the op table's shape family): cat/stack, split/chunk (views), flip, roll,
// repeat/tile and pad. Every copy here goes through copy_into, the parallel elementwise engine, over
// views of the input and the output, so none of these ops needs a dtype-specific loop of its own.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/parallel.h"
#include "core/type_promotion.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::any {

std::vector<Tensor> split(const Tensor& self, const DimVector& split_size_or_sections, int64_t dim) {
  hy::cpu::check_defined(self, "split", "self");
  HY_CHECK(self.dim() > 0, ValueError, "split: cannot split a 0-d tensor");
  HY_CHECK(!split_size_or_sections.empty(), ValueError, "split: split_size_or_sections must not be empty");
  const int64_t d = wrap_dim(dim, self.dim()), size = self.shape()[d];
  std::vector<Tensor> out;
  if (split_size_or_sections.size() == 1) {  // one int: pieces of that size, the last one smaller
    const int64_t s = split_size_or_sections[0];
    HY_CHECK(s >= 0, ValueError, "split: split_size must be non-negative, got ", s);
    HY_CHECK(s > 0 || size == 0, ValueError, "split: split_size can only be 0 if the dim is empty, but dim ", d,
             " of shape ", self.shape(), " has size ", size);
    const int64_t pieces = s == 0 ? 1 : std::max<int64_t>(1, (size + s - 1) / s);
    for (int64_t i = 0; i < pieces; ++i)
      out.push_back(ops::slice(self, d, i * s, std::min(size, (i + 1) * s), 1));
    return out;
  }
  int64_t total = 0;
  for (int64_t s : split_size_or_sections) {
    HY_CHECK(s >= 0, ValueError, "split: section sizes must be non-negative, got ", split_size_or_sections);
    total += s;
  }
  HY_CHECK(total == size, ValueError, "split: sections ", split_size_or_sections, " sum to ", total, " but dim ", d,
           " of shape ", self.shape(), " has size ", size);
  int64_t pos = 0;
  for (int64_t s : split_size_or_sections) {
    out.push_back(ops::slice(self, d, pos, pos + s, 1));
    pos += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& self, int64_t chunks, int64_t dim) {
  hy::cpu::check_defined(self, "chunk", "self");
  HY_CHECK(self.dim() > 0, ValueError, "chunk: cannot chunk a 0-d tensor");
  HY_CHECK(chunks > 0, ValueError, "chunk: chunks must be positive, got ", chunks);
  const int64_t d = wrap_dim(dim, self.dim()), size = self.shape()[d];
  if (size == 0) {  // PyTorch returns `chunks` empty pieces here
    std::vector<Tensor> out;
    for (int64_t i = 0; i < chunks; ++i) out.push_back(ops::slice(self, d, 0, 0, 1));
    return out;
  }
  // Like PyTorch: pieces of ceil(size / chunks), so fewer than `chunks` pieces may come back.
  return split(self, DimVector{(size + chunks - 1) / chunks}, d);
}

}  // namespace hy::kernels::any

namespace hy::kernels::cpu {
using hy::cpu::copy_into;

namespace {

// PyTorch keeps accepting 1-D empty tensors in cat whatever the other shapes are (old code made them
// as placeholders); they are skipped.
bool is_legacy_empty(const Tensor& t) { return t.dim() == 1 && t.shape()[0] == 0; }

void check_list(const std::vector<Tensor>& tensors, const char* op) {
  HY_CHECK(!tensors.empty(), ValueError, op, ": expected a non-empty list of tensors");
  for (const Tensor& t : tensors) hy::cpu::check_defined(t, op, "tensors");
}

// cat along d when every piece is contiguous and already has the result's dtype: the result is (outer,
// row) and each piece adds one contiguous slab to every row, so one parallel pass of memcpys writes it.
// With few rows (cat along dim 0) the per-piece copies below parallelize better.
bool cat_contiguous(const Tensor& out, const std::vector<Tensor>& pieces, int64_t d) {
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < d; ++k) outer *= out.shape()[k];
  for (int64_t k = d + 1; k < out.dim(); ++k) inner *= out.shape()[k];
  if (outer < 4 * get_num_threads()) return false;
  const int64_t item = out.itemsize();
  std::vector<std::pair<const char*, int64_t>> slabs;  // (data, bytes per row)
  for (const Tensor& t : pieces) {
    if (!t.is_contiguous() || t.dtype() != out.dtype()) return false;
    if (t.numel() > 0) slabs.emplace_back(static_cast<const char*>(t.raw_data()), t.shape()[d] * inner * item);
  }
  const int64_t row = out.shape()[d] * inner;
  char* dst = static_cast<char*>(out.raw_data());
  parallel_for(0, outer, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(row, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      char* p = dst + o * row * item;
      for (const auto& [src, bytes] : slabs) {
        std::memcpy(p, src + o * bytes, static_cast<size_t>(bytes));
        p += bytes;
      }
    }
  });
  return true;
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  check_list(tensors, "cat");
  const DType dt = result_type(tensors);
  int64_t ref = -1;
  for (size_t i = 0; i < tensors.size() && ref < 0; ++i)
    if (!is_legacy_empty(tensors[i])) ref = static_cast<int64_t>(i);
  if (ref < 0) return Tensor::empty({0}, dt);
  const Tensor& r = tensors[ref];
  HY_CHECK(r.dim() > 0, ValueError, "cat: tensor ", ref, " is 0-d and cannot be concatenated (use stack)");
  const int64_t d = wrap_dim(dim, r.dim());
  Shape shape = r.shape();
  shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (is_legacy_empty(t)) continue;
    HY_CHECK(t.dim() == r.dim(), ValueError, "cat: tensor ", i, " has shape ", t.shape(), " but tensor ", ref,
             " has shape ", r.shape(), "; all tensors need the same number of dims");
    for (int64_t k = 0; k < r.dim(); ++k)
      HY_CHECK(k == d || t.shape()[k] == r.shape()[k], ValueError, "cat: sizes must match except in dim ", d,
               ", but tensor ", ref, " has shape ", r.shape(), " and tensor ", i, " has shape ", t.shape());
    shape[d] += t.shape()[d];
  }
  Tensor out = Tensor::empty(shape, dt);
  if (out.numel() == 0) return out;
  std::vector<Tensor> pieces;
  for (const Tensor& t : tensors)
    if (!is_legacy_empty(t)) pieces.push_back(t);
  if (cat_contiguous(out, pieces, d)) return out;
  int64_t pos = 0;
  for (const Tensor& t : pieces) {
    const int64_t n = t.shape()[d];
    if (n > 0) copy_into(ops::slice(out, d, pos, pos + n, 1), t);
    pos += n;
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  check_list(tensors, "stack");
  const Shape& s0 = tensors[0].shape();
  for (size_t i = 1; i < tensors.size(); ++i)
    HY_CHECK(tensors[i].shape() == s0, ValueError, "stack: all tensors need the same shape, but tensor 0 has shape ",
             s0, " and tensor ", i, " has shape ", tensors[i].shape());
  const int64_t d = wrap_dim(dim, tensors[0].dim() + 1);
  std::vector<Tensor> pieces;
  for (const Tensor& t : tensors) pieces.push_back(ops::unsqueeze(t, d));
  return cat(pieces, d);
}

namespace {

// out (contiguous) = view, where the view's last dim has stride -1: each output row is a source row read
// backwards. The copy engine would walk that row element by element; this loop vectorizes.
template <typename E>
void copy_reversed_rows(const Tensor& out, const Tensor& view) {
  const int64_t nd = view.dim(), inner = view.shape()[nd - 1], rows = view.numel() / inner;
  const E* base = static_cast<const E*>(view.raw_data());
  E* dst = static_cast<E*>(out.raw_data());
  parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / inner), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t off = 0;
      for (int64_t k = nd - 2, rem = r; k >= 0; --k) {
        off += (rem % view.shape()[k]) * view.strides()[k];
        rem /= view.shape()[k];
      }
      const E* src = base + off;
      E* o = dst + r * inner;
      for (int64_t i = 0; i < inner; ++i) o[i] = src[-i];
    }
  });
}

}  // namespace

Tensor flip(const Tensor& self, const DimVector& dims) {
  hy::cpu::check_defined(self, "flip", "self");
  std::vector<bool> seen(static_cast<size_t>(std::max<int64_t>(self.dim(), 1)), false);
  Strides st = self.strides();
  int64_t offset = self.offset();
  for (int64_t x : dims) {
    const int64_t d = wrap_dim(x, self.dim());
    HY_CHECK(!seen[d], ValueError, "flip: dim ", x, " appears more than once in dims ", dims);
    seen[d] = true;
    if (self.dim() == 0 || self.shape()[d] == 0) continue;
    // A negative-stride view of self: the flip is one copy of it.
    offset += (self.shape()[d] - 1) * st[d];
    st[d] = -st[d];
  }
  Tensor out = Tensor::empty(self.shape(), self.dtype());
  if (out.numel() == 0) return out;
  Tensor view = Tensor::make_view(self, self.shape(), st, offset);
  if (self.dim() > 0 && st.back() == -1 && self.shape().back() >= 16 && self.itemsize() <= 8) {
    switch (self.itemsize()) {
      case 1: copy_reversed_rows<uint8_t>(out, view); break;
      case 2: copy_reversed_rows<uint16_t>(out, view); break;
      case 4: copy_reversed_rows<uint32_t>(out, view); break;
      default: copy_reversed_rows<uint64_t>(out, view); break;
    }
    return out;
  }
  copy_into(out, view);
  return out;
}

Tensor roll(const Tensor& self, const DimVector& shifts, const std::optional<DimVector>& dims) {
  hy::cpu::check_defined(self, "roll", "self");
  if (!dims || dims->empty()) {  // roll the flattened tensor, then restore the shape
    HY_CHECK(shifts.size() == 1, ValueError, "roll: without dims, shifts must be a single int, got ", shifts);
    Tensor flat = ops::reshape(self, DimVector{self.numel()});
    return ops::reshape(roll(flat, shifts, DimVector{0}), self.shape());
  }
  HY_CHECK(shifts.size() == dims->size(), ValueError, "roll: shifts ", shifts, " and dims ", *dims,
           " must have the same length");
  // Net shift per dim (a dim may be named twice), normalized into [0, size).
  DimVector net(static_cast<size_t>(std::max<int64_t>(self.dim(), 1)), 0);
  for (size_t i = 0; i < shifts.size(); ++i) {
    const int64_t d = wrap_dim((*dims)[i], self.dim());
    const int64_t n = self.dim() == 0 ? 1 : self.shape()[d];
    if (n > 0) net[d] = (((net[d] + shifts[i]) % n) + n) % n;
  }
  std::vector<int64_t> rolled;
  for (int64_t d = 0; d < self.dim(); ++d)
    if (net[d] != 0) rolled.push_back(d);
  Tensor out = Tensor::empty(self.shape(), self.dtype());
  if (out.numel() == 0) return out;
  // The result is 2^k blocks (k rolled dims), each one copy of a block of self: one pass in total.
  for (int64_t mask = 0; mask < (int64_t{1} << rolled.size()); ++mask) {
    Tensor dst = out, src = self;
    for (size_t j = 0; j < rolled.size(); ++j) {
      const int64_t d = rolled[j], n = self.shape()[d], s = net[d];
      const bool wrapped = (mask >> j) & 1;  // the last s entries, moved to the front
      dst = wrapped ? ops::slice(dst, d, 0, s, 1) : ops::slice(dst, d, s, n, 1);
      src = wrapped ? ops::slice(src, d, n - s, n, 1) : ops::slice(src, d, 0, n - s, 1);
    }
    copy_into(dst, src);
  }
  return out;
}

Tensor repeat(const Tensor& self, const DimVector& repeats) {
  hy::cpu::check_defined(self, "repeat", "self");
  const int64_t n = static_cast<int64_t>(repeats.size()), lead = n - self.dim();
  HY_CHECK(lead >= 0, ValueError, "repeat: ", n, " repeats ", repeats, " are fewer than the dims of shape ",
           self.shape());
  // Read self through a view of shape (r0, s0, r1, s1, ...) whose repeat dims have stride 0, so one
  // broadcasting copy writes every repetition.
  Shape vshape, out_shape;
  Strides vstrides;
  for (int64_t i = 0; i < n; ++i) {
    HY_CHECK(repeats[i] >= 0, ValueError, "repeat: repeats must be non-negative, got ", repeats);
    const int64_t size = i < lead ? 1 : self.shape()[i - lead];
    vshape.push_back(repeats[i]);
    vstrides.push_back(0);
    vshape.push_back(size);
    vstrides.push_back(i < lead ? 0 : self.strides()[i - lead]);
    out_shape.push_back(checked_mul(repeats[i], size, "repeat: result size"));
  }
  Tensor out = Tensor::empty(out_shape, self.dtype());
  if (out.numel() == 0) return out;
  Tensor dst = Tensor::make_view(out, vshape, contiguous_strides(vshape), 0);
  copy_into(dst, Tensor::make_view(self, vshape, vstrides, self.offset()));
  return out;
}

Tensor tile(const Tensor& self, const DimVector& dims) {
  hy::cpu::check_defined(self, "tile", "self");
  DimVector r = dims;
  while (static_cast<int64_t>(r.size()) < self.dim()) r.insert(r.begin(), 1);
  return repeat(self, r);
}

namespace {

// `t` read backwards along dim d (a negative-stride view).
Tensor reversed(const Tensor& t, int64_t d) {
  Strides st = t.strides();
  const int64_t offset = t.offset() + (t.shape()[d] - 1) * st[d];
  st[d] = -st[d];
  return Tensor::make_view(t, t.shape(), st, offset);
}

// The part of `band` (interior [l, l + n) along d) that the left (or right) border of width w copies.
Tensor pad_border_source(const Tensor& band, int64_t d, int64_t l, int64_t n, int64_t w, bool left,
                         const std::string& mode) {
  if (mode == "circular") return left ? ops::slice(band, d, n, n + w, 1) : ops::slice(band, d, l, l + w, 1);
  if (mode == "replicate") return left ? ops::slice(band, d, l, l + 1, 1) : ops::slice(band, d, l + n - 1, l + n, 1);
  // reflect: the w entries next to the edge (the edge itself excluded), mirrored
  return reversed(left ? ops::slice(band, d, l + 1, l + 1 + w, 1) : ops::slice(band, d, l + n - 1 - w, l + n - 1, 1), d);
}

}  // namespace

Tensor pad(const Tensor& self, const DimVector& pad, const std::string& mode, double value) {
  hy::cpu::check_defined(self, "pad", "self");
  HY_CHECK(mode == "constant" || mode == "reflect" || mode == "replicate" || mode == "circular", ValueError,
           "pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got '", mode, "'");
  HY_CHECK(pad.size() % 2 == 0, ValueError, "pad: padding ", pad, " must have an even length (pairs per dim)");
  const int64_t pairs = static_cast<int64_t>(pad.size()) / 2;
  HY_CHECK(pairs <= self.dim(), ValueError, "pad: padding ", pad, " covers ", pairs,
           " dims but the input has shape ", self.shape());
  // Pairs run from the last dim backwards: (last_left, last_right, second_last_left, ...).
  auto dim_of = [&](int64_t i) { return self.dim() - 1 - i; };
  if (mode == "constant") {
    Shape shape = self.shape();
    for (int64_t i = 0; i < pairs; ++i) {
      shape[dim_of(i)] += pad[2 * i] + pad[2 * i + 1];
      HY_CHECK(shape[dim_of(i)] >= 0, ValueError, "pad: padding ", pad, " crops dim ", dim_of(i), " of shape ",
               self.shape(), " below zero");
    }
    Tensor out = Tensor::empty(shape, self.dtype());
    // Only the border gets the value (the interior is overwritten by the copy below).
    for (int64_t i = 0; i < pairs; ++i) {
      const int64_t d = dim_of(i), l = pad[2 * i], r = pad[2 * i + 1];
      if (l > 0) ops::fill_(ops::slice(out, d, 0, l, 1), Scalar(value));
      if (r > 0) ops::fill_(ops::slice(out, d, shape[d] - r, shape[d], 1), Scalar(value));
    }
    Tensor src = self, dst = out;  // negative pads crop the source, positive ones offset the destination
    for (int64_t i = 0; i < pairs; ++i) {
      const int64_t d = dim_of(i), l = pad[2 * i], r = pad[2 * i + 1], n = self.shape()[d];
      src = ops::slice(src, d, std::max<int64_t>(0, -l), n - std::max<int64_t>(0, -r), 1);
      const int64_t at = std::max<int64_t>(0, l);
      dst = ops::slice(dst, d, at, at + src.shape()[d], 1);
    }
    if (src.numel() > 0) copy_into(dst, src);
    return out;
  }
  Shape shape = self.shape();
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
  Tensor out = Tensor::empty(shape, self.dtype());
  if (out.numel() == 0) return out;
  Tensor interior = out;
  for (int64_t i = 0; i < pairs; ++i)
    interior = ops::slice(interior, dim_of(i), pad[2 * i], pad[2 * i] + self.shape()[dim_of(i)], 1);
  copy_into(interior, self);
  // Then the borders, copied from the output itself one dim at a time (last dim first). A border spans
  // the full, already padded extent of the dims done before and the interior of those still to do, so
  // the corners come out right.
  for (int64_t i = 0; i < pairs; ++i) {
    const int64_t d = dim_of(i), l = pad[2 * i], r = pad[2 * i + 1], n = self.shape()[d];
    if (l == 0 && r == 0) continue;
    Tensor band = out;
    for (int64_t j = i + 1; j < pairs; ++j)
      band = ops::slice(band, dim_of(j), pad[2 * j], pad[2 * j] + self.shape()[dim_of(j)], 1);
    if (l > 0) copy_into(ops::slice(band, d, 0, l, 1), pad_border_source(band, d, l, n, l, true, mode));
    if (r > 0) copy_into(ops::slice(band, d, l + n, l + n + r, 1), pad_border_source(band, d, l, n, r, false, mode));
  }
  return out;
}

}  // namespace hy::kernels::cpu
