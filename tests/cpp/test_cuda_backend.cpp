// The CUDA backend's CPU-testable paths: what the loader reports without a driver, the errors of a device
// tensor meeting a CPU one, of an op without a CUDA kernel, and of allocating without a backend. Device
// tensors are faked here (a CUDA-tagged storage over host memory, never read) with a stub backend.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <tuple>

#include "core/device_backend.h"
#include "core/error.h"
#include "core/shape_util.h"
#include "dispatch/cuda_backend_loader.h"
#include "dispatch/registry.h"
#include "distributed/staging_internal.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/creation.h"
#include "hyflow/ops/linalg_decomp.h"
#include "hyflow/ops/unary.h"
#include "interop/dlpack.h"

namespace hy {
namespace kernels::cuda {
// From csrc/cuda/cusolver_missing.cpp, compiled into this test (it needs no CUDA): the kernels of a
// libhyflow_cuda built without cuSOLVER.
Tensor linalg_inv(const Tensor& A);
std::tuple<Tensor, Tensor, Tensor> linalg_svd(const Tensor& A, bool full_matrices, bool compute_uv);
}  // namespace kernels::cuda

namespace {

const Device kCuda0{DeviceType::DeviceType_CUDA, 0};

// A tensor that claims to live on cuda:0. Its bytes are host memory that no test reads.
Tensor fake_cuda_tensor(Shape shape) {
  auto bytes = std::shared_ptr<void>(std::calloc(64, 1), std::free);
  auto storage = std::make_shared<StorageImpl>(bytes.get(), 64, kCuda0, bytes);
  return Tensor(std::make_shared<TensorImpl>(storage, shape, contiguous_strides(shape), 0, DType::Float32));
}

// Stands in for libhyflow_cuda so the dispatcher sees CUDA as available; every call is unexpected.
struct StubBackend final : DeviceBackend {
  int device_count() override { return 1; }
  std::string device_name(int) override { return "stub"; }
  std::shared_ptr<StorageImpl> allocate(int64_t, Device) override { throw RuntimeError("stub: allocate"); }
  std::shared_ptr<StorageImpl> allocate_pinned(int64_t) override { throw RuntimeError("stub: pinned"); }
  bool is_pinned(const void*) override { return false; }
  void copy_bytes(void*, Device, const void*, Device, int64_t, bool) override { throw RuntimeError("stub: copy"); }
  void synchronize(int) override {}
  DeviceMemoryStats memory_stats(int) override { return {}; }
  void reset_peak_memory_stats(int) override {}
  void empty_cache() override {}
  StreamHandle stream_create(int) override { return 0; }
  void stream_destroy(StreamHandle) override {}
  void stream_synchronize(int, StreamHandle) override {}
  StreamHandle current_stream(int) override { return 0; }
  void set_current_stream(int, StreamHandle) override {}
  EventHandle event_create(int, bool) override { return 0; }
  void event_destroy(EventHandle) override {}
  void event_record(EventHandle, int, StreamHandle) override {}
  void event_synchronize(EventHandle) override {}
  bool event_query(EventHandle) override { return true; }
  float event_elapsed_ms(EventHandle, EventHandle) override { return 0; }
  void stream_wait_event(int, StreamHandle, EventHandle) override {}
};

// Installs the stub for one test when no real backend is loaded (a GPU machine keeps its own).
struct StubInstalled {
  StubBackend stub;
  bool installed = false;
  StubInstalled() {
    if (!find_device_backend(DeviceType::DeviceType_CUDA)) {
      set_device_backend(DeviceType::DeviceType_CUDA, &stub);
      installed = true;
    }
  }
  ~StubInstalled() {
    if (installed) set_device_backend(DeviceType::DeviceType_CUDA, nullptr);
  }
};

template <typename Err, typename F>
std::string message_of(F f) {
  try {
    f();
  } catch (const Err& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CudaBackend, LoaderReportsWhyCudaIsUnavailableWithoutADriver) {
  const CudaBackendStatus s = cuda_backend_status();
  if (s.loaded) GTEST_SKIP() << "a CUDA driver and GPU are present: the backend loaded";
  EXPECT_FALSE(s.reason.empty());
  if (s.built) {
    EXPECT_NE(s.library.find("libhyflow_cuda.so"), std::string::npos);
  }
  EXPECT_EQ(device_unavailable_reason(DeviceType::DeviceType_CUDA), s.reason);
}

TEST(CudaBackend, AllocatingWithoutABackendNamesTheReason) {
  if (find_device_backend(DeviceType::DeviceType_CUDA)) GTEST_SKIP() << "a CUDA backend is loaded";
  const std::string msg = message_of<RuntimeError>([] { Tensor::empty({2}, DType::Float32, kCuda0); });
  EXPECT_NE(msg.find("CUDA is not available"), std::string::npos) << msg;
}

TEST(CudaBackend, OpOnAnUnavailableDeviceNamesTheReason) {
  if (find_device_backend(DeviceType::DeviceType_CUDA)) GTEST_SKIP() << "a CUDA backend is loaded";
  Tensor x = fake_cuda_tensor({2, 2});
  const std::string msg = message_of<RuntimeError>([&] { ops::floor(x); });
  EXPECT_NE(msg.find("op 'floor' cannot run on cuda:0: CUDA is not available"), std::string::npos) << msg;
}

TEST(CudaBackend, OpWithoutACudaKernelSaysSo) {
  StubInstalled stub;
  if (!stub.installed) GTEST_SKIP() << "a real CUDA backend is loaded";
  Tensor x = fake_cuda_tensor({2, 2});
  // The stub backend registers no kernel table (libhyflow_cuda is not loaded here), so any op, floor
  // included, reaches the missing-kernel error of an op without a `cuda:` key (docs/cuda.md lists them).
  const std::string msg = message_of<NotImplementedError>([&] { ops::floor(x); });
  EXPECT_NE(msg.find("op 'floor' has no CUDA kernel yet"), std::string::npos) << msg;
}

TEST(CudaBackend, LinalgOfABuildWithoutCusolverSaysWhy) {
  StubInstalled stub;
  if (!stub.installed) GTEST_SKIP() << "a real CUDA backend is loaded (tests/python/cuda covers it)";
  // What libhyflow_cuda registers when CMake found no cuSOLVER: the table's `cuda:` kernels exist and
  // raise. A CUDA tensor reaches them through the generated front functions and the dispatcher.
  const int cuda = static_cast<int>(DeviceType::DeviceType_CUDA);
  if (!Registry::global().get("linalg_inv").typed[cuda]) {  // once per process (--gtest_repeat)
    Registry::global().impl("linalg_inv", DeviceType::DeviceType_CUDA, &kernels::cuda::linalg_inv);
    Registry::global().impl("linalg_svd", DeviceType::DeviceType_CUDA, &kernels::cuda::linalg_svd);
  }
  Tensor x = fake_cuda_tensor({2, 2});
  std::string msg = message_of<NotImplementedError>([&] { ops::linalg_inv(x); });
  EXPECT_NE(msg.find("op 'linalg_inv' has no CUDA kernel yet (built without cuSOLVER: install the nvidia-cusolver "
                     "wheel or the toolkit's cuSOLVER and rebuild hyflow)"), std::string::npos) << msg;
  msg = message_of<NotImplementedError>([&] { ops::linalg_svd(x, false, false); });
  EXPECT_NE(msg.find("op 'linalg_svd' has no CUDA kernel yet (built without cuSOLVER"), std::string::npos) << msg;
}

TEST(CudaBackend, MixingDevicesNamesBothDevicesAndTheArgument) {
  StubInstalled stub;
  Tensor cpu = ops::full({2, 2}, Scalar(1.0), DType::Float32);
  Tensor dev = fake_cuda_tensor({2, 2});
  // CPU first: the CPU kernel would read device memory, so the front function refuses before it runs.
  std::string msg = message_of<RuntimeError>([&] { ops::add(cpu, dev); });
  EXPECT_NE(msg.find("found at least two devices, cpu and cuda:0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("argument 'other'"), std::string::npos) << msg;
  // Device first with a CPU operand that is not a scalar: refused too, naming both.
  msg = message_of<RuntimeError>([&] { ops::mul(dev, cpu); });
  EXPECT_NE(msg.find("cuda:0 and cpu"), std::string::npos) << msg;
  // A CPU 0-d tensor (a Python number) may join a device op; without a stub it reaches the kernel slot.
}

TEST(CudaBackend, HostCommunicatorsRefuseDeviceTensors) {
  // MPI reads its buffers from the host: a device tensor must be refused, not handed over as a pointer.
  Tensor dev = fake_cuda_tensor({4});
  std::string msg = message_of<ValueError>([&] { dist::stage_in(dev, DType::Float32); });
  EXPECT_NE(msg.find("init(backend='nccl')"), std::string::npos) << msg;
  msg = message_of<ValueError>([&] { dist::stage_out(dev, DType::Float32); });
  EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
  msg = message_of<ValueError>([&] { dist::pack({dev}, DType::Float32); });
  EXPECT_NE(msg.find("CPU tensors"), std::string::npos) << msg;
}

TEST(CudaBackend, DLPackExportsDeviceMemoryAsKDLCUDA) {
  StubInstalled stub;
  DLManagedTensor* m = to_dlpack(fake_cuda_tensor({2, 3}));
  EXPECT_EQ(m->dl_tensor.device.device_type, kDLCUDA);
  EXPECT_EQ(m->dl_tensor.device.device_id, 0);
  m->deleter(m);
}

TEST(CudaBackend, DLPackImportsKDLCUDAAsADeviceTensor) {
  StubInstalled stub;
  if (!stub.installed) GTEST_SKIP() << "a real CUDA backend is loaded";
  static float bytes[4] = {};  // never read: bool checks and copies are skipped for device memory
  static int deleted = 0;
  int64_t shape[1] = {4};
  auto* m = new DLManagedTensor{};
  m->dl_tensor.data = bytes;
  m->dl_tensor.device = DLDevice{kDLCUDA, 0};
  m->dl_tensor.ndim = 1;
  m->dl_tensor.dtype = dlpack_dtype(DType::Float32);
  m->dl_tensor.shape = shape;
  m->deleter = [](DLManagedTensor* self) { ++deleted; delete self; };
  {
    Tensor t = from_dlpack(m);
    EXPECT_EQ(t.device(), kCuda0);
    EXPECT_EQ(t.raw_data(), static_cast<void*>(bytes));
  }
  EXPECT_EQ(deleted, 1);
}

TEST(CudaBackend, DLPackImportOfCudaMemoryWithoutCudaNamesTheReason) {
  if (find_device_backend(DeviceType::DeviceType_CUDA)) GTEST_SKIP() << "a CUDA backend is loaded";
  float bytes[2] = {};
  int64_t shape[1] = {2};
  DLTensor dl{};
  dl.data = bytes;
  dl.device = DLDevice{kDLCUDA, 0};
  dl.ndim = 1;
  dl.dtype = dlpack_dtype(DType::Float32);
  dl.shape = shape;
  const std::string msg = message_of<RuntimeError>([&] { tensor_from_dltensor(dl, true, [] { return nullptr; }); });
  EXPECT_NE(msg.find("CUDA is not available"), std::string::npos) << msg;
}

}  // namespace
}  // namespace hy
