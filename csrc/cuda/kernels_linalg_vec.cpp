// The CUDA kernels of dot, mv and outer. dot and mv are reductions on the row engine (linalg_vec.cu),
// not cuBLAS calls, so they also run without cuBLAS and for the integer dtypes; outer is the elementwise
// product of a column and a row (the `mul` functor of the elementwise launcher). Checks, their order and
// wording follow the CPU kernels (kernels/cpu/linalg.cpp).
#include <initializer_list>
#include <optional>

#include "core/type_promotion.h"
#include "cuda/glue_internal.h"
#include "cuda/reduce_glue_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cuda {
using hy::cpu::check_inner;
using hy::cpu::check_rank;
using hy::cpu::linalg_dtype;
namespace {

void refuse_complex(const char* op, DType dtype) {
  HY_CHECK(!dtype_is_complex(dtype), NotImplementedError, "op '", op, "' has no CUDA kernel for dtype ",
           dtype_name(dtype));
}

}  // namespace

Tensor dot(const Tensor& self, const Tensor& other) {
  const DType dtype = linalg_dtype("dot", {{"self", self}, {"other", other}});
  check_rank("dot", self, 1, "self");
  check_rank("dot", other, 1, "other");
  check_inner("dot", self, other, self.shape()[0], other.shape()[0]);
  refuse_complex("dot", dtype);
  Tensor out = Tensor::empty({}, dtype, self.device());
  const int64_t n = self.shape()[0];
  const Tensor scratch = hy::cuda::reduce_scratch(1, n, self.device());
  // One row of n products, both vectors read through their strides (n == 0 stores 0).
  hy::cuda::launch_dot_rows(dtype, out.raw_data(), self.raw_data(), 0, self.strides()[0], other.raw_data(),
                            other.strides()[0], 1, n, hy::cuda::data_or_null(scratch),
                            hy::cuda::launch_stream(self.device()));
  return out;
}

Tensor mv(const Tensor& self, const Tensor& vec) {
  const DType dtype = linalg_dtype("mv", {{"self", self}, {"vec", vec}});
  check_rank("mv", self, 2, "self");
  check_rank("mv", vec, 1, "vec");
  check_inner("mv", self, vec, self.shape()[1], vec.shape()[0]);
  refuse_complex("mv", dtype);
  const int64_t m = self.shape()[0], k = self.shape()[1];
  Tensor out = Tensor::empty({m}, dtype, self.device());
  if (m == 0) return out;
  // Each row is read by one warp or block: rows must be contiguous for coalesced loads, so a transposed
  // or strided matrix is copied first (the vector is read through its stride).
  const Tensor a = k == 0 || self.strides()[1] == 1 ? self : hy::cuda::dense_as(self, dtype);
  const Tensor scratch = hy::cuda::reduce_scratch(m, k, self.device());
  hy::cuda::launch_dot_rows(dtype, out.raw_data(), a.raw_data(), a.strides()[0], a.strides()[1], vec.raw_data(),
                            vec.strides()[0], m, k, hy::cuda::data_or_null(scratch),
                            hy::cuda::launch_stream(self.device()));
  return out;
}

Tensor outer(const Tensor& self, const Tensor& vec2) {
  hy::cpu::check_defined(self, "outer", "self");
  hy::cpu::check_defined(vec2, "outer", "vec2");
  check_rank("outer", self, 1, "self");
  check_rank("outer", vec2, 1, "vec2");
  // The CPU computes mul(self[:, None], vec2[None, :]): promoted dtype, broadcast product. bool has no
  // arithmetic kernel: bool * bool is computed in int32 (0 or 1) and converted back.
  const DType result = result_type(self, vec2);
  refuse_complex("outer", result);
  const DType compute = result == DType::Bool ? DType::Int32 : result;
  const Shape shape{self.shape()[0], vec2.shape()[0]};
  const Tensor a = ops::unsqueeze(hy::cuda::cast(self, compute), 1);
  const Tensor b = ops::unsqueeze(hy::cuda::cast(vec2, compute), 0);
  Tensor out = Tensor::empty(shape, result, self.device());
  if (out.numel() == 0) return out;
  Tensor r = compute == result ? out : Tensor::empty(shape, compute, self.device());
  auto g = hy::cuda::make_geometry<3>("outer", shape, {&r, &a, &b});
  hy::cuda::launch_binary(hy::cuda::BinaryOp::BinaryOp_Mul, compute, 1.0, r.raw_data(), a.raw_data(), b.raw_data(),
                          g, hy::cuda::launch_stream(self.device()));
  if (r.impl() != out.impl()) hy::cuda::copy_into(out, r);
  return out;
}

}  // namespace hy::kernels::cuda
