// Helpers named by the op table's backward formulas. Each is written with front functions only, so a
// backward pass run with create_graph=True is itself recorded (higher-order gradients).
#include <algorithm>
#include <cmath>

#include "autograd/backward_math_internal.h"
#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/complex.h"
#include "hyflow/ops/creation.h"
#include "hyflow/ops/indexing.h"
#include "hyflow/ops/linalg.h"
#include "hyflow/ops/reduce.h"
#include "hyflow/ops/shape.h"
#include "hyflow/ops/tensor.h"
#include "hyflow/ops/ternary.h"
#include "hyflow/ops/unary.h"
#include "kernels/device_copy.h"

namespace hy::autograd::backward {

Tensor scalar_tensor(const Scalar& s) {
  return wrapped_number_tensor(s);
}

namespace operators {
Tensor operator+(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return ops::div(a, b); }
Tensor operator+(const Tensor& a, const Scalar& b) { return ops::add(a, scalar_tensor(b)); }
Tensor operator-(const Tensor& a, const Scalar& b) { return ops::sub(a, scalar_tensor(b)); }
Tensor operator*(const Tensor& a, const Scalar& b) { return ops::mul(a, scalar_tensor(b)); }
Tensor operator/(const Tensor& a, const Scalar& b) { return ops::div(a, scalar_tensor(b)); }
Tensor operator+(const Scalar& a, const Tensor& b) { return ops::add(scalar_tensor(a), b); }
Tensor operator-(const Scalar& a, const Tensor& b) { return ops::sub(scalar_tensor(a), b); }
Tensor operator*(const Scalar& a, const Tensor& b) { return ops::mul(scalar_tensor(a), b); }
Tensor operator/(const Scalar& a, const Tensor& b) { return ops::div(scalar_tensor(a), b); }
Tensor operator-(const Tensor& a) { return ops::neg(a); }
Tensor operator>(const Tensor& a, const Tensor& b) { return ops::gt(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return ops::lt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ops::ge(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return ops::le(a, b); }
Tensor operator>(const Tensor& a, const Scalar& b) { return ops::gt(a, scalar_tensor(b)); }
Tensor operator<(const Tensor& a, const Scalar& b) { return ops::lt(a, scalar_tensor(b)); }
Tensor operator>=(const Tensor& a, const Scalar& b) { return ops::ge(a, scalar_tensor(b)); }
Tensor operator<=(const Tensor& a, const Scalar& b) { return ops::le(a, scalar_tensor(b)); }
}  // namespace operators

using namespace operators;

// --- recording support -------------------------------------------------------------------------

bool should_compute(const std::vector<Edge>& edges, size_t first, size_t n) {
  for (size_t i = first; i < first + n && i < edges.size(); ++i)
    if (edges[i].valid()) return true;
  return false;
}

void check_inplace(const Tensor& target, const char* op) {
  HY_CHECK(!(requires_grad(target) && is_leaf(target)), RuntimeError, op,
           ": a leaf Variable that requires grad is being used in an in-place operation.");
  HY_CHECK(!target.impl()->is_view(), RuntimeError, op,
           ": in-place operation on a view while recording gradients is not supported by hyflow autograd "
           "yet; write into a fresh tensor (out-of-place op) or .clone() the view first");
}

Tensor copy_before_write(const Tensor& target) {
  GradModeGuard off(false);
  return ops::clone(target);
}

Tensor pre_write(const Tensor& t, const Tensor& target, const Tensor& before) {
  return before.defined() && t.defined() && t.impl() == target.impl() ? before : t;
}

Tensor distinct_output(const Tensor& result, const Tensor& target, std::initializer_list<Tensor> inputs) {
  if (target.defined() && result.impl() == target.impl()) return result;  // in-place: history moves
  for (const auto& in : inputs) {
    if (in.defined() && in.impl() == result.impl()) {
      Tensor alias = detach(result);
      alias.impl()->set_is_view(true);
      return alias;
    }
  }
  return result;
}

TensorList unpack_list(const std::vector<SavedVariable>& saved, const std::shared_ptr<Node>& owner) {
  TensorList out;
  out.reserve(saved.size());
  for (const auto& s : saved) out.push_back(s.unpack(owner));
  return out;
}

std::optional<Tensor> as_optional(const Tensor& t) {
  return t.defined() ? std::optional<Tensor>(t) : std::nullopt;
}

// --- helpers -------------------------------------------------------------------------------------

namespace {

// Reduced dims of a reduction over `dim` (None = all) of a tensor with `ndim` dims, sorted, wrapped.
DimVector reduced_dims(int64_t ndim, const std::optional<DimVector>& dim) {
  DimVector out;
  if (!dim || dim->empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : *dim) out.push_back(wrap_dim(d, std::max<int64_t>(ndim, 1)));
  std::sort(out.begin(), out.end());
  return out;
}

// A reduction's output (or its gradient) with the reduced dims put back as size 1.
Tensor unsqueeze_reduced(const Tensor& t, int64_t ndim, const std::optional<DimVector>& dim, bool keepdim) {
  if (keepdim || ndim == 0) return t;
  Tensor out = t;
  for (int64_t d : reduced_dims(ndim, dim)) out = ops::unsqueeze(out, d);
  return out;
}

bool has_zero(const Tensor& t) {
  GradModeGuard off(false);
  Tensor z = ops::any(ops::eq(t, scalar_tensor(Scalar(0.0))));
  return *ops::contiguous(ops::to_dtype(z, DType::Bool)).data<bool>();
}

Tensor reverse_cumsum(const Tensor& g, int64_t dim) {
  DimVector d{dim};
  return ops::flip(ops::cumsum(ops::flip(g, d), dim), d);
}

}  // namespace

Tensor zeros_like(const Tensor& t) { return ops::zeros(t.shape(), t.dtype(), t.device()); }

Tensor conj(const Tensor& t) {
  if (!dtype_is_complex(t.dtype())) return t;
  Tensor pairs = ops::view_as_real(t);
  return ops::complex(ops::select(pairs, -1, 0), ops::neg(ops::select(pairs, -1, 1)));
}

Tensor grad_like(const Tensor& g, DType input_dtype) {
  if (!g.defined() || !dtype_is_complex(g.dtype()) || dtype_is_complex(input_dtype)) return g;
  return ops::select(ops::view_as_real(g), -1, 0);
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  DimVector dims;
  for (int64_t d = 0; d < g.dim(); ++d) {
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)) dims.push_back(d);
  }
  Tensor r = dims.empty() ? g : ops::sum(g, dims, true);
  return ops::reshape(r, shape);
}

Tensor sum_backward(const Tensor& grad, const Shape& shape, const std::optional<DimVector>& dim, bool keepdim) {
  int64_t ndim = static_cast<int64_t>(shape.size());
  return ops::expand(unsqueeze_reduced(grad, ndim, dim, keepdim), shape);
}

double reduced_numel(const Shape& shape, const std::optional<DimVector>& dim) {
  double n = 1;
  for (int64_t d : reduced_dims(static_cast<int64_t>(shape.size()), dim))
    if (!shape.empty()) n *= static_cast<double>(shape[d]);
  return n;
}

Tensor var_backward(const Tensor& grad, const Tensor& self, const std::optional<DimVector>& dim, double correction,
                    bool keepdim) {
  double n = reduced_numel(self.shape(), dim);
  Tensor g = unsqueeze_reduced(grad, self.dim(), dim, keepdim);
  Tensor centered = self - ops::mean(self, dim, true);
  return (2.0 / (n - correction)) * (g * centered);
}

Tensor std_backward(const Tensor& result, const Tensor& grad, const Tensor& self,
                    const std::optional<DimVector>& dim, double correction, bool keepdim) {
  return var_backward(grad / (2.0 * result), self, dim, correction, keepdim);
}

Tensor softmax_backward_data(const Tensor& grad, const Tensor& result, int64_t dim, DType dtype) {
  Tensor gr = grad * result;
  Tensor out = gr - result * ops::sum(gr, DimVector{dim}, true);
  return out.dtype() == dtype ? out : ops::to_dtype(out, dtype);
}

std::tuple<Tensor, Tensor, Tensor> layer_norm_backward_all(const Tensor& grad, const Tensor& input, const Tensor& mean,
                                                           const Tensor& rstd, const Tensor& weight, const Tensor& bias,
                                                           const DimVector& normalized_shape, double eps) {
  if (!grad.defined()) {  // only mean/rstd were used: their gradients are not propagated (as in torch)
    return {zeros_like(input), weight.defined() ? zeros_like(weight) : Tensor(),
            bias.defined() ? zeros_like(bias) : Tensor()};
  }
  if (!grad_mode_enabled()) {
    auto [gi, gw, gb] = ops::layer_norm_backward(grad, input, mean, rstd, normalized_shape,
                                                 weight.defined() ? std::optional<Tensor>(weight) : std::nullopt);
    return {gi, weight.defined() ? gw : Tensor(), bias.defined() ? gb : Tensor()};
  }
  // create_graph=True: the same formula from recorded ops. The statistics are recomputed from `input`
  // (the saved ones carry no gradient of their own), in the statistics' dtype (float32 for 16-bit inputs).
  const DType acc = mean.dtype();
  const int64_t k = static_cast<int64_t>(normalized_shape.size()), nd = input.dim();
  DimVector dims;
  for (int64_t i = nd - k; i < nd; ++i) dims.push_back(i);
  const Tensor x = input.dtype() == acc ? input : ops::to_dtype(input, acc);
  const Tensor g = grad.dtype() == acc ? grad : ops::to_dtype(grad, acc);
  const Tensor xc = x - ops::mean(x, dims, true);
  const Tensor rs = ops::rsqrt(ops::mean(xc * xc, dims, true) + Scalar(eps));
  const Tensor xhat = xc * rs;
  const Tensor gw = weight.defined() ? g * (weight.dtype() == acc ? weight : ops::to_dtype(weight, acc)) : g;
  Tensor gi = rs * (gw - ops::mean(gw, dims, true) - xhat * ops::mean(gw * xhat, dims, true));
  if (gi.dtype() != input.dtype()) gi = ops::to_dtype(gi, input.dtype());
  Tensor gweight, gbias;
  if (weight.defined()) {
    gweight = sum_to(g * xhat, weight.shape());
    if (gweight.dtype() != weight.dtype()) gweight = ops::to_dtype(gweight, weight.dtype());
  }
  if (bias.defined()) {
    gbias = sum_to(g, bias.shape());
    if (gbias.dtype() != bias.dtype()) gbias = ops::to_dtype(gbias, bias.dtype());
  }
  return {gi, gweight, gbias};
}

Tensor log_softmax_backward_data(const Tensor& grad, const Tensor& result, int64_t dim, DType dtype) {
  Tensor out = grad - ops::exp(result) * ops::sum(grad, DimVector{dim}, true);
  return out.dtype() == dtype ? out : ops::to_dtype(out, dtype);
}

Tensor logsumexp_backward(const Tensor& grad, const Tensor& self, const Tensor& result, const DimVector& dim,
                          bool keepdim) {
  Tensor g = unsqueeze_reduced(grad, self.dim(), dim, keepdim);
  Tensor r = unsqueeze_reduced(result, self.dim(), dim, keepdim);
  return g * ops::exp(self - r);
}

Tensor amax_amin_backward(const Tensor& grad, const Tensor& self, const Tensor& result,
                          const std::optional<DimVector>& dim, bool keepdim) {
  Tensor g = unsqueeze_reduced(grad, self.dim(), dim, keepdim);
  Tensor r = unsqueeze_reduced(result, self.dim(), dim, keepdim);
  Tensor mask = ops::to_dtype(ops::eq(self, r), self.dtype());
  DimVector dims = reduced_dims(self.dim(), dim);
  Tensor count = self.dim() == 0 ? mask : ops::sum(mask, dims, true);
  return g * mask / count;
}

Tensor evenly_distribute_backward(const Tensor& grad, const Tensor& self, const Tensor& result) {
  Tensor mask = ops::to_dtype(ops::eq(self, result), self.dtype());
  return grad * mask / ops::sum(mask);
}

Tensor value_selecting_reduction_backward(const Tensor& grad, int64_t dim, const Tensor& indices, const Shape& shape,
                                          bool keepdim) {
  int64_t ndim = static_cast<int64_t>(shape.size());
  if (ndim == 0) return grad;
  int64_t d = wrap_dim(dim, ndim);
  Tensor g = keepdim ? grad : ops::unsqueeze(grad, d);
  Tensor idx = keepdim ? indices : ops::unsqueeze(indices, d);
  return ops::scatter_add(ops::zeros(shape, grad.dtype(), grad.device()), d, idx, g);
}

namespace {

// For every element, the product of the other elements of its reduced slice: the reduced dims are moved
// last and flattened into one, and the product of the others is (exclusive cumprod from the left) *
// (exclusive cumprod from the right). No division, so it is exact with zeros (one zero in a slice: only
// that element's product is nonzero; two or more: all are zero), and made of differentiable ops whose
// own gradients handle zeros (cumprod's), so a double backward is exact too.
Tensor prod_of_others(const Tensor& self, const std::optional<DimVector>& dim) {
  const int64_t ndim = self.dim();
  const DimVector reduced = reduced_dims(ndim, dim);
  DimVector perm, permuted_shape, flat_shape;
  for (int64_t d = 0; d < ndim; ++d)
    if (std::find(reduced.begin(), reduced.end(), d) == reduced.end()) {
      perm.push_back(d);
      flat_shape.push_back(self.shape()[d]);
    }
  const int64_t last = static_cast<int64_t>(flat_shape.size());
  int64_t n = 1;
  for (int64_t d : reduced) {
    perm.push_back(d);
    n *= self.shape()[d];
  }
  for (int64_t d : perm) permuted_shape.push_back(self.shape()[d]);
  flat_shape.push_back(n);
  const Tensor x = ops::reshape(ops::permute(self, perm), flat_shape);
  DimVector one_shape = flat_shape;
  one_shape.back() = 1;
  const Tensor one = ops::ones(one_shape, self.dtype(), self.device());
  auto exclusive_cumprod = [&](const Tensor& t) {
    return ops::cumprod(ops::cat({one, ops::slice(t, last, int64_t{0}, n - 1)}, last), last);
  };
  const DimVector along{last};
  const Tensor others = exclusive_cumprod(x) * ops::flip(exclusive_cumprod(ops::flip(x, along)), along);
  DimVector inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  return ops::permute(ops::reshape(others, permuted_shape), inverse);
}

}  // namespace

// Without zeros, d prod / d x_k = prod / x_k; with zeros that quotient is 0/0, so the product of the other
// elements is formed directly (as torch does).
Tensor prod_backward(const Tensor& grad, const Tensor& self, const Tensor& result, const std::optional<DimVector>& dim,
                     bool keepdim) {
  Tensor g = unsqueeze_reduced(grad, self.dim(), dim, keepdim);
  if (self.dim() == 0) return g * ops::ones(DimVector{}, self.dtype(), self.device());  // prod(x) = x
  if (has_zero(self)) return g * prod_of_others(self, dim);
  Tensor r = unsqueeze_reduced(result, self.dim(), dim, keepdim);
  return g * r / self;
}

Tensor cumsum_backward(const Tensor& grad, int64_t dim) {
  if (grad.dim() == 0) return grad;
  return reverse_cumsum(grad, dim);
}

namespace {

// dL/dx_k = sum_{j>=k} g_j * prod_{i<=j, i!=k} x_i, computed directly for every k along dim: O(n^2), but
// made of differentiable ops only, so a double backward through inputs with zeros is exact.
Tensor cumprod_backward_direct(const Tensor& grad, const Tensor& self, int64_t d) {
  const int64_t n = self.shape()[d];
  DimVector line(static_cast<size_t>(self.dim()), 1);
  line[d] = n;
  Tensor pos = ops::reshape(ops::arange(Scalar(int64_t{0}), Scalar(n), Scalar(int64_t{1}), DType::Int64), line);
  Tensor one = scalar_tensor(Scalar(1.0)), zero = scalar_tensor(Scalar(0.0));
  std::vector<Tensor> parts;
  for (int64_t k = 0; k < n; ++k) {
    Tensor without_k = ops::cumprod(ops::where(ops::eq(pos, scalar_tensor(Scalar(k))), one, self), d);
    Tensor terms = ops::where(ops::ge(pos, scalar_tensor(Scalar(k))), grad * without_k, zero);
    parts.push_back(ops::sum(terms, DimVector{d}, true));
  }
  return ops::cat(parts, d);
}

}  // namespace

// PyTorch's formula. Without zeros, dL/dx = reverse_cumsum(g * y) / x (y = cumprod(x)). With zeros, along
// each line only the positions up to the first zero get a gradient: before it the same quotient (every
// later y is 0 anyway), at it the products with that zero left out, reverse_cumsum(g * cumprod(x with the
// zero set to 1)), after it 0 (each product still holds the first zero). That masked form is exact but
// its own derivative is not (the "after" part is a constant 0), so a double backward (grad mode on) through
// inputs with zeros uses the direct O(n^2) formula.
Tensor cumprod_backward(const Tensor& grad, const Tensor& self, int64_t dim, const Tensor& result) {
  if (self.dim() == 0 || self.numel() == 0) return grad;
  const int64_t d = wrap_dim(dim, self.dim());
  if (!has_zero(self)) return reverse_cumsum(grad * result, d) / self;
  if (grad_mode_enabled()) return cumprod_backward_direct(grad, self, d);
  Tensor one = scalar_tensor(Scalar(1.0)), zero = scalar_tensor(Scalar(0.0));
  Tensor is_zero = ops::eq(self, zero);
  Tensor zeros_so_far = ops::cumsum(is_zero, d);
  Tensor before = ops::eq(zeros_so_far, scalar_tensor(Scalar(int64_t{0})));
  Tensor first = ops::logical_and(is_zero, ops::eq(zeros_so_far, scalar_tensor(Scalar(int64_t{1}))));
  Tensor at_first = reverse_cumsum(grad * ops::cumprod(ops::where(first, one, self), d), d);
  Tensor before_first = reverse_cumsum(grad * result, d) / ops::where(before, self, one);
  return ops::where(before, before_first, ops::where(first, at_first, zero));
}

Tensor norm_backward(const Tensor& grad, const Tensor& self, const Scalar& p, const Tensor& result,
                     const std::optional<DimVector>& dim, bool keepdim) {
  double pv = p.to_double();
  Tensor g = unsqueeze_reduced(grad, self.dim(), dim, keepdim);
  Tensor r = unsqueeze_reduced(result, self.dim(), dim, keepdim);
  if (pv == 0.0) return zeros_like(self);
  if (pv == 1.0) return g * ops::sign(self);
  if (std::isinf(pv)) return amax_amin_backward(grad, ops::abs(self), result, dim, keepdim) * ops::sign(self);
  Tensor safe_r = ops::where(ops::eq(r, scalar_tensor(Scalar(0.0))), scalar_tensor(Scalar(1.0)), r);
  if (pv == 2.0) return ops::where(ops::eq(r, scalar_tensor(Scalar(0.0))), scalar_tensor(Scalar(0.0)), g * self / safe_r);
  Tensor scaled = self * ops::pow(ops::abs(self), scalar_tensor(Scalar(pv - 2.0)));
  return ops::where(ops::eq(r, scalar_tensor(Scalar(0.0))), scalar_tensor(Scalar(0.0)),
                    g * scaled / ops::pow(safe_r, scalar_tensor(Scalar(pv - 1.0))));
}

Tensor index_select_backward(const Tensor& grad, const Shape& shape, int64_t dim, const Tensor& index) {
  int64_t ndim = static_cast<int64_t>(shape.size());
  if (ndim == 0) return ops::reshape(ops::sum(grad), shape);
  int64_t d = wrap_dim(dim, ndim);
  DimVector view(static_cast<size_t>(ndim), 1);
  view[d] = index.numel();
  Tensor idx = ops::contiguous(ops::expand(ops::reshape(ops::to_dtype(index, DType::Int64), view), grad.shape()));
  return ops::scatter_add(ops::zeros(shape, grad.dtype(), grad.device()), d, idx, grad);
}

Tensor slice_backward(const Tensor& grad, const Shape& shape, int64_t dim, std::optional<int64_t> start,
                      std::optional<int64_t> end, int64_t step) {
  int64_t d = wrap_dim(dim, static_cast<int64_t>(shape.size()));
  int64_t n = shape[d];
  int64_t s = start.value_or(0);
  if (s < 0) s += n;
  s = std::clamp<int64_t>(s, 0, n);
  int64_t count = grad.shape()[d];
  Tensor index = ops::arange(Scalar(s), Scalar(s + count * step), Scalar(step), DType::Int64);
  // arange runs on the host only: the index joins the gradient's device (a CUDA slice's backward).
  if (!grad.device().is_cpu()) index = tensor_to_device(index, grad.device(), false);
  return index_select_backward(grad, shape, d, index);
}

Tensor select_backward(const Tensor& grad, const Shape& shape, int64_t dim, int64_t index) {
  int64_t d = wrap_dim(dim, static_cast<int64_t>(shape.size()));
  int64_t i = index < 0 ? index + shape[d] : index;
  return slice_backward(ops::unsqueeze(grad, d), shape, d, i, i + 1, 1);
}

Tensor repeat_backward(const Tensor& grad, const DimVector& repeats, const Shape& shape) {
  size_t n = std::max(repeats.size(), shape.size());
  DimVector reps(n - repeats.size(), 1), sizes(n - shape.size(), 1);
  for (int64_t r : repeats) reps.push_back(r);
  for (int64_t s : shape) sizes.push_back(s);
  DimVector split, summed;
  for (size_t i = 0; i < n; ++i) {
    summed.push_back(static_cast<int64_t>(split.size()));
    split.push_back(reps[i]);
    split.push_back(sizes[i]);
  }
  Tensor g = ops::sum(ops::reshape(grad, split), summed);
  return ops::reshape(g, shape);
}

Tensor pad_backward(const Tensor& grad, const Shape& shape, const DimVector& pad, const std::string& mode) {
  HY_CHECK(mode == "constant", RuntimeError, "op pad is not differentiable yet for mode '", mode, "'");
  // Constant padding by p is undone by padding by -p (negative pads crop), and vice versa.
  return ops::pad(grad, negate_list(pad), "constant", 0.0);
}

Tensor scatter_add_src_backward(const Tensor& grad, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor g = ops::gather(grad, dim, index);
  if (g.shape() == src.shape()) return g;
  // Only the index-shaped corner of src is read; the rest gets a zero gradient.
  DimVector pads;
  for (int64_t d = src.dim() - 1; d >= 0; --d) {
    pads.push_back(0);
    pads.push_back(src.shape()[d] - g.shape()[d]);
  }
  return ops::pad(g, pads, "constant", 0.0);
}

DimVector inverse_permutation(const DimVector& dims) {
  DimVector inv(dims.size(), 0);
  int64_t n = static_cast<int64_t>(dims.size());
  for (int64_t i = 0; i < n; ++i) inv[wrap_dim(dims[i], n)] = i;
  return inv;
}

Tensor scaled(const Tensor& t, const Scalar& s) {
  if (!s.is_bool() && s.to_double() == 1.0) return t;
  return t * s;
}

Tensor mm_backward_mat2(const Tensor& grad, const Tensor& mat1, const Tensor& mat2) {
  if (mat2.dim() == 2 && mat2.shape()[0] > 1 && mat2.shape()[1] > 1 && mat2.strides()[0] == 1 &&
      mat2.strides()[1] == mat2.shape()[0])
    return ops::transpose(ops::mm(ops::transpose(grad, -2, -1), mat1), -2, -1);
  return ops::mm(ops::transpose(mat1, -2, -1), grad);
}

Tensor matmul_backward_self(const Tensor& grad, const Tensor& self, const Tensor& other) {
  if (self.dim() == 1 && other.dim() == 1) return grad * other;
  if (self.dim() == 1) {  // (k) @ (..., k, n) -> (..., n)
    Tensor g = ops::matmul(ops::unsqueeze(grad, -2), ops::transpose(other, -2, -1));  // (..., 1, k)
    return sum_to(ops::squeeze(g, DimVector{-2}), self.shape());
  }
  if (other.dim() == 1) {  // (..., m, k) @ (k) -> (..., m)
    return sum_to(ops::mul(ops::unsqueeze(grad, -1), other), self.shape());
  }
  return sum_to(ops::matmul(grad, ops::transpose(other, -2, -1)), self.shape());
}

Tensor matmul_backward_other(const Tensor& grad, const Tensor& self, const Tensor& other) {
  if (self.dim() == 1 && other.dim() == 1) return grad * self;
  if (self.dim() == 1) return sum_to(ops::mul(ops::unsqueeze(self, -1), ops::unsqueeze(grad, -2)), other.shape());
  if (other.dim() == 1) {
    Tensor g = ops::matmul(ops::transpose(self, -2, -1), ops::unsqueeze(grad, -1));  // (..., k, 1)
    return sum_to(ops::squeeze(g, DimVector{-1}), other.shape());
  }
  return sum_to(ops::matmul(ops::transpose(self, -2, -1), grad), other.shape());
}

DimVector cat_sizes(const TensorList& tensors, int64_t dim) {
  DimVector out;
  for (const auto& t : tensors) out.push_back(t.shape()[wrap_dim(dim, t.dim())]);
  return out;
}

DimVector negate_list(const DimVector& v) {
  DimVector out;
  for (int64_t x : v) out.push_back(-x);
  return out;
}

TensorList unbind(const Tensor& t, int64_t dim) {
  int64_t d = wrap_dim(dim, t.dim());
  TensorList out;
  for (int64_t i = 0; i < t.shape()[d]; ++i) out.push_back(ops::select(t, d, i));
  return out;
}

Tensor masked_select_backward(const Tensor& grad, const Tensor& self, const Tensor& mask) {
  // Work in the broadcast shape of self and mask, then sum back to self's shape.
  Tensor shaped = ops::add(zeros_like(self), ops::to_dtype(mask, self.dtype()));
  Tensor full_mask = ops::contiguous(ops::broadcast_to(mask, shaped.shape()));
  Tensor nz = ops::nonzero(full_mask);
  TensorList idx;
  for (int64_t j = 0; j < nz.shape()[1]; ++j) idx.push_back(ops::select(nz, 1, j));
  Tensor g = ops::index_put_(ops::zeros(shaped.shape(), grad.dtype(), grad.device()), idx, grad, true);
  return sum_to(g, self.shape());
}

Tensor clamp_backward(const Tensor& grad, const Tensor& self, const std::optional<Scalar>& min,
                      const std::optional<Scalar>& max) {
  Tensor g = grad;
  if (min) g = g * (self >= *min);
  if (max) g = g * (self <= *max);
  return g;
}

Tensor clamp_tensor_backward(const Tensor& grad, const Tensor& self, const Tensor& min, const Tensor& max) {
  Tensor g = grad;
  if (min.defined()) g = g * (self >= min);
  if (max.defined()) g = g * (self <= max);
  return sum_to(g, self.shape());
}

}  // namespace hy::autograd::backward
