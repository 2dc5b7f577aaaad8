// myscale(x, a) = x * a as a C++ kernel living outside hyflow's source tree. Loaded with
// hy.ops.load_library(path), which calls hyflow_register_ops with the process-wide registry.
#include "core/error.h"
#include "dispatch/registry.h"
#include "hyflow/ops/ops_generated.h"

namespace {

hy::Tensor myscale_cpu(const hy::Tensor& x, double a) {
  HY_CHECK(x.dtype() == hy::DType::Float32 || x.dtype() == hy::DType::Float64, TypeError,
           "myscale: expected a float32 or float64 tensor, got ", x.describe());
  hy::Tensor in = hy::ops::contiguous(x);  // a built-in op, called through hyflow's own registry
  hy::Tensor out = hy::Tensor::empty(x.shape(), x.dtype());
  HY_DISPATCH_FLOAT(x.dtype(), "myscale", [&] {
    const scalar_t* src = in.data<scalar_t>();
    scalar_t* dst = out.data<scalar_t>();
    for (int64_t i = 0; i < in.numel(); ++i) dst[i] = static_cast<scalar_t>(src[i] * a);
  });
  return out;
}

// Two results: exercises the boxed tuple path.
std::tuple<hy::Tensor, hy::Tensor> myscale_pair_cpu(const hy::Tensor& x, double a) {
  return {myscale_cpu(x, a), hy::ops::add(x, x)};
}

}  // namespace

extern "C" void hyflow_register_ops(hy::Registry& r) {
  r.define("myscale(Tensor x, float a) -> Tensor", {{"doc", "x * a, from a C++ extension"}});
  r.impl_boxed("myscale", hy::DeviceType::DeviceType_CPU, hy::make_boxed(&myscale_cpu));
  r.define("myscale_pair(Tensor x, float a=2.0) -> (Tensor, Tensor)");
  r.impl_boxed("myscale_pair", hy::DeviceType::DeviceType_CPU, hy::make_boxed(&myscale_pair_cpu));
}
