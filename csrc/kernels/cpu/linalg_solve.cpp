// Inverse, determinants and solves (csrc/ops/table/linalg_decomp.yaml) on LAPACK: getrf/getrs/getri, trsm.
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

namespace hy::cpu {

bool lapack_available() { return lapack::available(); }

}  // namespace hy::cpu

namespace hy::kernels::cpu {
using namespace linalg_batch;  // NOLINT(google-build-using-namespace): this file's vocabulary
using hy::cpu::LinAlgFailure;

// ---- inverse, determinants, solves ----

Tensor linalg_inv(const Tensor& A) {
  check_matrix(A, "linalg.inv", "A", true);
  const int64_t n = rows_of(A);
  Tensor out = Tensor::empty(A.shape(), A.dtype());
  const int64_t count = shape_numel(batch_shape(A));
  if (out.numel() == 0) return out;
  std::vector<int> info(count, 0);
  const int ni = lapack::to_int(n, "linalg.inv");
  dispatch(A.dtype(), [&](auto zero) {
    using T = decltype(zero);
    Matrices<T> in(A);
    T* o = out.data<T>();
    for_each_matrix(count, n, [&](int64_t begin, int64_t end) {
      std::vector<T> a(n * n), x(n * n);
      std::vector<int> ipiv(n);
      for (int64_t b = begin; b < end; ++b) {
        in.load(b, a.data(), n);
        lapack::getrf(ni, ni, a.data(), ni, ipiv.data(), &info[b]);
        if (info[b] != 0) continue;
        set_identity(x.data(), n, n);
        int solve_info = 0;
        lapack::getrs('N', ni, ni, a.data(), ni, ipiv.data(), x.data(), ni, &solve_info);
        store(x.data(), n, n, n, o + b * n * n);
      }
    });
  });
  hy::cpu::linalg_raise_first_failure(info, A, "linalg.inv", LinAlgFailure::LinAlgFailure_SingularInverse);
  return out;
}

namespace {

// (sign, log|det|) or det of each matrix from its LU factors: det = prod(diag U) * (-1)^(row swaps).
template <typename T>
void lu_determinants(const Tensor& A, T* sign, T* logabs, T* det) {
  const int64_t n = rows_of(A);
  const int64_t count = shape_numel(batch_shape(A));
  const int ni = lapack::to_int(n, "linalg.det");
  Matrices<T> in(A);
  for_each_matrix(count, n, [&](int64_t begin, int64_t end) {
    std::vector<T> a(n * n);
    std::vector<int> ipiv(n);
    for (int64_t b = begin; b < end; ++b) {
      int info = 0;
      if (n > 0) {
        in.load(b, a.data(), n);
        lapack::getrf(ni, ni, a.data(), ni, ipiv.data(), &info);  // info > 0: a zero pivot, det = 0
      }
      // det = (-1)^(row swaps) * prod(diag U); a zero pivot makes det 0, sign 0 and log|det| -inf.
      T perm = 1, prod = 1, s = 1, log_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const T u = a[i + i * n];
        if (ipiv[i] != i + 1) perm = -perm;
        prod *= u;
        s *= u > 0 ? T(1) : u < 0 ? T(-1) : u == 0 ? T(0) : u;  // NaN stays NaN
        log_sum += std::log(std::abs(u));
      }
      if (det) det[b] = perm * prod;
      if (sign) sign[b] = perm * s;
      if (logabs) logabs[b] = log_sum;
    }
  });
}

}  // namespace

Tensor linalg_det(const Tensor& A) {
  check_matrix(A, "linalg.det", "A", true);
  Tensor out = Tensor::empty(batch_shape(A), A.dtype());
  dispatch(A.dtype(), [&](auto zero) {
    using T = decltype(zero);
    lu_determinants<T>(A, nullptr, nullptr, out.data<T>());
  });
  return out;
}

std::tuple<Tensor, Tensor> linalg_slogdet(const Tensor& A) {
  check_matrix(A, "linalg.slogdet", "A", true);
  Tensor sign = Tensor::empty(batch_shape(A), A.dtype());
  Tensor logabs = Tensor::empty(batch_shape(A), A.dtype());
  dispatch(A.dtype(), [&](auto zero) {
    using T = decltype(zero);
    lu_determinants<T>(A, sign.data<T>(), logabs.data<T>(), nullptr);
  });
  return {sign, logabs};
}

Tensor linalg_solve(const Tensor& A, const Tensor& B) {
  const char* op = "linalg.solve";
  check_matrix(A, op, "A", true);
  check_matrix(B, op, "B", false);
  check_same_dtype(A, B, op);
  const int64_t n = rows_of(A), k = cols_of(B);
  hy::cpu::linalg_check_solve_shapes(op, n, rows_of(B), k, /*left=*/true);
  auto [Ab, Bb] = hy::cpu::linalg_broadcast_batches(A, B, op);
  Tensor out = Tensor::empty(Bb.shape(), A.dtype());
  const int64_t count = shape_numel(batch_shape(Ab));
  if (out.numel() == 0) return out;
  std::vector<int> info(count, 0);
  const int ni = lapack::to_int(n, op), ki = lapack::to_int(k, op);
  dispatch(A.dtype(), [&](auto zero) {
    using T = decltype(zero);
    Matrices<T> a_in(Ab), b_in(Bb);
    T* o = out.data<T>();
    for_each_matrix(count, n, [&](int64_t begin, int64_t end) {
      std::vector<T> a(n * n), x(n * k);
      std::vector<int> ipiv(n);
      for (int64_t b = begin; b < end; ++b) {
        a_in.load(b, a.data(), n);
        lapack::getrf(ni, ni, a.data(), ni, ipiv.data(), &info[b]);
        if (info[b] != 0) continue;
        b_in.load(b, x.data(), n);
        int solve_info = 0;
        lapack::getrs('N', ni, ki, a.data(), ni, ipiv.data(), x.data(), ni, &solve_info);
        store(x.data(), n, n, k, o + b * n * k);
      }
    });
  });
  hy::cpu::linalg_raise_first_failure(info, Ab, op, LinAlgFailure::LinAlgFailure_SingularSolve);
  return out;
}

Tensor linalg_solve_triangular(const Tensor& A, const Tensor& B, bool upper, bool left, bool unitriangular) {
  const char* op = "linalg.solve_triangular";
  check_matrix(A, op, "A", true);
  check_matrix(B, op, "B", false);
  check_same_dtype(A, B, op);
  const int64_t n = rows_of(A), br = rows_of(B), bc = cols_of(B);
  hy::cpu::linalg_check_solve_shapes(op, n, br, bc, left);
  auto [Ab, Bb] = hy::cpu::linalg_broadcast_batches(A, B, op);
  Tensor out = Tensor::empty(Bb.shape(), A.dtype());
  const int64_t count = shape_numel(batch_shape(Ab));
  if (out.numel() == 0) return out;
  const int ni = lapack::to_int(n, op), bri = lapack::to_int(br, op), bci = lapack::to_int(bc, op);
  dispatch(A.dtype(), [&](auto zero) {
    using T = decltype(zero);
    Matrices<T> a_in(Ab), b_in(Bb);
    T* o = out.data<T>();
    for_each_matrix(count, n, [&](int64_t begin, int64_t end) {
      std::vector<T> a(n * n), x(br * bc);
      for (int64_t b = begin; b < end; ++b) {
        a_in.load(b, a.data(), n);
        b_in.load(b, x.data(), br);
        lapack::trsm(left ? 'L' : 'R', upper ? 'U' : 'L', 'N', unitriangular ? 'U' : 'N', bri, bci, a.data(), ni,
                     x.data(), bri);
        store(x.data(), br, br, bc, o + b * br * bc);
      }
    });
  });
  return out;
}

}  // namespace hy::kernels::cpu
