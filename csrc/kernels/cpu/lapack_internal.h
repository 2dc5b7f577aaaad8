// LAPACK's Fortran entry points, as the matrix decompositions (linalg_solve.cpp, linalg_factor.cpp) call
// them: column-major
// matrices, every argument by pointer, the length of each character argument appended (gfortran's hidden
// arguments; a C-translated LAPACK ignores them).
//
//   lapack::getrf(n, n, a, lda, ipiv, &info);   // float or double, picked by overload
//
// The symbols are declared weak: a build whose BLAS has no LAPACK (and found no separate one) still links,
// and lapack::available() is false there, so each kernel raises NotImplementedError instead of the
// import failing. OpenBLAS (Debian's libopenblas) exports all of them.
#pragma once
#include <climits>
#include <cstddef>
#include <cstdint>

#include "core/error.h"

#define HY_LAPACK_WEAK __attribute__((weak))

extern "C" {
// LU with partial pivoting, and the solve with its factors.
void sgetrf_(const int* m, const int* n, float* a, const int* lda, int* ipiv, int* info) HY_LAPACK_WEAK;
void dgetrf_(const int* m, const int* n, double* a, const int* lda, int* ipiv, int* info) HY_LAPACK_WEAK;
void sgetrs_(const char* trans, const int* n, const int* nrhs, const float* a, const int* lda, const int* ipiv,
             float* b, const int* ldb, int* info, size_t) HY_LAPACK_WEAK;
void dgetrs_(const char* trans, const int* n, const int* nrhs, const double* a, const int* lda, const int* ipiv,
             double* b, const int* ldb, int* info, size_t) HY_LAPACK_WEAK;
// Cholesky.
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info, size_t) HY_LAPACK_WEAK;
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t) HY_LAPACK_WEAK;
// Householder QR and the explicit Q.
void sgeqrf_(const int* m, const int* n, float* a, const int* lda, float* tau, float* work, const int* lwork,
             int* info) HY_LAPACK_WEAK;
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work, const int* lwork,
             int* info) HY_LAPACK_WEAK;
void sorgqr_(const int* m, const int* n, const int* k, float* a, const int* lda, const float* tau, float* work,
             const int* lwork, int* info) HY_LAPACK_WEAK;
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau, double* work,
             const int* lwork, int* info) HY_LAPACK_WEAK;
// Symmetric eigendecomposition (divide and conquer).
void ssyevd_(const char* jobz, const char* uplo, const int* n, float* a, const int* lda, float* w, float* work,
             const int* lwork, int* iwork, const int* liwork, int* info, size_t, size_t) HY_LAPACK_WEAK;
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
             const int* lwork, int* iwork, const int* liwork, int* info, size_t, size_t) HY_LAPACK_WEAK;
// SVD (divide and conquer).
void sgesdd_(const char* jobz, const int* m, const int* n, float* a, const int* lda, float* s, float* u,
             const int* ldu, float* vt, const int* ldvt, float* work, const int* lwork, int* iwork, int* info,
             size_t) HY_LAPACK_WEAK;
void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u,
             const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork, int* iwork, int* info,
             size_t) HY_LAPACK_WEAK;
// Triangular solve with several right-hand sides (BLAS 3; no singularity check, as torch).
void strsm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m, const int* n,
            const float* alpha, const float* a, const int* lda, float* b, const int* ldb, size_t, size_t, size_t,
            size_t) HY_LAPACK_WEAK;
void dtrsm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m, const int* n,
            const double* alpha, const double* a, const int* lda, double* b, const int* ldb, size_t, size_t, size_t,
            size_t) HY_LAPACK_WEAK;
// OpenBLAS only: its own thread count (hyflow runs it single-threaded inside the TBB pool, as gemm.cpp).
void openblas_set_num_threads(int n) HY_LAPACK_WEAK;
}

namespace hy::cpu::lapack {

/// Whether the process has LAPACK (every routine above resolved).
inline bool available() {
  return sgetrf_ && dgetrf_ && sgetrs_ && dgetrs_ && spotrf_ && dpotrf_ && sgeqrf_ && dgeqrf_ && sorgqr_ &&
         dorgqr_ && ssyevd_ && dsyevd_ && sgesdd_ && dgesdd_ && strsm_ && dtrsm_;
}

/// A matrix size as LAPACK's 32-bit int, or ValueError naming the op.
inline int to_int(int64_t v, const char* op) {
  HY_CHECK(v <= INT_MAX, ValueError, op, ": dimension ", v, " is too large for LAPACK (32-bit sizes)");
  return static_cast<int>(v);
}

inline void getrf(int m, int n, float* a, int lda, int* ipiv, int* info) { sgetrf_(&m, &n, a, &lda, ipiv, info); }
inline void getrf(int m, int n, double* a, int lda, int* ipiv, int* info) { dgetrf_(&m, &n, a, &lda, ipiv, info); }
inline void getrs(char trans, int n, int nrhs, const float* a, int lda, const int* ipiv, float* b, int ldb, int* info) {
  sgetrs_(&trans, &n, &nrhs, a, &lda, ipiv, b, &ldb, info, 1);
}
inline void getrs(char trans, int n, int nrhs, const double* a, int lda, const int* ipiv, double* b, int ldb,
                  int* info) {
  dgetrs_(&trans, &n, &nrhs, a, &lda, ipiv, b, &ldb, info, 1);
}
inline void potrf(char uplo, int n, float* a, int lda, int* info) { spotrf_(&uplo, &n, a, &lda, info, 1); }
inline void potrf(char uplo, int n, double* a, int lda, int* info) { dpotrf_(&uplo, &n, a, &lda, info, 1); }
inline void geqrf(int m, int n, float* a, int lda, float* tau, float* work, int lwork, int* info) {
  sgeqrf_(&m, &n, a, &lda, tau, work, &lwork, info);
}
inline void geqrf(int m, int n, double* a, int lda, double* tau, double* work, int lwork, int* info) {
  dgeqrf_(&m, &n, a, &lda, tau, work, &lwork, info);
}
inline void orgqr(int m, int n, int k, float* a, int lda, const float* tau, float* work, int lwork, int* info) {
  sorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, info);
}
inline void orgqr(int m, int n, int k, double* a, int lda, const double* tau, double* work, int lwork, int* info) {
  dorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, info);
}
inline void syevd(char jobz, char uplo, int n, float* a, int lda, float* w, float* work, int lwork, int* iwork,
                  int liwork, int* info) {
  ssyevd_(&jobz, &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, info, 1, 1);
}
inline void syevd(char jobz, char uplo, int n, double* a, int lda, double* w, double* work, int lwork, int* iwork,
                  int liwork, int* info) {
  dsyevd_(&jobz, &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, info, 1, 1);
}
inline void gesdd(char jobz, int m, int n, float* a, int lda, float* s, float* u, int ldu, float* vt, int ldvt,
                  float* work, int lwork, int* iwork, int* info) {
  sgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, info, 1);
}
inline void gesdd(char jobz, int m, int n, double* a, int lda, double* s, double* u, int ldu, double* vt, int ldvt,
                  double* work, int lwork, int* iwork, int* info) {
  dgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, info, 1);
}
inline void trsm(char side, char uplo, char transa, char diag, int m, int n, const float* a, int lda, float* b,
                 int ldb) {
  const float one = 1.0f;
  strsm_(&side, &uplo, &transa, &diag, &m, &n, &one, a, &lda, b, &ldb, 1, 1, 1, 1);
}
inline void trsm(char side, char uplo, char transa, char diag, int m, int n, const double* a, int lda, double* b,
                 int ldb) {
  const double one = 1.0;
  dtrsm_(&side, &uplo, &transa, &diag, &m, &n, &one, a, &lda, b, &ldb, 1, 1, 1, 1);
}

}  // namespace hy::cpu::lapack
