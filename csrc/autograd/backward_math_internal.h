// The vocabulary of backward formulas (generated code only): Tensor arithmetic operators that call the
// differentiable front functions, and the helper functions formulas name (sum_to, sum_backward, ...).
// Because everything here is built from recorded ops, create_graph=True records the backward pass
// itself and higher-order gradients follow.
#pragma once
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "hyflow/ops/ops_common.h"

namespace hy::autograd::backward {

/// A Python-number-like 0-d tensor (weak in type promotion).
Tensor scalar_tensor(const Scalar& s);

namespace operators {
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, const Scalar& b);
Tensor operator-(const Tensor& a, const Scalar& b);
Tensor operator*(const Tensor& a, const Scalar& b);
Tensor operator/(const Tensor& a, const Scalar& b);
Tensor operator+(const Scalar& a, const Tensor& b);
Tensor operator-(const Scalar& a, const Tensor& b);
Tensor operator*(const Scalar& a, const Tensor& b);
Tensor operator/(const Scalar& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Scalar& b);
Tensor operator<(const Tensor& a, const Scalar& b);
Tensor operator>=(const Tensor& a, const Scalar& b);
Tensor operator<=(const Tensor& a, const Scalar& b);
}  // namespace operators

// --- recording support ---
/// Whether any of next_edges[first, first + n) wants a gradient.
bool should_compute(const std::vector<Edge>& edges, size_t first, size_t n);
/// In-place ops: refuse leaves that require grad and views (view+inplace rebasing is not supported).
void check_inplace(const Tensor& target, const char* op);
/// A copy of what `target` holds before an in-place op overwrites it (saved for backward).
Tensor copy_before_write(const Tensor& target);
/// `t`, or `before` when `t` is the tensor an in-place op is about to overwrite.
Tensor pre_write(const Tensor& t, const Tensor& target, const Tensor& before);
/// The result as a new handle when a kernel returned one of its inputs (e.g. contiguous() of a
/// contiguous tensor), so recording history on it does not rewrite the input's.
Tensor distinct_output(const Tensor& result, const Tensor& target, std::initializer_list<Tensor> inputs);
TensorList unpack_list(const std::vector<SavedVariable>& saved, const std::shared_ptr<Node>& owner);
std::optional<Tensor> as_optional(const Tensor& t);

// --- helpers named by formulas ---
Tensor zeros_like(const Tensor& t);
/// The complex conjugate of a complex tensor (differentiable); a real tensor itself (no op runs).
Tensor conj(const Tensor& t);
/// The gradient for an input of dtype `input_dtype`: torch's rule for a real input reached by a complex
/// gradient is its real part; otherwise `g` itself.
Tensor grad_like(const Tensor& g, DType input_dtype);
Tensor sum_to(const Tensor& g, const Shape& shape);
Tensor sum_backward(const Tensor& grad, const Shape& shape, const std::optional<DimVector>& dim, bool keepdim);
double reduced_numel(const Shape& shape, const std::optional<DimVector>& dim);
Tensor var_backward(const Tensor& grad, const Tensor& self, const std::optional<DimVector>& dim, double correction,
                    bool keepdim);
Tensor std_backward(const Tensor& result, const Tensor& grad, const Tensor& self,
                    const std::optional<DimVector>& dim, double correction, bool keepdim);
/// (grad_input, grad_weight, grad_bias) of layer_norm (undefined for a weight/bias that is None). Runs the
/// one-pass layer_norm_backward kernel; under create_graph=True it is composed of recorded ops instead
/// (recomputing the statistics from `input`), so second derivatives follow.
std::tuple<Tensor, Tensor, Tensor> layer_norm_backward_all(const Tensor& grad, const Tensor& input, const Tensor& mean,
                                                           const Tensor& rstd, const Tensor& weight, const Tensor& bias,
                                                           const DimVector& normalized_shape, double eps);
Tensor softmax_backward_data(const Tensor& grad, const Tensor& result, int64_t dim, DType dtype);
Tensor log_softmax_backward_data(const Tensor& grad, const Tensor& result, int64_t dim, DType dtype);
Tensor logsumexp_backward(const Tensor& grad, const Tensor& self, const Tensor& result, const DimVector& dim,
                          bool keepdim);
Tensor amax_amin_backward(const Tensor& grad, const Tensor& self, const Tensor& result,
                          const std::optional<DimVector>& dim, bool keepdim);
Tensor evenly_distribute_backward(const Tensor& grad, const Tensor& self, const Tensor& result);
Tensor value_selecting_reduction_backward(const Tensor& grad, int64_t dim, const Tensor& indices, const Shape& shape,
                                          bool keepdim);
Tensor prod_backward(const Tensor& grad, const Tensor& self, const Tensor& result, const std::optional<DimVector>& dim,
                     bool keepdim);
Tensor cumsum_backward(const Tensor& grad, int64_t dim);
Tensor cumprod_backward(const Tensor& grad, const Tensor& self, int64_t dim, const Tensor& result);
Tensor norm_backward(const Tensor& grad, const Tensor& self, const Scalar& p, const Tensor& result,
                     const std::optional<DimVector>& dim, bool keepdim);
Tensor slice_backward(const Tensor& grad, const Shape& shape, int64_t dim, std::optional<int64_t> start,
                      std::optional<int64_t> end, int64_t step);
Tensor select_backward(const Tensor& grad, const Shape& shape, int64_t dim, int64_t index);
Tensor index_select_backward(const Tensor& grad, const Shape& shape, int64_t dim, const Tensor& index);
Tensor repeat_backward(const Tensor& grad, const DimVector& repeats, const Shape& shape);
Tensor pad_backward(const Tensor& grad, const Shape& shape, const DimVector& pad, const std::string& mode);
DimVector inverse_permutation(const DimVector& dims);
Tensor scatter_add_src_backward(const Tensor& grad, int64_t dim, const Tensor& index, const Tensor& src);
Tensor matmul_backward_self(const Tensor& grad, const Tensor& self, const Tensor& other);
Tensor matmul_backward_other(const Tensor& grad, const Tensor& self, const Tensor& other);
// t * s, or t itself when s is 1 (no extra pass for the default alpha/beta of addmm)
Tensor scaled(const Tensor& t, const Scalar& s);
// Gradient of mm's second operand, mm(mat1.mT, grad), computed in mat2's own layout when mat2 is a transposed
// matrix (a weight used as weight.T) so the transpose's backward hands back a contiguous gradient.
Tensor mm_backward_mat2(const Tensor& grad, const Tensor& mat1, const Tensor& mat2);
DimVector cat_sizes(const TensorList& tensors, int64_t dim);
DimVector negate_list(const DimVector& v);
TensorList unbind(const Tensor& t, int64_t dim);
Tensor masked_select_backward(const Tensor& grad, const Tensor& self, const Tensor& mask);
Tensor clamp_backward(const Tensor& grad, const Tensor& self, const std::optional<Scalar>& min,
                      const std::optional<Scalar>& max);
Tensor clamp_tensor_backward(const Tensor& grad, const Tensor& self, const Tensor& min, const Tensor& max);

// --- matrix decompositions and solvers (linalg_backward.cpp; real inputs, torch's conventions) ---
/// grad * cofactor(A): det * inv(A)^T, or from the SVD when a matrix of the batch is singular.
Tensor linalg_det_backward(const Tensor& grad, const Tensor& det, const Tensor& A);
/// The logabsdet gradient (the sign's is zero): inv(A)^T scaled; +-inf for a singular matrix.
Tensor linalg_slogdet_backward(const TensorList& grads, const Tensor& sign, const Tensor& A);
/// (grad A, grad B) of X = solve(A, B), summed over broadcast batch dims.
std::tuple<Tensor, Tensor> linalg_solve_backward(const Tensor& grad, const Tensor& A, const Tensor& B, const Tensor& X);
std::tuple<Tensor, Tensor> linalg_solve_triangular_backward(const Tensor& grad, const Tensor& A, const Tensor& B,
                                                            const Tensor& X, bool upper, bool left,
                                                            bool unitriangular);
Tensor linalg_cholesky_backward(const Tensor& grad, const Tensor& L, bool upper);
Tensor linalg_qr_backward(const TensorList& grads, const Tensor& A, const Tensor& Q, const Tensor& R,
                          const std::string& mode);
Tensor linalg_eigh_backward(const TensorList& grads, const Tensor& L, const Tensor& V, bool compute_v);
Tensor linalg_svd_backward(const TensorList& grads, const Tensor& U, const Tensor& S, const Tensor& Vh,
                           bool full_matrices, bool compute_uv);
Tensor linalg_pinv_backward(const Tensor& grad, const Tensor& pinv, const Tensor& A);

}  // namespace hy::autograd::backward
