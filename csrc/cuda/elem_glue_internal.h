// Host helpers shared by the glue of the second elementwise batch (kernels_unary_extra.cpp,
// kernels_binary_extra.cpp, kernels_ternary.cpp, kernels_creation.cpp): the CPU drivers' out= checks and
// the choice of the dtype a kernel runs in, so each op converts and writes exactly as its CPU kernel.
#pragma once
#include <optional>
#include <string>

#include "core/type_promotion.h"
#include "cuda/glue_internal.h"
#include "cuda/launch_elem_internal.h"

namespace hy::kernels::cuda {
/// div with rounding_mode 'trunc' or 'floor' (kernels_binary_extra.cpp; kernels_elementwise.cpp's div
/// hands these over).
Tensor div_rounding(const Tensor& self, const Tensor& other, const std::string& rounding_mode,
                    const std::optional<Tensor>& out);
}  // namespace hy::kernels::cuda

namespace hy::cuda {

inline void check_defined(const Tensor& t, const char* op, const char* arg) {
  HY_CHECK(t.defined(), ValueError, op, ": ", arg, " is undefined (None)");
}

/// The tensor an op writes, checked as the CPU's prepare_out checks it: `out` (same shape and device, a
/// dtype the result may be cast into; its version counter bumped) or a fresh row-major tensor.
inline Tensor out_or_new(const char* op, const std::optional<Tensor>& out, const Shape& shape, DType dtype,
                         Device device) {
  return result_tensor(op, out, shape, dtype, device);
}

/// The dtype the CPU kernels compute `dtype` in: float16/bfloat16 widen to float32.
inline DType compute_of(DType dtype) {
  return dtype == DType::Float16 || dtype == DType::BFloat16 ? DType::Float32 : dtype;
}

/// The geometry of `shape` over four tensors (output first), from two three-tensor geometries (glue.cpp
/// instantiates make_geometry for two and three tensors).
inline Geometry<4> make_geometry4(const char* op, const Shape& shape, const Tensor& t0, const Tensor& t1,
                                  const Tensor& t2, const Tensor& t3) {
  const Geometry<3> a = make_geometry<3>(op, shape, {&t0, &t1, &t2});
  const Geometry<3> b = make_geometry<3>(op, shape, {&t0, &t3, &t3});
  Geometry<4> g;
  g.ndim = a.ndim;
  g.numel = a.numel;
  g.contiguous = a.contiguous && b.contiguous;
  for (int d = 0; d < a.ndim; ++d) {
    g.sizes[d] = a.sizes[d];
    for (int k = 0; k < 3; ++k) g.strides[k][d] = a.strides[k][d];
    g.strides[3][d] = b.strides[1][d];
  }
  return g;
}

/// Runs a kernel whose output has the dtype it computes in (`launch(run_dtype, r, inputs...)`) the way the
/// CPU drivers do: straight into `res` when it has the result dtype (float16/bfloat16 storage computed in
/// float32 and rounded once), else in the result's compute dtype into a temporary converted into `res`.
/// `lowp_direct` says whether the 16-bit result may be computed from its own storage (every input already
/// has the result dtype; an input of another dtype makes the CPU read it as float32, so the kernel does too).
template <typename Launch>
void run_into(const Tensor& res, DType result, bool lowp_direct, const Launch& launch) {
  const DType run = res.dtype() == result && (compute_of(result) == result || lowp_direct) ? result
                                                                                           : compute_of(result);
  Tensor r = res.dtype() == run ? res : Tensor::empty(res.shape(), run, res.device());
  launch(run, r);
  if (r.impl() != res.impl()) copy_into(res, r);
}

/// Runs a bool-output kernel into `res`, through a bool temporary when `res` has another dtype.
template <typename Launch>
void run_into_bool(const Tensor& res, const Launch& launch) {
  Tensor r = res.dtype() == DType::Bool ? res : Tensor::empty(res.shape(), DType::Bool, res.device());
  launch(r);
  if (r.impl() != res.impl()) copy_into(res, r);
}

}  // namespace hy::cuda
