// hy.linalg's decompositions and solvers when libhyflow_cuda was built without cuSOLVER (cmake/cuda_backend.cmake
// compiles this file instead of cusolver/*.cpp): the table promises the kernels, so they exist and say why they
// cannot run.
#include <optional>
#include <string>
#include <tuple>

#include "core/tensor.h"

namespace hy::kernels::cuda {
namespace {
[[noreturn]] void no_cusolver(const char* op) {
  throw NotImplementedError(str("op '", op, "' has no CUDA kernel yet (built without cuSOLVER: install the "
                                "nvidia-cusolver wheel or the toolkit's cuSOLVER and rebuild hyflow)"));
}
}  // namespace

Tensor linalg_inv(const Tensor&) { no_cusolver("linalg_inv"); }
Tensor linalg_det(const Tensor&) { no_cusolver("linalg_det"); }
std::tuple<Tensor, Tensor> linalg_slogdet(const Tensor&) { no_cusolver("linalg_slogdet"); }
Tensor linalg_solve(const Tensor&, const Tensor&) { no_cusolver("linalg_solve"); }
Tensor linalg_solve_triangular(const Tensor&, const Tensor&, bool, bool, bool) {
  no_cusolver("linalg_solve_triangular");
}
Tensor linalg_cholesky(const Tensor&, bool) { no_cusolver("linalg_cholesky"); }
std::tuple<Tensor, Tensor> linalg_qr(const Tensor&, const std::string&) { no_cusolver("linalg_qr"); }
std::tuple<Tensor, Tensor> linalg_eigh(const Tensor&, const std::string&, bool) { no_cusolver("linalg_eigh"); }
std::tuple<Tensor, Tensor, Tensor> linalg_svd(const Tensor&, bool, bool) { no_cusolver("linalg_svd"); }
Tensor linalg_pinv(const Tensor&, std::optional<double>, std::optional<double>, bool) { no_cusolver("linalg_pinv"); }

}  // namespace hy::kernels::cuda
