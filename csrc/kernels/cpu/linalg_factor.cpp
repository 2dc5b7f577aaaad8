// Factorizations (csrc/ops/table/linalg_decomp.yaml) on LAPACK: Cholesky (potrf), QR (geqrf/orgqr),
// symmetric eigen (syevd), SVD (gesdd) and the pseudo-inverse built on them.
// How batches reach LAPACK: kernels/cpu/linalg_batch.h.
#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/linalg_error.h"
#include "core/parallel.h"
#include "core/shape_util.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/creation.h"
#include "hyflow/ops/linalg.h"
#include "hyflow/ops/ops_common.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/linalg_batch.h"

namespace hy::kernels::cpu {
namespace {

using namespace linalg_batch;  // NOLINT(google-build-using-namespace): this file's vocabulary
using hy::cpu::LinAlgFailure;

// 1 / v for the values pinv keeps (|v| > max(atol, rtol * max |v|) within each matrix's row of values), else 0.
// `values` is a kernel's fresh contiguous output (singular values or eigenvalues).
Tensor kept_reciprocals(const Tensor& values, double atol, double rtol) {
  Tensor out = Tensor::empty(values.shape(), values.dtype());
  const int64_t k = values.shape()[values.dim() - 1], rows = k ? values.numel() / k : 0;
  dispatch(values.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* v = values.data<T>();
    T* o = out.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      double largest = 0;
      for (int64_t j = 0; j < k; ++j) largest = std::max(largest, static_cast<double>(std::abs(v[r * k + j])));
      const double tol = std::max(atol, rtol * largest);
      for (int64_t j = 0; j < k; ++j)
        o[r * k + j] = std::abs(static_cast<double>(v[r * k + j])) > tol ? T(1) / v[r * k + j] : T(0);
    }
  });
  return out;
}

}  // namespace

// ---- factorizations ----

Tensor linalg_cholesky(const Tensor& A, bool upper) {
  const char* op = "linalg.cholesky";
  check_matrix(A, op, "A", true);
  const int64_t n = rows_of(A);
  Tensor out = Tensor::empty(A.shape(), A.dtype());
  const int64_t count = shape_numel(batch_shape(A));
  if (out.numel() == 0) return out;
  std::vector<int> info(count, 0);
  const int ni = lapack::to_int(n, op);
  dispatch(A.dtype(), [&](auto zero) {
    using T = decltype(zero);
    Matrices<T> in(A);
    T* o = out.data<T>();
    for_each_matrix(count, n, [&](int64_t begin, int64_t end) {
      std::vector<T> a(n * n);
      for (int64_t b = begin; b < end; ++b) {
        in.load(b, a.data(), n);
        lapack::potrf(upper ? 'U' : 'L', ni, a.data(), ni, &info[b]);
        // Reference LAPACK stops at a NaN pivot (info = its order); OpenBLAS's potrf carries NaN through.
        for (int64_t i = 0; i < n && info[b] == 0; ++i)
          if (std::isnan(a[i + i * n])) info[b] = static_cast<int>(i + 1);
        // potrf leaves the other triangle as it found it: clear it.
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < n; ++i)
            if (upper ? i > j : i < j) a[i + j * n] = T(0);
        store(a.data(), n, n, n, o + b * n * n);
      }
    });
  });
  hy::cpu::linalg_raise_first_failure(info, A, op, LinAlgFailure::LinAlgFailure_NotPositiveDefinite);
  return out;
}

std::tuple<Tensor, Tensor> linalg_qr(const Tensor& A, const std::string& mode) {
  const char* op = "linalg.qr";
  hy::cpu::linalg_check_qr_mode(mode);
  check_matrix(A, op, "A", false);
  const int64_t m = rows_of(A), n = cols_of(A), k = std::min(m, n);
  const bool complete = mode == "complete", want_q = mode != "r";
  const int64_t q_cols = complete ? m : k, r_rows = complete ? m : k;
  const Shape batch = batch_shape(A);
  const int64_t count = shape_numel(batch);
  Tensor Q = want_q ? Tensor::empty(with_matrix(batch, m, q_cols), A.dtype()) : Tensor::empty({0}, A.dtype());
  Tensor R = Tensor::empty(with_matrix(batch, r_rows, n), A.dtype());
  if (count == 0) return {Q, R};
  const int mi = lapack::to_int(m, op), ni = lapack::to_int(n, op), ki = lapack::to_int(k, op);
  const int qi = lapack::to_int(q_cols, op);
  dispatch(A.dtype(), [&](auto zero) {
    using T = decltype(zero);
    Matrices<T> in(A);
    T* q_out = want_q ? Q.data<T>() : nullptr;
    T* r_out = R.data<T>();
    // Workspace sizes from LAPACK's own query (lwork = -1).
    int lwork = 1;
    if (k > 0) {
      T query = 0, dummy = 0;
      int info = 0;
      lapack::geqrf(mi, ni, &dummy, std::max(mi, 1), &dummy, &query, -1, &info);
      lwork = std::max(lwork, work_size(query, op));
      if (want_q) {
        lapack::orgqr(mi, qi, ki, &dummy, std::max(mi, 1), &dummy, &query, -1, &info);
        lwork = std::max(lwork, work_size(query, op));
      }
    }
    for_each_matrix(count, std::max(m, n), [&](int64_t begin, int64_t end) {
      std::vector<T> a(m * n), tau(std::max<int64_t>(k, 1)), work(lwork), q(m * q_cols);
      for (int64_t b = begin; b < end; ++b) {
        int info = 0;
        in.load(b, a.data(), m);
        if (k > 0) lapack::geqrf(mi, ni, a.data(), std::max(mi, 1), tau.data(), work.data(), lwork, &info);
        T* r = r_out + b * r_rows * n;
        for (int64_t i = 0; i < r_rows; ++i)
          for (int64_t j = 0; j < n; ++j) r[i * n + j] = (i <= j && i < k) ? a[i + j * m] : T(0);
        if (!want_q) continue;
        // The reflectors are in the first k columns of a; orgqr turns them into the first q_cols columns of Q.
        std::fill(q.begin(), q.end(), T(0));
        std::copy(a.begin(), a.begin() + m * std::min(k, q_cols), q.begin());
        if (k > 0) lapack::orgqr(mi, qi, ki, q.data(), std::max(mi, 1), tau.data(), work.data(), lwork, &info);
        else set_identity(q.data(), std::min(m, q_cols), m);  // no reflectors: Q is the identity (or empty)
        store(q.data(), m, m, q_cols, q_out + b * m * q_cols);
      }
    });
  });
  return {Q, R};
}

std::tuple<Tensor, Tensor> linalg_eigh(const Tensor& A, const std::string& UPLO, bool compute_v) {
  const char* op = "linalg.eigh";
  hy::cpu::linalg_check_uplo(UPLO);
  check_matrix(A, op, "A", true);
  const int64_t n = rows_of(A);
  const Shape batch = batch_shape(A);
  const int64_t count = shape_numel(batch);
  Shape w_shape = batch;
  w_shape.push_back(n);
  Tensor W = Tensor::empty(w_shape, A.dtype());
  Tensor V = compute_v ? Tensor::empty(A.shape(), A.dtype()) : Tensor::empty({0}, A.dtype());
  if (W.numel() == 0) return {W, V};
  std::vector<int> info(count, 0);
  const int ni = lapack::to_int(n, op);
  const char jobz = compute_v ? 'V' : 'N', uplo = UPLO[0];
  dispatch(A.dtype(), [&](auto zero) {
    using T = decltype(zero);
    Matrices<T> in(A);
    T* w_out = W.data<T>();
    T* v_out = compute_v ? V.data<T>() : nullptr;
    T query = 0, dummy = 0;
    int iquery = 0, qinfo = 0;
    lapack::syevd(jobz, uplo, ni, &dummy, ni, &dummy, &query, -1, &iquery, -1, &qinfo);
    const int lwork = work_size(query, op), liwork = std::max(1, iquery);
    for_each_matrix(count, n, [&](int64_t begin, int64_t end) {
      std::vector<T> a(n * n), work(lwork);
      std::vector<int> iwork(liwork);
      for (int64_t b = begin; b < end; ++b) {
        in.load(b, a.data(), n);
        if (!finite(a.data(), n, n, n, uplo)) {
          // NaN/inf in the triangle read: NaN results, as torch, rather than LAPACK's behaviour on them.
          std::fill(w_out + b * n, w_out + (b + 1) * n, std::numeric_limits<T>::quiet_NaN());
          if (compute_v) std::fill(v_out + b * n * n, v_out + (b + 1) * n * n, std::numeric_limits<T>::quiet_NaN());
          continue;
        }
        lapack::syevd(jobz, uplo, ni, a.data(), ni, w_out + b * n, work.data(), lwork, iwork.data(), liwork,
                      &info[b]);
        if (compute_v) store(a.data(), n, n, n, v_out + b * n * n);
      }
    });
  });
  hy::cpu::linalg_raise_first_failure(info, A, op, LinAlgFailure::LinAlgFailure_EighNoConvergence);
  return {W, V};
}

std::tuple<Tensor, Tensor, Tensor> linalg_svd(const Tensor& A, bool full_matrices, bool compute_uv) {
  const char* op = "linalg.svd";
  check_matrix(A, op, "A", false);
  const int64_t m = rows_of(A), n = cols_of(A), k = std::min(m, n);
  const int64_t u_cols = full_matrices ? m : k, vt_rows = full_matrices ? n : k;
  const Shape batch = batch_shape(A);
  const int64_t count = shape_numel(batch);
  Shape s_shape = batch;
  s_shape.push_back(k);
  Tensor S = Tensor::empty(s_shape, A.dtype());
  Tensor U = compute_uv ? Tensor::empty(with_matrix(batch, m, u_cols), A.dtype()) : Tensor::empty({0}, A.dtype());
  Tensor Vh = compute_uv ? Tensor::empty(with_matrix(batch, vt_rows, n), A.dtype()) : Tensor::empty({0}, A.dtype());
  if (count == 0) return {U, S, Vh};
  std::vector<int> info(count, 0);
  const int mi = lapack::to_int(m, op), ni = lapack::to_int(n, op);
  const int ldu = std::max(mi, 1), ldvt = std::max(lapack::to_int(vt_rows, op), 1);
  const char jobz = !compute_uv ? 'N' : full_matrices ? 'A' : 'S';
  dispatch(A.dtype(), [&](auto zero) {
    using T = decltype(zero);
    Matrices<T> in(A);
    T* s_out = S.data<T>();
    T* u_out = compute_uv ? U.data<T>() : nullptr;
    T* vt_out = compute_uv ? Vh.data<T>() : nullptr;
    int lwork = 1;
    if (k > 0) {
      T query = 0, dummy = 0;
      int iw = 0, qinfo = 0;
      lapack::gesdd(jobz, mi, ni, &dummy, std::max(mi, 1), &dummy, &dummy, ldu, &dummy, ldvt, &query, -1, &iw,
                    &qinfo);
      lwork = work_size(query, op);
    }
    for_each_matrix(count, std::max(m, n), [&](int64_t begin, int64_t end) {
      std::vector<T> a(m * n), u(compute_uv ? m * u_cols : 1), vt(compute_uv ? vt_rows * n : 1), work(lwork);
      std::vector<int> iwork(std::max<int64_t>(8 * k, 1));
      for (int64_t b = begin; b < end; ++b) {
        if (k == 0) {  // no singular values: U and Vh are identities (full) or empty
          if (compute_uv) {
            set_identity(u.data(), u_cols, m);
            set_identity(vt.data(), vt_rows, ldvt);
          }
        } else {
          in.load(b, a.data(), m);
          if (!finite(a.data(), m, n, m)) {  // refused, as torch (info -1 below)
            info[b] = -1;
            continue;
          }
          lapack::gesdd(jobz, mi, ni, a.data(), std::max(mi, 1), s_out + b * k, u.data(), ldu, vt.data(), ldvt,
                        work.data(), lwork, iwork.data(), &info[b]);
        }
        if (compute_uv) {
          store(u.data(), ldu, m, u_cols, u_out + b * m * u_cols);
          store(vt.data(), ldvt, vt_rows, n, vt_out + b * vt_rows * n);
        }
      }
    });
  });
  hy::cpu::linalg_raise_first_failure(info, A, op, LinAlgFailure::LinAlgFailure_SvdNoConvergence);
  return {U, S, Vh};
}

Tensor linalg_pinv(const Tensor& A, std::optional<double> atol, std::optional<double> rtol, bool hermitian) {
  const char* op = "linalg.pinv";
  check_matrix(A, op, "A", hermitian);
  const auto [abs_tol, rel_tol] = hy::cpu::linalg_pinv_tolerances(A, atol, rtol);
  const int64_t m = rows_of(A), n = cols_of(A);
  if (A.numel() == 0) return ops::zeros(with_matrix(batch_shape(A), n, m), A.dtype());
  if (hermitian) {  // A = V diag(L) V^T: A^+ = V diag(1 / L kept) V^T
    auto [L, V] = linalg_eigh(A, "L", true);
    Tensor inv = kept_reciprocals(L, abs_tol, rel_tol);
    return ops::matmul(ops::mul(V, ops::unsqueeze(inv, -2)), ops::transpose(V, -2, -1));
  }
  auto [U, S, Vh] = linalg_svd(A, false, true);  // A^+ = V diag(1 / S kept) U^T
  Tensor inv = kept_reciprocals(S, abs_tol, rel_tol);
  return ops::matmul(ops::mul(ops::transpose(Vh, -2, -1), ops::unsqueeze(inv, -2)), ops::transpose(U, -2, -1));
}

}  // namespace hy::kernels::cpu
