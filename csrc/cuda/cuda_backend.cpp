#include "cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <vector>

#include "cuda/caching_allocator.h"
#include "cuda/cuda_check_internal.h"
#include "cuda/fft_plan_cache.h"
#include "cuda/gemm_lt_cache.h"
#include "cuda/stream_gate_internal.h"

namespace hy::cuda {
namespace {

constexpr int kMaxDevices = 64;
// Per thread, as in torch: a stream set by `with hy.cuda.stream(s)` on one thread does not redirect work
// other threads launch.
thread_local cudaStream_t t_current_stream[kMaxDevices] = {};

int checked_index(int index) {
  HY_CHECK(index >= 0 && index < kMaxDevices, ValueError, "CUDA device index ", index, " is out of range");
  return index;
}

// An event of the current device, destroyed with the scope (CUDA releases it once its recorded work is done).
struct ScopedEvent {
  cudaEvent_t e = nullptr;
  ScopedEvent() { HY_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming)); }
  ~ScopedEvent() { cudaEventDestroy(e); }
  ScopedEvent(const ScopedEvent&) = delete;
  ScopedEvent& operator=(const ScopedEvent&) = delete;
};

// A copy between two GPUs runs on the destination's current stream, which is not ordered with the source
// device's streams at all (not even the legacy default streams of two devices are). So the copy first
// waits for the work queued on the source's current stream (the source's producers), and the source's
// current stream then waits for the copy: the source's memory, once freed, is reused in that stream's
// order, which must not overwrite it while the copy still reads it.
void copy_between_devices(void* dst, int dst_index, const void* src, int src_index, int64_t nbytes,
                          bool non_blocking) {
  cudaStream_t src_stream = t_current_stream[checked_index(src_index)];
  cudaStream_t dst_stream = t_current_stream[checked_index(dst_index)];
  set_current_device(src_index);
  ScopedEvent src_ready;
  HY_CUDA_CHECK(cudaEventRecord(src_ready.e, src_stream));
  set_current_device(dst_index);
  HY_CUDA_CHECK(cudaStreamWaitEvent(dst_stream, src_ready.e, 0));
  HY_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(nbytes), cudaMemcpyDefault, dst_stream));
  if (!non_blocking) {
    HY_CUDA_CHECK(cudaStreamSynchronize(dst_stream));
    return;
  }
  ScopedEvent copied;
  HY_CUDA_CHECK(cudaEventRecord(copied.e, dst_stream));
  set_current_device(src_index);
  HY_CUDA_CHECK(cudaStreamWaitEvent(src_stream, copied.e, 0));
}

class CudaBackend final : public DeviceBackend {
 public:
  int device_count() override {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();
      return 0;
    }
    return n;
  }

  std::string device_name(int index) override {
    cudaDeviceProp prop{};
    HY_CUDA_CHECK(cudaGetDeviceProperties(&prop, checked_index(index)));
    return prop.name;
  }

  DeviceProperties device_properties(int index) override {
    cudaDeviceProp prop{};
    HY_CUDA_CHECK(cudaGetDeviceProperties(&prop, checked_index(index)));
    // The memory clock and bus width come from cudaDeviceGetAttribute: CUDA 13 dropped the clock from
    // cudaDeviceProp, the attributes remain.
    int clock_khz = 0, bus_bits = 0;
    HY_CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, index));
    HY_CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, index));
    DeviceProperties p;
    p.name = prop.name;
    p.major = prop.major;
    p.minor = prop.minor;
    p.total_memory = static_cast<int64_t>(prop.totalGlobalMem);
    p.multi_processor_count = prop.multiProcessorCount;
    p.L2_cache_size = prop.l2CacheSize;
    p.memory_clock_rate = clock_khz;
    p.memory_bus_width = bus_bits;
    p.memory_bandwidth = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0);
    return p;
  }

  std::shared_ptr<StorageImpl> allocate(int64_t nbytes, Device device) override {
    const int index = checked_index(device.index);
    void* p = caching_allocator().allocate(nbytes, index, t_current_stream[index]);
    std::shared_ptr<void> owner(p, [](void* q) { caching_allocator().free(q); });
    return std::make_shared<StorageImpl>(p, nbytes, device, std::move(owner));
  }

  std::shared_ptr<StorageImpl> allocate_pinned(int64_t nbytes) override {
    void* p = nullptr;
    HY_CUDA_CHECK(cudaHostAlloc(&p, static_cast<size_t>(std::max<int64_t>(nbytes, 1)), cudaHostAllocDefault));
    std::shared_ptr<void> owner(p, [](void* q) { cudaFreeHost(q); });
    return std::make_shared<StorageImpl>(p, nbytes, kCPU, std::move(owner));
  }

  bool is_pinned(const void* ptr) override {
    cudaPointerAttributes attr{};
    if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    return attr.type == cudaMemoryTypeHost;
  }

  void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, int64_t nbytes,
                  bool non_blocking) override {
    if (!dst_device.is_cpu() && !src_device.is_cpu() && dst_device.index != src_device.index)
      return copy_between_devices(dst, dst_device.index, src, src_device.index, nbytes, non_blocking);
    // The copy runs on the current stream of the device side, after the kernels queued there.
    const int index = dst_device.is_cpu() ? src_device.index : dst_device.index;
    set_current_device(index);
    cudaStream_t s = t_current_stream[checked_index(index)];
    HY_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(nbytes), cudaMemcpyDefault, s));
    const bool host_pinned = dst_device.is_cpu() ? is_pinned(dst) : (src_device.is_cpu() ? is_pinned(src) : true);
    // Pageable host memory can change as soon as we return: only pinned copies may stay in flight.
    if (!non_blocking || !host_pinned) HY_CUDA_CHECK(cudaStreamSynchronize(s));
  }

  void synchronize(int index) override {
    set_current_device(index);
    HY_CUDA_CHECK(cudaDeviceSynchronize());
  }

  DeviceMemoryStats memory_stats(int index) override { return caching_allocator().stats(checked_index(index)); }
  void reset_peak_memory_stats(int index) override { caching_allocator().reset_peak(checked_index(index)); }
  void empty_cache() override { caching_allocator().empty_cache(); }

  StreamHandle stream_create(int index) override {
    set_current_device(index);
    cudaStream_t s = nullptr;
    HY_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return reinterpret_cast<StreamHandle>(s);
  }
  void stream_destroy(StreamHandle s) override {
    if (s) cudaStreamDestroy(reinterpret_cast<cudaStream_t>(s));
  }
  void stream_synchronize(int index, StreamHandle s) override {
    set_current_device(index);  // handle 0 is the current device's default stream
    HY_CUDA_CHECK(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(s)));
  }
  StreamHandle current_stream(int index) override {
    return reinterpret_cast<StreamHandle>(t_current_stream[checked_index(index)]);
  }
  void set_current_stream(int index, StreamHandle s) override {
    t_current_stream[checked_index(index)] = reinterpret_cast<cudaStream_t>(s);
  }

  EventHandle event_create(int index, bool enable_timing) override {
    set_current_device(index);  // an event belongs to the device current at its creation
    cudaEvent_t e = nullptr;
    HY_CUDA_CHECK(cudaEventCreateWithFlags(&e, enable_timing ? cudaEventDefault : cudaEventDisableTiming));
    return reinterpret_cast<EventHandle>(e);
  }
  void event_destroy(EventHandle e) override {
    if (e) cudaEventDestroy(reinterpret_cast<cudaEvent_t>(e));
  }
  void event_record(EventHandle e, int index, StreamHandle s) override {
    set_current_device(index);
    HY_CUDA_CHECK(cudaEventRecord(reinterpret_cast<cudaEvent_t>(e), reinterpret_cast<cudaStream_t>(s)));
  }
  void event_synchronize(EventHandle e) override {
    HY_CUDA_CHECK(cudaEventSynchronize(reinterpret_cast<cudaEvent_t>(e)));
  }
  bool event_query(EventHandle e) override {
    cudaError_t err = cudaEventQuery(reinterpret_cast<cudaEvent_t>(e));
    if (err == cudaErrorNotReady) {
      (void)cudaGetLastError();
      return false;
    }
    HY_CUDA_CHECK(err);
    return true;
  }
  float event_elapsed_ms(EventHandle start, EventHandle end) override {
    float ms = 0;
    HY_CUDA_CHECK(cudaEventElapsedTime(&ms, reinterpret_cast<cudaEvent_t>(start), reinterpret_cast<cudaEvent_t>(end)));
    return ms;
  }
  void stream_wait_event(int index, StreamHandle s, EventHandle e) override {
    set_current_device(index);
    HY_CUDA_CHECK(cudaStreamWaitEvent(reinterpret_cast<cudaStream_t>(s), reinterpret_cast<cudaEvent_t>(e), 0));
  }

  void record_stream(const void* ptr, StreamHandle s) override {
    caching_allocator().record_stream(ptr, reinterpret_cast<cudaStream_t>(s));
  }

  int64_t fft_plan_cache_size(int index) override { return cuda::fft_plan_cache_size(checked_index(index)); }
  int64_t fft_plan_cache_max_size(int index) override { return cuda::fft_plan_cache_max_size(checked_index(index)); }
  void set_fft_plan_cache_max_size(int index, int64_t max_size) override {
    cuda::set_fft_plan_cache_max_size(checked_index(index), max_size);
  }
  void fft_plan_cache_clear(int index) override { cuda::fft_plan_cache_clear(checked_index(index)); }

  void set_allow_cublaslt(bool allow) override { cuda::set_gemm_lt_allowed(allow); }
  GemmLtStats cublaslt_stats(int index) override { return cuda::gemm_lt_stats(checked_index(index)); }
  void cublaslt_cache_clear(int index) override { cuda::gemm_lt_cache_clear(checked_index(index)); }

  std::unique_ptr<StreamGate> stream_gate(int index, double timeout_s) override {
    return cuda::make_stream_gate(checked_index(index), timeout_s);
  }
};

}  // namespace

DeviceBackend& cuda_backend() {
  static CudaBackend* b = new CudaBackend();  // never destroyed: storages may be freed at exit
  return *b;
}

void* current_stream(int device) { return t_current_stream[checked_index(device)]; }

void set_current_device(int device) {
  int now = -1;
  HY_CUDA_CHECK(cudaGetDevice(&now));
  if (now != device) HY_CUDA_CHECK(cudaSetDevice(checked_index(device)));
}

}  // namespace hy::cuda
