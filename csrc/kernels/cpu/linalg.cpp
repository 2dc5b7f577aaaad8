// Matrix products (the op table's linalg family): matmul with NumPy semantics and the fixed-rank
// mm/bmm/mv/dot/outer/addmm. All of them reduce to one batched GEMM (kernels/cpu/gemm.h) over operands
// whose last two dims are handed over as they lie in memory (row-major or transposed) whenever possible.
#include <initializer_list>
#include <vector>

#include "hyflow/ops/binary.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_lowp.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::cpu {

DType linalg_dtype(const char* op, std::initializer_list<NamedOperand> operands) {
  const NamedOperand& first = *operands.begin();
  for (const NamedOperand& o : operands) {
    check_defined(o.tensor, op, o.name);
    HY_CHECK(o.tensor.dtype() != DType::Bool, TypeError, op, ": bool tensors are not supported (got ",
             o.tensor.describe(), "); convert with .int() or .float() first");
    HY_CHECK(o.tensor.dtype() == first.tensor.dtype(), RuntimeError, op, ": expected ", first.name, " and ", o.name,
             " to have the same dtype, but got: ", dtype_name(first.tensor.dtype()), " != ",
             dtype_name(o.tensor.dtype()), "; convert one with .to(dtype)");
  }
  return first.tensor.dtype();
}

void check_inner(const char* op, const Tensor& self, const Tensor& other, int64_t k1, int64_t k2) {
  HY_CHECK(k1 == k2, ValueError, op, ": shapes ", self.shape(), " and ", other.shape(),
           " cannot be multiplied (inner dims ", k1, " and ", k2, " differ)");
}

void check_rank(const char* op, const Tensor& t, int64_t rank, const char* arg) {
  HY_CHECK(t.dim() == rank, ValueError, op, ": ", arg, " must be a ", rank, "-D tensor, got shape ", t.shape());
}

}  // namespace hy::cpu

namespace hy::kernels::cpu {
using hy::cpu::check_inner;
using hy::cpu::check_rank;
using hy::cpu::linalg_dtype;
namespace {

using hy::cpu::cast_to;
using hy::cpu::GemmMatrix;

// The dtype a product is computed in when no low-precision library takes it (gemm_lowp.h): float16/
// bfloat16 accumulate in float32, which is what makes low-precision products accurate.
DType gemm_compute_dtype(DType t) { return (t == DType::Float16 || t == DType::BFloat16) ? DType::Float32 : t; }


void check_coefficient(const char* op, const char* name, const Scalar& s, DType common) {
  HY_CHECK(!(s.is_float() && !dtype_is_floating(common)), TypeError, op, ": ", name,
           " must not be a float when the inputs are integral (", dtype_name(common), ")");
}

// Offsets (elements) of every matrix of `t` (shape (*tb, rows, cols)) over the broadcast batch shape.
std::vector<int64_t> batch_offsets(const Tensor& t, const Shape& batch) {
  const int64_t nb = static_cast<int64_t>(batch.size()), lead = nb - (t.dim() - 2);
  Strides st(batch.size(), 0);
  for (int64_t d = lead; d < nb; ++d)
    if (t.shape()[d - lead] != 1) st[d] = t.strides()[d - lead];
  int64_t count = 1;
  for (int64_t s : batch) count *= s;
  std::vector<int64_t> offs(static_cast<size_t>(count), 0);
  DimVector idx(batch.size(), 0);
  int64_t off = 0;
  for (int64_t i = 0; i < count; ++i) {
    offs[i] = off;
    for (int64_t d = nb - 1; d >= 0; --d) {  // odometer step, keeping `off` in sync
      if (++idx[d] < batch[d]) {
        off += st[d];
        break;
      }
      off -= (batch[d] - 1) * st[d];
      idx[d] = 0;
    }
  }
  return offs;
}

// `t` itself when its last two dims can go to the GEMM as they are, else a contiguous copy.
Tensor gemm_ready(const Tensor& t, int64_t* ld, bool* trans) {
  const int64_t n = t.dim();
  if (hy::cpu::gemm_layout(t.shape()[n - 2], t.shape()[n - 1], t.strides()[n - 2], t.strides()[n - 1], ld, trans))
    return t;
  Tensor c = hy::cpu::contiguous(t);
  hy::cpu::gemm_layout(c.shape()[n - 2], c.shape()[n - 1], c.strides()[n - 2], c.strides()[n - 1], ld, trans);
  return c;
}

// `init` as a per-column vector of the product (its last dim spans the n columns with stride 1, every
// other dim of it broadcast): a linear layer's bias, which the bf16 kernel adds in its epilogue.
bool is_column_bias(const Tensor& init, int64_t n) {
  if (!init.defined() || init.dtype() != DType::BFloat16 || init.dim() < 1) return false;
  const int64_t d = init.dim();
  if (init.shape()[d - 1] != n || (n > 1 && init.strides()[d - 1] != 1)) return false;
  for (int64_t i = 0; i < d - 1; ++i)
    if (init.shape()[i] != 1) return false;
  return true;
}

// gemm_op for bfloat16 operands through the low-precision library, read in place (no float32 copies);
// an undefined tensor when the library declines. Without `init` the library rounds its float32
// accumulators to bf16 itself; with it the sum is formed in float32 and rounded once at the end (in the
// kernel's epilogue for a per-column bias, else through a float32 copy of C).
Tensor gemm_bf16_library(const Tensor& a_in, const Tensor& b_in, const Shape& batch, const Shape& out_shape,
                         const Scalar& alpha, const Scalar& beta, const Tensor& init, bool use_init) {
  int64_t lda, ldb;
  bool ta, tb;
  Tensor a = gemm_ready(a_in, &lda, &ta);
  Tensor b = gemm_ready(b_in, &ldb, &tb);
  const int64_t m = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1], n = b.shape()[b.dim() - 1];
  std::vector<int64_t> oa = batch_offsets(a, batch), ob = batch_offsets(b, batch);
  hy::cpu::LowpGemm g{static_cast<int64_t>(oa.size()), m, n, k, alpha.to<float>(), use_init ? beta.to<float>() : 0.0f,
                      {a.data<uint16_t>(), oa.data(), lda, ta}, {b.data<uint16_t>(), ob.data(), ldb, tb}};
  if (use_init && is_column_bias(init, n)) {
    Tensor c = Tensor::empty(out_shape, DType::BFloat16);
    g.bias = init.data<uint16_t>();
    if (hy::cpu::gemm_lowp_batched(g, c.raw_data(), false)) return c;
    g.bias = nullptr;  // declined (oneDNN): the float32 copy of C below
  }
  Tensor c = Tensor::empty(out_shape, use_init ? DType::Float32 : DType::BFloat16);
  if (use_init) hy::cpu::copy_into(c, init);
  if (!hy::cpu::gemm_lowp_batched(g, c.raw_data(), use_init)) return Tensor();
  return use_init ? cast_to(c, DType::BFloat16) : c;
}

// alpha * a @ b + beta * init, with a (*ba, m, k), b (*bb, k, n) and batch = broadcast(ba, bb). The result
// has `out_shape`, which is batch + (m, n) with some size-1 dims left out (same memory layout); `init`
// (broadcast to out_shape) is read only when beta != 0.
Tensor gemm_op(const Tensor& a_in, const Tensor& b_in, const Shape& batch, const Shape& out_shape, DType common,
               const Scalar& alpha, const Scalar& beta, const Tensor& init) {
  const bool use_init = init.defined() && beta.to_double() != 0.0;
  if (common == DType::BFloat16) {
    Tensor r = gemm_bf16_library(a_in, b_in, batch, out_shape, alpha, beta, init, use_init);
    if (r.defined()) return r;
  }
  const DType compute = gemm_compute_dtype(common);
  Tensor c = Tensor::empty(out_shape, compute);
  if (use_init) hy::cpu::copy_into(c, init);
  int64_t lda, ldb;
  bool ta, tb;
  Tensor a = gemm_ready(cast_to(a_in, compute), &lda, &ta);
  Tensor b = gemm_ready(cast_to(b_in, compute), &ldb, &tb);
  const int64_t m = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1], n = b.shape()[b.dim() - 1];
  std::vector<int64_t> oa = batch_offsets(a, batch), ob = batch_offsets(b, batch);
  const int64_t nbatch = static_cast<int64_t>(oa.size());
  auto run = [&](auto tag) {
    using T = decltype(tag);
    GemmMatrix<T> ga{a.data<T>(), oa.data(), lda, ta}, gb{b.data<T>(), ob.data(), ldb, tb};
    hy::cpu::gemm_batched<T>(nbatch, m, n, k, alpha.to<T>(), ga, gb, use_init ? beta.to<T>() : T(0), c.data<T>());
  };
  switch (compute) {
    case DType::Float32: run(float{}); break;
    case DType::Float64: run(double{}); break;
    case DType::Int32: run(int32_t{}); break;
    case DType::Int64: run(int64_t{}); break;
    default: throw NotImplementedError(str("matmul has no CPU kernel for dtype ", dtype_name(compute)));
  }
  return compute == common ? c : cast_to(c, common);
}

Tensor product(const Tensor& a, const Tensor& b, const Shape& batch, const Shape& out_shape, DType common) {
  return gemm_op(a, b, batch, out_shape, common, Scalar(int64_t{1}), Scalar(int64_t{0}), Tensor());
}

}  // namespace

Tensor matmul(const Tensor& self, const Tensor& other) {
  DType common = linalg_dtype("matmul", {{"self", self}, {"other", other}});
  HY_CHECK(self.dim() >= 1 && other.dim() >= 1, ValueError, "matmul: both arguments need at least 1 dim, got shapes ",
           self.shape(), " and ", other.shape());
  // NumPy rules: a 1-D left operand is a row (1, k), a 1-D right operand a column (k, 1); the added dim
  // is removed from the result. Remaining leading dims are batch dims and broadcast.
  Tensor a = self.dim() == 1 ? ops::unsqueeze(self, 0) : self;
  Tensor b = other.dim() == 1 ? ops::unsqueeze(other, 1) : other;
  check_inner("matmul", self, other, a.shape()[a.dim() - 1], b.shape()[b.dim() - 2]);
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(ba, bb);
  } catch (const ValueError&) {
    throw ValueError(str("matmul: the batch dims of shapes ", self.shape(), " and ", other.shape(),
                         " cannot be broadcast together (", ba, " vs ", bb, ")"));
  }
  Shape out = batch;
  if (self.dim() > 1) out.push_back(a.shape()[a.dim() - 2]);
  if (other.dim() > 1) out.push_back(b.shape()[b.dim() - 1]);
  return product(a, b, batch, out, common);
}

Tensor mm(const Tensor& self, const Tensor& mat2) {
  DType common = linalg_dtype("mm", {{"self", self}, {"mat2", mat2}});
  check_rank("mm", self, 2, "self");
  check_rank("mm", mat2, 2, "mat2");
  check_inner("mm", self, mat2, self.shape()[1], mat2.shape()[0]);
  return product(self, mat2, {}, {self.shape()[0], mat2.shape()[1]}, common);
}

Tensor bmm(const Tensor& self, const Tensor& mat2) {
  DType common = linalg_dtype("bmm", {{"self", self}, {"mat2", mat2}});
  check_rank("bmm", self, 3, "self");
  check_rank("bmm", mat2, 3, "mat2");
  HY_CHECK(self.shape()[0] == mat2.shape()[0], ValueError, "bmm: batch sizes of shapes ", self.shape(), " and ",
           mat2.shape(), " differ (bmm does not broadcast; use matmul)");
  check_inner("bmm", self, mat2, self.shape()[2], mat2.shape()[1]);
  return product(self, mat2, {self.shape()[0]}, {self.shape()[0], self.shape()[1], mat2.shape()[2]}, common);
}

Tensor mv(const Tensor& self, const Tensor& vec) {
  DType common = linalg_dtype("mv", {{"self", self}, {"vec", vec}});
  check_rank("mv", self, 2, "self");
  check_rank("mv", vec, 1, "vec");
  check_inner("mv", self, vec, self.shape()[1], vec.shape()[0]);
  return product(self, ops::unsqueeze(vec, 1), {}, {self.shape()[0]}, common);
}

Tensor dot(const Tensor& self, const Tensor& other) {
  DType common = linalg_dtype("dot", {{"self", self}, {"other", other}});
  check_rank("dot", self, 1, "self");
  check_rank("dot", other, 1, "other");
  check_inner("dot", self, other, self.shape()[0], other.shape()[0]);
  return product(ops::unsqueeze(self, 0), ops::unsqueeze(other, 1), {}, {}, common);
}

Tensor outer(const Tensor& self, const Tensor& vec2) {
  hy::cpu::check_defined(self, "outer", "self");
  hy::cpu::check_defined(vec2, "outer", "vec2");
  check_rank("outer", self, 1, "self");
  check_rank("outer", vec2, 1, "vec2");
  return ops::mul(ops::unsqueeze(self, 1), ops::unsqueeze(vec2, 0));
}

Tensor addmm(const Tensor& self, const Tensor& mat1, const Tensor& mat2, const Scalar& beta, const Scalar& alpha) {
  DType common = linalg_dtype("addmm", {{"mat1", mat1}, {"mat2", mat2}, {"self", self}});
  check_coefficient("addmm", "alpha", alpha, common);
  check_coefficient("addmm", "beta", beta, common);
  check_rank("addmm", mat1, 2, "mat1");
  check_rank("addmm", mat2, 2, "mat2");
  check_inner("addmm", mat1, mat2, mat1.shape()[1], mat2.shape()[0]);
  Shape out{mat1.shape()[0], mat2.shape()[1]};
  bool fits = self.dim() <= 2;
  for (int64_t d = 0; fits && d < self.dim(); ++d) {
    int64_t have = self.shape()[d], want = out[2 - self.dim() + d];
    fits = have == want || have == 1;
  }
  HY_CHECK(fits, ValueError, "addmm: self of shape ", self.shape(), " does not broadcast to the product's shape ",
           out, " (mat1 ", mat1.shape(), ", mat2 ", mat2.shape(), ")");
  // beta == 0 ignores self entirely (NaN/inf in self do not propagate), as BLAS and PyTorch do.
  return gemm_op(mat1, mat2, {}, out, common, alpha, beta, self);
}

}  // namespace hy::kernels::cpu
