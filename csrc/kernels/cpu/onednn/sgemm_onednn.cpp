// float32 GEMM blocks through oneDNN's dnnl_sgemm.
//
// Why: Debian's OpenBLAS 0.3.21 reaches 20-45 GFLOP/s per core on this machine's AVX-512 Xeon for the
// shapes of a training step (measured with ctypes, same process: 64x288 @ 288x576, conv2 of the MNIST
// net), oneDNN's JIT sgemm 200-230, NumPy's bundled OpenBLAS ~170. Every float32 matmul, linear and
// convolution GEMM goes through here when the build has oneDNN.
//
// Threads: gemm_batched already splits the work over hyflow's pool and calls one block per thread, so
// each call runs single-threaded: the calling thread's OpenMP team size is set to 1 first (a per-thread
// setting; gemm_onednn.cpp sets its own before each bf16 call), and oneDNN then runs inline.
#include "kernels/cpu/onednn/sgemm_onednn_internal.h"

#include <oneapi/dnnl/dnnl.h>

#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
extern "C" void omp_set_num_threads(int);
#endif

namespace hy::cpu {

bool onednn_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
  omp_set_num_threads(1);
#endif
  return dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == dnnl_success;
}

}  // namespace hy::cpu
