// tril / triu (csrc/ops/table/triangular.yaml): keep one triangle of each matrix, zero the rest.
//
// The kernel only moves bytes: within a row the kept elements are one contiguous run, copied with
// memmove, and the rest is cleared with memset (all-zero bits is 0 in every dtype), so one loop serves
// every dtype. memmove, because the in-place variants pass out = self.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "hyflow/ops/ops_common.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cpu {
namespace {

Tensor triangle(const char* op, bool lower, const Tensor& self, int64_t diagonal, const std::optional<Tensor>& out) {
  hy::cpu::check_defined(self, op, "self");
  HY_CHECK(self.dim() >= 2, ValueError, op, ": input tensor must have at least 2 dimensions, got ", self.describe());
  Tensor dst = hy::cpu::prepare_out(out, self.shape(), self.dtype(), op, self);
  // Write straight into dst when it is dense in self's dtype, else through a temporary.
  const bool direct = dst.is_contiguous() && dst.dtype() == self.dtype();
  Tensor res = direct ? dst : Tensor::empty(self.shape(), self.dtype());
  Tensor src = hy::cpu::contiguous(self);  // self itself when dense: then src and res may be one buffer
  const int64_t rows = self.shape()[self.dim() - 2], cols = self.shape()[self.dim() - 1];
  // Any diagonal beyond the matrix keeps all or nothing; clamping keeps i + diagonal from overflowing.
  diagonal = std::clamp<int64_t>(diagonal, -rows - 1, cols + 1);
  const int64_t all_rows = cols == 0 ? 0 : self.numel() / cols;
  const int64_t item = self.itemsize();
  const char* in = static_cast<const char*>(src.raw_data());
  char* o = static_cast<char*>(res.raw_data());
  parallel_for(0, all_rows, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(cols, 1)),
               [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t i = r % rows;  // the row inside its matrix
      // Kept columns: j - i <= diagonal (lower) or j - i >= diagonal (upper), clamped to [0, cols].
      const int64_t keep_begin = lower ? 0 : std::clamp<int64_t>(i + diagonal, 0, cols);
      const int64_t keep_end = lower ? std::clamp<int64_t>(i + diagonal + 1, 0, cols) : cols;
      char* row_out = o + r * cols * item;
      const char* row_in = in + r * cols * item;
      std::memset(row_out, 0, static_cast<size_t>(keep_begin * item));
      if (keep_end > keep_begin)
        std::memmove(row_out + keep_begin * item, row_in + keep_begin * item,
                     static_cast<size_t>((keep_end - keep_begin) * item));
      std::memset(row_out + std::max(keep_end, keep_begin) * item, 0,
                  static_cast<size_t>((cols - std::max(keep_end, keep_begin)) * item));
    }
  });
  if (!direct) hy::cpu::copy_into(dst, res);
  return dst;
}

}  // namespace

Tensor tril(const Tensor& self, int64_t diagonal, const std::optional<Tensor>& out) {
  return triangle("tril", true, self, diagonal, out);
}

Tensor triu(const Tensor& self, int64_t diagonal, const std::optional<Tensor>& out) {
  return triangle("triu", false, self, diagonal, out);
}

}  // namespace hy::kernels::cpu
