// Gradients of the matrix decompositions and solvers (csrc/ops/table/linalg_decomp.yaml), for real inputs.
// Written with front functions only, like backward_helpers.cpp, so create_graph=True records them and
// second derivatives follow. The formulas and their conventions are torch's (derivations in docs/linalg.md):
// eigh and cholesky return a symmetric gradient, svd with full_matrices=True ignores the gradient of the
// columns of U / rows of Vh beyond min(m, n) (they are not unique), repeated eigenvalues or singular values
// give inf/nan gradients for the vectors.
#include "autograd/backward_math_internal.h"
#include "core/error.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/creation.h"
#include "hyflow/ops/linalg.h"
#include "hyflow/ops/linalg_decomp.h"
#include "hyflow/ops/reduce.h"
#include "hyflow/ops/shape.h"
#include "hyflow/ops/tensor.h"
#include "hyflow/ops/triangular.h"
#include "hyflow/ops/unary.h"
#include "kernels/device_copy.h"

namespace hy::autograd::backward {
using namespace operators;

namespace {

Tensor mT(const Tensor& t) { return ops::transpose(t, -2, -1); }

Tensor eye_like(int64_t n, const Tensor& like) { return ops::eye(n, n, like.dtype(), like.device()); }

// (..., n) -> (..., n, n) with v on the diagonal.
Tensor diag_embed(const Tensor& v) { return ops::unsqueeze(v, -2) * eye_like(v.shape()[v.dim() - 1], v); }

// A 0-d bool tensor's value on the host: a device tensor is copied back first (one synchronization), so
// these formulas run on CUDA tensors too.
bool host_bool(const Tensor& z) {
  Tensor h = ops::contiguous(ops::to_dtype(z, DType::Bool));
  if (!h.device().is_cpu()) h = tensor_to_device(h, Device{}, false);
  return *h.data<bool>();
}

// Whether any element is nonzero (read once, outside the recorded graph). A gradient the engine zero-filled
// for an unused output must not enter a formula that divides by eigenvalue gaps: 0 / 0 would be nan.
bool any_nonzero(const Tensor& t) {
  GradModeGuard off(false);
  if (t.numel() == 0) return false;
  return host_bool(ops::any(ops::ne(t, scalar_tensor(Scalar(0.0)))));
}

// Scale a batch of scalars (shape A.shape[:-2]) up to matrices.
Tensor as_matrix_scale(const Tensor& s) { return ops::unsqueeze(ops::unsqueeze(s, -1), -1); }

// The cofactor matrix of each square matrix, from A = U diag(s) Vh: det(U) det(Vh) U diag(prod_{j != i} s_j) Vh.
// Valid for singular matrices too (where det * inv(A)^T is not).
Tensor cofactor_from_svd(const Tensor& A) {
  auto [U, S, Vh] = ops::linalg_svd(A, false, true);
  const int64_t n = S.shape()[S.dim() - 1];
  DimVector one_shape = S.shape();
  one_shape[one_shape.size() - 1] = 1;
  Tensor ones = ops::ones(one_shape, S.dtype(), S.device());
  // Exclusive products from the left and from the right, so no division by a zero singular value.
  Tensor left = ops::cumprod(ops::cat({ones, ops::slice(S, -1, 0, n - 1, 1)}, -1), -1);
  Tensor right = ops::flip(ops::cumprod(ops::flip(ops::cat({ops::slice(S, -1, 1, n, 1), ones}, -1), {-1}), -1), {-1});
  Tensor others = left * right;
  Tensor d = ops::linalg_det(U) * ops::linalg_det(Vh);
  return as_matrix_scale(d) * ops::matmul(U * ops::unsqueeze(others, -2), Vh);
}

bool any_zero(const Tensor& t) {
  GradModeGuard off(false);
  if (t.numel() == 0) return false;
  return host_bool(ops::any(ops::eq(t, scalar_tensor(Scalar(0.0)))));
}

// Y R^{-T} for upper-triangular R (the solve X R^T = Y, R^T lower).
Tensor times_inv_rt(const Tensor& Y, const Tensor& R) {
  return ops::linalg_solve_triangular(mT(R), Y, /*upper=*/false, /*left=*/false, /*unitriangular=*/false);
}

// Gradient of A = Q R, A with m >= n (Q m x n, R n x n): [gQ + Q copyutl(M)] R^{-T},
// M = gR R^T - Q^T gQ, copyutl(M) the symmetric matrix with M's upper triangle.
Tensor qr_backward_tall(const Tensor& gQ, const Tensor& gR, const Tensor& Q, const Tensor& R) {
  Tensor M = ops::matmul(gR, mT(R)) - ops::matmul(mT(Q), gQ);
  Tensor sym = ops::triu(M, 0) + mT(ops::triu(M, 1));
  return times_inv_rt(gQ + ops::matmul(Q, sym), R);
}

}  // namespace

Tensor linalg_det_backward(const Tensor& grad, const Tensor& det, const Tensor& A) {
  if (A.numel() == 0) return zeros_like(A);
  if (!any_zero(det)) return as_matrix_scale(grad * det) * mT(ops::linalg_inv(A));
  return as_matrix_scale(grad) * cofactor_from_svd(A);
}

Tensor linalg_slogdet_backward(const TensorList& grads, const Tensor& sign, const Tensor& A) {
  if (A.numel() == 0) return zeros_like(A);
  const Tensor& g = grads[1];  // the sign is piecewise constant: no gradient
  if (!any_zero(sign)) return as_matrix_scale(g) * mT(ops::linalg_inv(A));
  // A singular matrix: log|det| = -inf, its gradient cofactor / det is infinite (as in torch).
  return as_matrix_scale(g) * cofactor_from_svd(A) / as_matrix_scale(ops::linalg_det(A));
}

std::tuple<Tensor, Tensor> linalg_solve_backward(const Tensor& grad, const Tensor& A, const Tensor& B,
                                                 const Tensor& X) {
  Tensor gB = ops::linalg_solve(mT(A), grad);
  Tensor gA = -ops::matmul(gB, mT(X));
  return {sum_to(gA, A.shape()), sum_to(gB, B.shape())};
}

std::tuple<Tensor, Tensor> linalg_solve_triangular_backward(const Tensor& grad, const Tensor& A, const Tensor& B,
                                                            const Tensor& X, bool upper, bool left,
                                                            bool unitriangular) {
  // X = A^{-1} B: gB = A^{-T} g, gA = -gB X^T; X = B A^{-1}: gB = g A^{-T}, gA = -X^T gB. Only the triangle
  // the kernel read gets a gradient (without its diagonal when unitriangular).
  Tensor gB = ops::linalg_solve_triangular(mT(A), grad, !upper, left, unitriangular);
  Tensor gA = left ? -ops::matmul(gB, mT(X)) : -ops::matmul(mT(X), gB);
  const int64_t off = unitriangular ? 1 : 0;
  gA = upper ? ops::triu(gA, off) : ops::tril(gA, -off);
  return {sum_to(gA, A.shape()), sum_to(gB, B.shape())};
}

Tensor linalg_cholesky_backward(const Tensor& grad, const Tensor& L_in, bool upper) {
  // A = L L^T: gA = L^{-T} phi(L^T gL) L^{-1}, phi = lower triangle with the diagonal halved; symmetrized.
  Tensor L = upper ? mT(L_in) : L_in;
  Tensor gL = upper ? mT(grad) : grad;
  if (L.numel() == 0) return zeros_like(L);
  Tensor P = ops::matmul(mT(L), gL);
  Tensor phi = ops::tril(P, -1) + P * eye_like(L.shape()[L.dim() - 1], L) * 0.5;
  Tensor gA = ops::linalg_solve_triangular(mT(L), phi, /*upper=*/true, /*left=*/true, false);
  gA = ops::linalg_solve_triangular(L, gA, /*upper=*/false, /*left=*/false, false);
  return (gA + mT(gA)) * 0.5;
}

Tensor linalg_qr_backward(const TensorList& grads, const Tensor& A, const Tensor& Q, const Tensor& R,
                          const std::string& mode) {
  HY_CHECK(mode != "r", RuntimeError, "The derivative of linalg.qr depends on Q, which is not computed when "
           "mode='r'. Use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.");
  const int64_t m = A.shape()[A.dim() - 2], n = A.shape()[A.dim() - 1];
  HY_CHECK(!(mode == "complete" && m > n), RuntimeError,
           "The QR decomposition is not differentiable when mode='complete' and nrows > ncols.");
  if (A.numel() == 0) return zeros_like(A);
  const Tensor& gQ = grads[0];
  const Tensor& gR = grads[1];
  if (m >= n) return qr_backward_tall(gQ, gR, Q, R);
  // m < n: A = [X | Y] with X = Q R1 square and R2 = Q^T Y. Y's gradient is Q gR2, and X's is the square
  // case with gQ + Y gR2^T (R2 depends on Q).
  Tensor Y = ops::slice(A, -1, m, n, 1);
  Tensor R1 = ops::slice(R, -1, 0, m, 1), gR1 = ops::slice(gR, -1, 0, m, 1), gR2 = ops::slice(gR, -1, m, n, 1);
  Tensor gX = qr_backward_tall(gQ + ops::matmul(Y, mT(gR2)), gR1, Q, R1);
  return ops::cat({gX, ops::matmul(Q, gR2)}, -1);
}

Tensor linalg_eigh_backward(const TensorList& grads, const Tensor& L, const Tensor& V, bool compute_v) {
  HY_CHECK(compute_v, RuntimeError, "linalg.eigh: the gradient needs the eigenvectors, which were not computed "
           "(compute_v=False); hy.linalg.eigvalsh computes them itself when its input requires grad.");
  const Tensor& gL = grads[0];
  const Tensor& gV = grads[1];
  if (V.numel() == 0) return zeros_like(V);
  // gA = V (diag(gL) + skew(V^T gV) / 2 / E) V^T, E_ij = L_j - L_i (1 on the diagonal, where skew is 0).
  Tensor inner = diag_embed(gL);
  if (any_nonzero(gV)) {
    Tensor VtgV = ops::matmul(mT(V), gV);
    Tensor E = ops::unsqueeze(L, -2) - ops::unsqueeze(L, -1) + eye_like(L.shape()[L.dim() - 1], L);
    inner = inner + (VtgV - mT(VtgV)) * 0.5 / E;
  }
  return ops::matmul(ops::matmul(V, inner), mT(V));
}

Tensor linalg_svd_backward(const TensorList& grads, const Tensor& U_in, const Tensor& S, const Tensor& Vh_in,
                           bool full_matrices, bool compute_uv) {
  HY_CHECK(compute_uv, RuntimeError, "linalg.svd: the gradient needs U and Vh, which were not computed "
           "(compute_uv=False); hy.linalg.svdvals computes them itself when its input requires grad.");
  const int64_t k = S.shape()[S.dim() - 1];
  Tensor U = U_in, Vh = Vh_in, gU = grads[0], gVh = grads[2];
  const Tensor& gS = grads[1];
  const int64_t m = U.shape()[U.dim() - 2], n = Vh.shape()[Vh.dim() - 1];
  if (full_matrices) {  // the columns of U (rows of Vh) past k are any orthonormal completion: no gradient
    U = ops::slice(U, -1, 0, k, 1);
    gU = ops::slice(gU, -1, 0, k, 1);
    Vh = ops::slice(Vh, -2, 0, k, 1);
    gVh = ops::slice(gVh, -2, 0, k, 1);
  }
  if (m == 0 || n == 0) {
    DimVector shape = U.shape();
    shape[shape.size() - 1] = n;
    return ops::zeros(shape, S.dtype(), S.device());
  }
  const bool has_u = any_nonzero(gU), has_v = any_nonzero(gVh);
  // gA = U [F o skew(U^T gU) S + S F o skew(V^T gV) + diag(gS)] Vh + (I - U U^T) gU S^{-1} Vh
  //      + U S^{-1} gV^T (I - V V^T),  F_ij = 1 / (s_j^2 - s_i^2).
  Tensor inner = diag_embed(gS);
  Tensor UtgU, VtgV, E;
  if (has_u || has_v) {
    Tensor S2 = S * S;
    E = ops::unsqueeze(S2, -2) - ops::unsqueeze(S2, -1) + eye_like(k, S);
  }
  if (has_u) {
    UtgU = ops::matmul(mT(U), gU);
    inner = inner + (UtgU - mT(UtgU)) / E * ops::unsqueeze(S, -2);
  }
  if (has_v) {
    VtgV = ops::matmul(Vh, mT(gVh));
    inner = inner + ops::unsqueeze(S, -1) * ((VtgV - mT(VtgV)) / E);
  }
  Tensor gA = ops::matmul(ops::matmul(U, inner), Vh);
  if (has_u && m > k) gA = gA + ops::matmul((gU - ops::matmul(U, UtgU)) / ops::unsqueeze(S, -2), Vh);
  if (has_v && n > k) gA = gA + ops::matmul(U, (gVh - ops::matmul(mT(VtgV), Vh)) / ops::unsqueeze(S, -1));
  return gA;
}

Tensor linalg_pinv_backward(const Tensor& grad, const Tensor& P, const Tensor& A) {
  // P = A^+ (n x m), constant rank: gA = -P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A).
  if (A.numel() == 0) return zeros_like(A);
  Tensor Pt = mT(P), gt = mT(grad);
  Tensor t1 = -ops::matmul(ops::matmul(Pt, grad), Pt);
  Tensor W = ops::matmul(gt, ops::matmul(P, Pt));
  Tensor t2 = W - ops::matmul(A, ops::matmul(P, W));
  Tensor Z = ops::matmul(Pt, ops::matmul(P, gt));
  Tensor t3 = Z - ops::matmul(ops::matmul(Z, P), A);
  return t1 + t2 + t3;
}

}  // namespace hy::autograd::backward
