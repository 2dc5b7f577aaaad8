// Matrix decompositions and solvers (csrc/ops/table/linalg_decomp.yaml) on LAPACK (lapack_internal.h).
//
// Each matrix of a batch is copied into a column-major buffer (LAPACK's layout; the copy is O(n^2) against
// the factorization's O(n^3) and reads any strides, so inputs are never made contiguous first), factored
// there, and its results written to fresh row-major outputs. Matrices are spread over the TBB pool with
// LAPACK single-threaded, as the GEMMs are (docs/design.md, "Library choices"). A matrix that cannot be
// factored is recorded, and after the loop the first one raises LinAlgError with torch's message and its
// batch index (no exception crosses a pool thread).
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
#include "kernels/cpu/lapack.h"
#include "kernels/cpu/lapack_internal.h"

namespace hy::cpu {

bool lapack_available() { return lapack::available(); }

}  // namespace hy::cpu

namespace hy::kernels::cpu {
namespace {

namespace lapack = hy::cpu::lapack;

// ---- argument checks ----

int64_t rows_of(const Tensor& t) { return t.shape()[t.dim() - 2]; }
int64_t cols_of(const Tensor& t) { return t.shape()[t.dim() - 1]; }

// Refuses what the kernels cannot take: a missing LAPACK, a dtype other than float32/float64, fewer than 2
// dims, and (square) a non-square matrix. Messages name the function as torch's do ("linalg.inv").
void check_matrix(const Tensor& A, const char* op, const char* arg, bool square) {
  hy::cpu::check_defined(A, op, arg);
  HY_CHECK(lapack::available(), NotImplementedError, op, ": this build of hyflow has no LAPACK (its BLAS exports "
           "none and no separate LAPACK was found); rebuild with OpenBLAS (Debian: libopenblas-dev)");
  HY_CHECK(A.dtype() == DType::Float32 || A.dtype() == DType::Float64, TypeError, op, ": expected ", arg,
           " to be a float32 or float64 tensor, got ", A.describe(),
           (dtype_is_complex(A.dtype()) ? " (complex matrices are not supported yet)"
            : dtype_is_floating(A.dtype()) ? " (convert it with .float() first)" : ""));
  HY_CHECK(A.dim() >= 2, ValueError, op, ": the input tensor ", arg, " must have at least 2 dimensions, got ",
           A.describe());
  HY_CHECK(!square || rows_of(A) == cols_of(A), ValueError, op, ": ", arg,
           " must be batches of square matrices, but they are ", rows_of(A), " by ", cols_of(A), " matrices");
}

void check_same_dtype(const Tensor& A, const Tensor& B, const char* op) {
  HY_CHECK(A.dtype() == B.dtype(), RuntimeError, op, ": expected A and B to have the same dtype, but found A of type ",
           dtype_name(A.dtype()), " and B of type ", dtype_name(B.dtype()), " instead");
}

// LAPACK runs single-threaded inside the pool (its own threads would fight TBB's).
void lapack_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (openblas_set_num_threads) openblas_set_num_threads(1);
  });
}

// ---- batches of matrices ----

Shape batch_shape(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

Shape with_matrix(Shape batch, int64_t rows, int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

// The matrices of a tensor (any strides, broadcast views included): matrix b starts at data + offset(b).
template <typename T>
struct Matrices {
  const T* data;
  Shape batch;
  Strides batch_strides;
  int64_t rows, cols, rs, cs;

  explicit Matrices(const Tensor& t)
      : data(t.data<T>()), batch(batch_shape(t)), batch_strides(t.strides().begin(), t.strides().end() - 2),
        rows(rows_of(t)), cols(cols_of(t)), rs(t.strides()[t.dim() - 2]), cs(t.strides()[t.dim() - 1]) {}

  int64_t offset(int64_t b) const {
    int64_t off = 0;
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
      off += (b % batch[d]) * batch_strides[d];
      b /= batch[d];
    }
    return off;
  }
  // Matrix b into a column-major buffer with leading dim ld (>= rows).
  void load(int64_t b, T* dst, int64_t ld) const {
    const T* src = data + offset(b);
    for (int64_t j = 0; j < cols; ++j)
      for (int64_t i = 0; i < rows; ++i) dst[i + j * ld] = src[i * rs + j * cs];
  }
};

// Writes the rows x cols column-major matrix `src` (leading dim ld) to the row-major matrix at dst.
template <typename T>
void store(const T* src, int64_t ld, int64_t rows, int64_t cols, T* dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[i * cols + j] = src[i + j * ld];
}

template <typename T>
void set_identity(T* a, int64_t n, int64_t ld) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) a[i + j * ld] = i == j ? T(1) : T(0);
}

// Runs f(b) for every matrix of a batch on the pool; a chunk holds enough matrices to be worth a task.
template <typename F>
void for_each_matrix(int64_t count, int64_t n, F&& f) {
  lapack_single_threaded();
  const double flops = std::max<double>(1.0, static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n));
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(65536.0 / flops));
  parallel_for(0, count, grain, [&](int64_t begin, int64_t end) { f(begin, end); });
}

// The first failure recorded in `info` (LAPACK's info per matrix), raised as LinAlgError; `what` turns the
// info value into torch's sentence.
template <typename What>
void raise_first_failure(const std::vector<int>& info, const Tensor& A, const char* op, What what) {
  for (size_t b = 0; b < info.size(); ++b) {
    if (info[b] == 0) continue;
    const std::string where = A.dim() > 2 ? str("(Batch element ", b, "): ") : std::string();
    throw LinAlgError(str(op, ": ", where, what(info[b])));
  }
}

// Whether the column-major rows x cols matrix at a (leading dim ld) is finite: all of it, or only its upper
// or lower triangle (what a symmetric solver reads).
template <typename T>
bool finite(const T* a, int64_t rows, int64_t cols, int64_t ld, char triangle = 'A') {
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < rows; ++i) {
      if ((triangle == 'L' && i < j) || (triangle == 'U' && i > j)) continue;
      if (!std::isfinite(a[i + j * ld])) return false;
    }
  return true;
}

// The workspace size a LAPACK query (lwork = -1) returned, in its element type. A float cannot hold every
// large integer (older LAPACKs round the size down), so a float query gets a margin.
template <typename T>
int work_size(T query, const char* op) {
  const double size = static_cast<double>(query) * (sizeof(T) == 4 ? 1.0 + 1e-6 : 1.0) + 1.0;
  HY_CHECK(size <= INT_MAX, ValueError, op, ": the matrices are too large for LAPACK's workspace (32-bit sizes)");
  return std::max(1, static_cast<int>(size));
}

// The dtype-specific body of each kernel: f.template operator()<float>() or <double>().
template <typename F>
auto dispatch(DType dt, F&& f) {
  if (dt == DType::Float32) return f(float{});
  return f(double{});
}

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

std::string singular_inverse(int info) {
  return str("The diagonal element ", info, " is zero, the inversion could not be completed because the input "
             "matrix is singular.");
}

}  // namespace

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
  raise_first_failure(info, A, "linalg.inv", singular_inverse);
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

namespace {

// A and B with their batch dims broadcast against each other (views; no copy).
std::pair<Tensor, Tensor> broadcast_batches(const Tensor& A, const Tensor& B, const char* op) {
  Shape batch;
  try {
    batch = broadcast_shapes(batch_shape(A), batch_shape(B));
  } catch (const ValueError&) {
    throw ValueError(str(op, ": the batch dimensions of A ", A.describe(), " and B ", B.describe(),
                         " cannot be broadcast together"));
  }
  return {ops::expand(A, with_matrix(batch, rows_of(A), cols_of(A))),
          ops::expand(B, with_matrix(batch, rows_of(B), cols_of(B)))};
}

}  // namespace

Tensor linalg_solve(const Tensor& A, const Tensor& B) {
  const char* op = "linalg.solve";
  check_matrix(A, op, "A", true);
  check_matrix(B, op, "B", false);
  check_same_dtype(A, B, op);
  const int64_t n = rows_of(A), k = cols_of(B);
  HY_CHECK(rows_of(B) == n, ValueError, op, ": incompatible shapes of A and B for the equation AX = B (", n, "x", n,
           " and ", rows_of(B), "x", k, ")");
  auto [Ab, Bb] = broadcast_batches(A, B, op);
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
  raise_first_failure(info, Ab, op, [](int) {
    return std::string("The solver failed because the input matrix is singular.");
  });
  return out;
}

Tensor linalg_solve_triangular(const Tensor& A, const Tensor& B, bool upper, bool left, bool unitriangular) {
  const char* op = "linalg.solve_triangular";
  check_matrix(A, op, "A", true);
  check_matrix(B, op, "B", false);
  check_same_dtype(A, B, op);
  const int64_t n = rows_of(A), br = rows_of(B), bc = cols_of(B);
  HY_CHECK((left ? br : bc) == n, ValueError, op, ": incompatible shapes of A and B for the equation ",
           left ? "AX = B (" : "XA = B (", n, "x", n, " and ", br, "x", bc, ")");
  auto [Ab, Bb] = broadcast_batches(A, B, op);
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
  raise_first_failure(info, A, op, [](int k) {
    return str("The factorization could not be completed because the input is not positive-definite (the leading "
               "minor of order ", k, " is not positive-definite).");
  });
  return out;
}

std::tuple<Tensor, Tensor> linalg_qr(const Tensor& A, const std::string& mode) {
  const char* op = "linalg.qr";
  HY_CHECK(mode == "reduced" || mode == "complete" || mode == "r", ValueError, op, ": mode must be 'reduced', "
           "'complete' or 'r', got '", mode, "'");
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
  HY_CHECK(UPLO == "L" || UPLO == "U", ValueError, op, ": UPLO must be 'L' or 'U', got '", UPLO, "'");
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
  raise_first_failure(info, A, op, [](int k) {
    return str("The algorithm failed to converge because the input matrix is ill-conditioned or has too many "
               "repeated eigenvalues (error code: ", k, ").");
  });
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
  raise_first_failure(info, A, op, [](int k) {
    if (k < 0) return std::string("The algorithm failed to converge because the input matrix contained non-finite "
                                  "values.");
    return str("The algorithm failed to converge because the input matrix is ill-conditioned or has too many "
               "repeated singular values (error code: ", k, ").");
  });
  return {U, S, Vh};
}

Tensor linalg_pinv(const Tensor& A, std::optional<double> atol, std::optional<double> rtol, bool hermitian) {
  const char* op = "linalg.pinv";
  check_matrix(A, op, "A", hermitian);
  HY_CHECK(!atol || *atol >= 0, ValueError, op, ": atol must be non-negative, got ", *atol);
  HY_CHECK(!rtol || *rtol >= 0, ValueError, op, ": rtol must be non-negative, got ", *rtol);
  const int64_t m = rows_of(A), n = cols_of(A);
  // torch's defaults: rtol = eps * max(m, n) unless only a positive atol is given.
  const double eps = A.dtype() == DType::Float32 ? std::numeric_limits<float>::epsilon()
                                                 : std::numeric_limits<double>::epsilon();
  const double abs_tol = atol.value_or(0.0);
  const double rel_tol = rtol ? *rtol : (atol && *atol > 0 ? 0.0 : eps * static_cast<double>(std::max(m, n)));
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
