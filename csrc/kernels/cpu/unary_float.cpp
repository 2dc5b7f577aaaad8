// Transcendental unary kernels (the op table's unary family, part 2). Each runs the Eigen functor
// generated from the op's `scalar:` expression (hyflow/ops/scalar_ops_eigen_generated.h) through
// unary_float_kernel over float/double spans, so contiguous inputs use Eigen's vectorized
// exp/log/tanh/erf...; integer and bool inputs compute in float32, Half/BFloat16 in float32 then round.
// Eigen 3.4 has packet (SIMD) versions of float exp/log/log1p/expm1/sin/cos/tanh/erf/logistic but, for
// double, only of exp and log (so logistic too): a functor calling another function runs its scalar
// path per element for double.
//
// GCC 12 reports false (maybe-)uninitialized warnings inside its own AVX-512 intrinsics
// (_mm512_undefined_*) once Eigen's packet math is inlined; the pragmas must precede the includes.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <string>

#include "hyflow/ops/ops_common.h"
#include "hyflow/ops/scalar_ops_eigen_generated.h"
#include "kernels/cpu/unary_impl.h"

namespace hy::kernels::cpu {
using hy::cpu::binary_packet_kernel;
using hy::cpu::unary_packet_kernel;
using std::optional;
namespace so = hy::scalar_ops;

#define HY_UNARY_FLOAT(name)                                                  \
  Tensor name(const Tensor& self, const optional<Tensor>& out) {             \
    return unary_packet_kernel<so::name##_packet>(#name, self, out);         \
  }
HY_UNARY_FLOAT(exp)
HY_UNARY_FLOAT(expm1)
HY_UNARY_FLOAT(log)
HY_UNARY_FLOAT(log1p)
HY_UNARY_FLOAT(sqrt)
HY_UNARY_FLOAT(rsqrt)
HY_UNARY_FLOAT(sin)
HY_UNARY_FLOAT(cos)
HY_UNARY_FLOAT(tan)
HY_UNARY_FLOAT(tanh)
HY_UNARY_FLOAT(sigmoid)
HY_UNARY_FLOAT(silu)
HY_UNARY_FLOAT(erf)
HY_UNARY_FLOAT(reciprocal)
#undef HY_UNARY_FLOAT

Tensor gelu(const Tensor& self, const std::string& approximate, const optional<Tensor>& out) {
  if (approximate == "none") return unary_packet_kernel<so::gelu_none_packet>("gelu", self, out);
  HY_CHECK(approximate == "tanh", ValueError, "gelu: approximate must be 'none' or 'tanh', got '", approximate,
           "'");
  return unary_packet_kernel<so::gelu_tanh_packet>("gelu", self, out);
}

// gelu's exact gradient in one vectorized pass: the composite formula took ~10 elementwise ops and as
// many temporaries.
Tensor gelu_backward(const Tensor& grad_output, const Tensor& self) {
  return binary_packet_kernel<so::gelu_backward_packet>("gelu_backward", grad_output, self);
}

// relu's gradient in one vectorized pass: grad * (result > 0) made a bool tensor and then a mixed-dtype
// product (6% of the MNIST net's training step).
Tensor relu_backward(const Tensor& grad_output, const Tensor& relu_result) {
  return binary_packet_kernel<so::relu_backward_packet>("relu_backward", grad_output, relu_result);
}

// Above the threshold softplus is x itself, as in PyTorch (lanes where exp overflowed to inf are the
// ones the threshold replaces).
Tensor softplus(const Tensor& self, double beta, double threshold, const optional<Tensor>& out) {
  return unary_packet_kernel<so::softplus_packet>("softplus", self, out, hy::cpu::kGrainTranscendental, beta,
                                                   threshold);
}

}  // namespace hy::kernels::cpu
