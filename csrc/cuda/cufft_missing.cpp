// The FFT ops when libhyflow_cuda was built without cuFFT (cmake/cuda_backend.cmake compiles this file
// instead of cufft/*.cpp): the table promises the kernels, so they exist and say why they cannot run;
// the plan cache is always empty.
#include <map>
#include <mutex>

#include "core/tensor.h"
#include "cuda/fft_plan_cache.h"

namespace hy::kernels::cuda {
namespace {
[[noreturn]] void no_cufft(const char* op) {
  throw NotImplementedError(str("op '", op, "' has no CUDA kernel yet (built without cuFFT: install the "
                                "nvidia-cufft wheel or the toolkit's cuFFT and rebuild hyflow)"));
}
}  // namespace

Tensor fft_c2c(const Tensor&, const DimVector&, int64_t, bool) { no_cufft("_fft_c2c"); }
Tensor fft_c2c_backward(const Tensor&, const DimVector&, int64_t, bool) { no_cufft("_fft_c2c_backward"); }
Tensor fft_r2c(const Tensor&, const DimVector&, int64_t, bool) { no_cufft("_fft_r2c"); }
Tensor fft_r2c_backward(const Tensor&, const DimVector&, int64_t, bool, const DimVector&) {
  no_cufft("_fft_r2c_backward");
}
Tensor fft_c2r(const Tensor&, const DimVector&, int64_t, int64_t) { no_cufft("_fft_c2r"); }
Tensor fft_c2r_backward(const Tensor&, const DimVector&, int64_t, int64_t) { no_cufft("_fft_c2r_backward"); }

}  // namespace hy::kernels::cuda

namespace hy::cuda {
namespace {
// Only the capacity is kept, so programs that set it run unchanged.
std::mutex g_mu;
std::map<int, int64_t> g_max;
}  // namespace

int64_t fft_plan_cache_size(int) { return 0; }
int64_t fft_plan_cache_max_size(int device) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_max.find(device);
  return it == g_max.end() ? kFftPlanCacheDefaultMax : it->second;
}
void set_fft_plan_cache_max_size(int device, int64_t max_size) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_max[device] = max_size;
}
void fft_plan_cache_clear(int) {}

}  // namespace hy::cuda
