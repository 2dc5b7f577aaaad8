// matmul, mm, bmm, addmm and conv_transpose2d (a GEMM composition) when libhyflow_cuda was built without
// cuBLAS (cmake/cuda_backend.cmake compiles this file instead of cublas/*.cpp): the table promises the kernels,
// so they exist and say why they cannot run; the cuBLASLt switch is only stored and its cache is always empty.
#include <atomic>
#include <optional>

#include "core/scalar.h"
#include "core/tensor.h"
#include "cuda/gemm_lt_cache.h"

namespace hy::kernels::cuda {
namespace {
[[noreturn]] void no_cublas(const char* op) {
  throw NotImplementedError(str("op '", op, "' has no CUDA kernel in this build: libhyflow_cuda was built without "
                                "cuBLAS (install the nvidia-cublas wheel or the toolkit's cuBLAS and rebuild)"));
}
}  // namespace

Tensor mm(const Tensor&, const Tensor&) { no_cublas("mm"); }
Tensor bmm(const Tensor&, const Tensor&) { no_cublas("bmm"); }
Tensor matmul(const Tensor&, const Tensor&) { no_cublas("matmul"); }
Tensor addmm(const Tensor&, const Tensor&, const Tensor&, const Scalar&, const Scalar&) { no_cublas("addmm"); }
Tensor conv_transpose2d(const Tensor&, const Tensor&, const std::optional<Tensor>&, const DimVector&, const DimVector&,
                        const DimVector&, int64_t, const DimVector&) {
  no_cublas("conv_transpose2d");
}

}  // namespace hy::kernels::cuda

namespace hy::cuda {
namespace {
std::atomic<bool> g_allowed{true};  // kept so programs that set it run unchanged
}  // namespace

void set_gemm_lt_allowed(bool allow) { g_allowed.store(allow); }
bool gemm_lt_allowed() { return g_allowed.load(); }
GemmLtStats gemm_lt_stats(int) { return {}; }
void gemm_lt_cache_clear(int) {}

}  // namespace hy::cuda
