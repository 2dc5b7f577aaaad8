// Shape manipulation (the op table's shape family): cat/stack, split/chunk (views), flip, roll,
// repeat/tile and pad. Every copy here goes through copy_into, the parallel elementwise engine, over
// views of the input and the output, so none of these ops needs a dtype-specific loop of its own.
#include <string>
#include <vector>

#include "core/type_promotion.h"
#include "hyflow/ops/ops_generated.h"
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
  int64_t pos = 0;
  for (const Tensor& t : tensors) {
    if (is_legacy_empty(t)) continue;
    const int64_t n = t.shape()[d];
    if (n > 0 && t.numel() > 0) copy_into(ops::slice(out, d, pos, pos + n, 1), t);
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
  Shape shape = s0;
  shape.insert(shape.begin() + d, static_cast<int64_t>(tensors.size()));
  Tensor out = Tensor::empty(shape, result_type(tensors));
  if (out.numel() == 0) return out;
  for (size_t i = 0; i < tensors.size(); ++i) copy_into(ops::select(out, d, static_cast<int64_t>(i)), tensors[i]);
  return out;
}

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
    // A negative-stride view read by the copy engine: the flip costs one pass, in parallel.
    offset += (self.shape()[d] - 1) * st[d];
    st[d] = -st[d];
  }
  Tensor out = Tensor::empty(self.shape(), self.dtype());
  if (out.numel() > 0) copy_into(out, Tensor::make_view(self, self.shape(), st, offset));
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
  Tensor cur = self;
  for (size_t i = 0; i < shifts.size(); ++i) {
    const int64_t d = wrap_dim((*dims)[i], self.dim());
    const int64_t n = self.dim() == 0 ? 1 : self.shape()[d];
    if (n == 0 || self.dim() == 0) continue;
    const int64_t s = ((shifts[i] % n) + n) % n;
    if (s == 0) continue;
    Tensor next = Tensor::empty(self.shape(), self.dtype());
    copy_into(ops::slice(next, d, s, n, 1), ops::slice(cur, d, 0, n - s, 1));
    copy_into(ops::slice(next, d, 0, s, 1), ops::slice(cur, d, n - s, n, 1));
    cur = next;
  }
  return cur.impl() == self.impl() ? ops::clone(self) : cur;
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

// Source index along one dim for each output position of a reflect/replicate/circular pad.
Tensor pad_source_index(int64_t n, int64_t left, int64_t right, const std::string& mode) {
  Tensor idx = Tensor::empty({n + left + right}, DType::Int64);
  int64_t* p = idx.data<int64_t>();
  for (int64_t o = 0; o < n + left + right; ++o) {
    int64_t i = o - left;
    if (mode == "reflect") i = i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i);
    else if (mode == "replicate") i = std::min(std::max<int64_t>(i, 0), n - 1);
    else i = ((i % n) + n) % n;  // circular
    p[o] = i;
  }
  return idx;
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
    bool grows = false;
    for (int64_t i = 0; i < pairs; ++i) {
      shape[dim_of(i)] += pad[2 * i] + pad[2 * i + 1];
      HY_CHECK(shape[dim_of(i)] >= 0, ValueError, "pad: padding ", pad, " crops dim ", dim_of(i), " of shape ",
               self.shape(), " below zero");
      grows = grows || pad[2 * i] > 0 || pad[2 * i + 1] > 0;
    }
    Tensor out = Tensor::empty(shape, self.dtype());
    if (grows) ops::fill_(out, Scalar(value));
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
  Tensor cur = self;
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
    cur = ops::index_select(cur, d, pad_source_index(n, l, r, mode));
  }
  return cur.impl() == self.impl() ? ops::clone(self) : cur;
}

}  // namespace hy::kernels::cpu
