// The cuSOLVER kernels' shared context (solver_internal.h): handles, workspaces, column-major copies, info.
#include <climits>
#include <map>
#include <string>

#include "cuda/cuda_backend.h"
#include "cuda/cusolver/solver_internal.h"
#include "cuda/glue_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/device_copy.h"

namespace hy::cuda::solver {

void check_cusolver(cusolverStatus_t status, const char* what) {
  if (status == CUSOLVER_STATUS_SUCCESS) return;
  // cuSOLVER has no status-to-string function: the enum's numeric value, as its documentation lists them.
  throw RuntimeError(str("cuSOLVER error ", static_cast<int>(status), " in ", what,
                         status == CUSOLVER_STATUS_ALLOC_FAILED ? " (out of memory)" : ""));
}

void check_cublas(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw RuntimeError(str("cuBLAS error ", cublasGetStatusName(status), " (", cublasGetStatusString(status), ") in ",
                         what));
}

// One handle per (thread, device): creating one costs milliseconds, and a handle must not be shared by threads
// that bind it to different streams. Never destroyed (the process's exit may outlive the CUDA context), like
// the cuBLAS handles of the GEMMs.
SolverHandle solver_for(Device device) {
  thread_local std::map<int, SolverHandle> handles;
  set_current_device(device.index);
  auto it = handles.find(device.index);
  if (it == handles.end()) {
    SolverHandle h{nullptr, nullptr};
    HY_CUSOLVER_CHECK(cusolverDnCreate(&h.handle));
    HY_CUSOLVER_CHECK(cusolverDnCreateParams(&h.params));
    it = handles.emplace(device.index, h).first;
  }
  HY_CUSOLVER_CHECK(cusolverDnSetStream(it->second.handle, static_cast<cudaStream_t>(launch_stream(device))));
  return it->second;
}

cublasHandle_t blas_for(Device device) {
  thread_local std::map<int, cublasHandle_t> handles;
  set_current_device(device.index);
  auto it = handles.find(device.index);
  if (it == handles.end()) {
    cublasHandle_t h = nullptr;
    HY_SOLVER_CUBLAS_CHECK(cublasCreate(&h));
    it = handles.emplace(device.index, h).first;
  }
  HY_SOLVER_CUBLAS_CHECK(cublasSetStream(it->second, static_cast<cudaStream_t>(launch_stream(device))));
  return it->second;
}

cudaDataType data_type(DType dtype) { return dtype == DType::Float64 ? CUDA_R_64F : CUDA_R_32F; }

Tensor workspace(size_t bytes, Device device) {
  return Tensor::empty({static_cast<int64_t>((bytes + 7) / 8) + 1}, DType::Int64, device);
}

Tensor column_major_copy(const Tensor& A) {
  Shape shape = A.shape();
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  Tensor out = Tensor::empty(shape, A.dtype(), A.device());
  if (out.numel() > 0) copy_into(out, ops::transpose(A, -2, -1));
  return out;
}

Tensor row_major_copy(const Tensor& A) {
  Tensor out = Tensor::empty(A.shape(), A.dtype(), A.device());
  if (out.numel() > 0) copy_into(out, A);
  return out;
}

Tensor info_array(int64_t count, Device device) {
  return ops::zeros({count}, DType::Int32, device);
}

std::vector<int> read_info(const Tensor& info) {
  const Tensor host = tensor_to_device(info, Device{}, /*non_blocking=*/false);
  const int* p = host.data<int>();
  return std::vector<int>(p, p + host.numel());
}

int to_int(int64_t v, const char* op) {
  HY_CHECK(v <= INT_MAX, ValueError, op, " on CUDA: dims above 2^31 - 1 are not supported by this cuSOLVER/cuBLAS "
           "entry point (got ", v, ")");
  return static_cast<int>(v);
}

}  // namespace hy::cuda::solver
