// The interface a non-CPU backend implements so the core can allocate, copy and synchronize on its
// devices without linking the backend. libhyflow_cuda installs its implementation when it is loaded at
// import (dispatch/cuda_backend_loader.cpp); until then every call names why the device is unavailable.
//
//   DeviceBackend& b = device_backend(DeviceType::DeviceType_CUDA);   // throws if CUDA is unavailable
//   auto storage = b.allocate(nbytes, Device{DeviceType::DeviceType_CUDA, 0});
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/device.h"
#include "core/error.h"
#include "core/storage.h"

namespace hy {

/// Bytes held by a device's caching allocator (what hy.cuda.memory_* report).
struct DeviceMemoryStats {
  int64_t allocated = 0;      ///< bytes in live tensors
  int64_t reserved = 0;       ///< bytes obtained from the driver (live + cached)
  int64_t max_allocated = 0;  ///< high-water mark of `allocated` since the last reset
  int64_t pending_frees = 0;  ///< freed blocks waiting for the work of streams record_stream named
};

/// What hy.cuda.get_device_properties reports (torch's field names where torch has one).
struct DeviceProperties {
  std::string name;
  int major = 0, minor = 0;          ///< compute capability
  int64_t total_memory = 0;          ///< bytes of device memory
  int multi_processor_count = 0;
  int64_t L2_cache_size = 0;         ///< bytes
  int64_t memory_clock_rate = 0;     ///< kHz, as the driver reports it
  int memory_bus_width = 0;          ///< bits
  /// Theoretical peak bytes/s: two transfers per memory clock (DDR/HBM) x the bus width in bytes.
  double memory_bandwidth = 0;
};

/// Opaque stream/event handles: the backend's native pointer as an integer (0 = the default stream).
using StreamHandle = intptr_t;
using EventHandle = intptr_t;

/// What the cuBLASLt path of addmm has done on one device (hy._C._cuda_cublaslt_stats, docs/cuda.md).
struct GemmLtStats {
  int64_t cached = 0;     ///< (shape, dtype, layout) keys whose heuristic answer is cached
  int64_t lt_calls = 0;   ///< products run by cublasLtMatmul
  int64_t fallbacks = 0;  ///< eligible products Lt had no algorithm for (run by plain cuBLAS)
};

/// Test-only (hy._C._cuda_stream_gate): close(s) queues on stream s a kernel that waits until open() is
/// called from the host, so a test holds a stream busy for exactly as long as its checks take. A safety
/// timeout inside the kernel ends the wait if open() never comes; destroying the gate opens it and waits
/// until its kernels have exited.
class StreamGate {
 public:
  virtual ~StreamGate() = default;
  /// Queue a wait on `s` (a gate already closed on other streams holds `s` too, until the same open()).
  virtual void close(StreamHandle s) = 0;
  /// Let every kernel queued by close() exit.
  virtual void open() = 0;
  /// True once a kernel of this gate gave up waiting because its timeout passed before open().
  virtual bool timed_out() = 0;
};

/// What the core needs from a device backend. All methods may throw RuntimeError naming the failure.
class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual int device_count() = 0;
  virtual std::string device_name(int index) = 0;
  /// The device's attributes (name, capability, memory size and theoretical bandwidth, SMs).
  virtual DeviceProperties device_properties(int index) {
    (void)index;
    throw NotImplementedError("device_properties: this device backend reports no properties");
  }
  /// Uninitialized device memory of `nbytes` on `device`, from the caching allocator (current stream).
  virtual std::shared_ptr<StorageImpl> allocate(int64_t nbytes, Device device) = 0;
  /// Page-locked host memory (a CPU storage) that host<->device copies can run asynchronously from.
  virtual std::shared_ptr<StorageImpl> allocate_pinned(int64_t nbytes) = 0;
  /// True when `ptr` is page-locked host memory this backend handed out.
  virtual bool is_pinned(const void* ptr) = 0;
  /// Copy `nbytes` of contiguous bytes on the current stream of the device side; synchronous unless
  /// `non_blocking` and the host side is pinned.
  virtual void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, int64_t nbytes,
                          bool non_blocking) = 0;
  virtual void synchronize(int index) = 0;
  virtual DeviceMemoryStats memory_stats(int index) = 0;
  virtual void reset_peak_memory_stats(int index) = 0;
  /// Give cached, unused blocks back to the driver.
  virtual void empty_cache() = 0;

  // A stream is named by (device index, handle): handle 0 is the default stream of *that* device, and an
  // event belongs to the device it was created on and may only be recorded on that device's streams. So
  // every call that takes a stream also takes its device, which the backend makes current first.
  virtual StreamHandle stream_create(int index) = 0;
  virtual void stream_destroy(StreamHandle s) = 0;
  virtual void stream_synchronize(int index, StreamHandle s) = 0;
  virtual StreamHandle current_stream(int index) = 0;
  /// Make `s` the current stream of this thread for device `index` (kernels and allocations use it).
  virtual void set_current_stream(int index, StreamHandle s) = 0;
  /// An event of device `index`.
  virtual EventHandle event_create(int index, bool enable_timing) = 0;
  virtual void event_destroy(EventHandle e) = 0;
  /// Record `e` (an event of device `index`) on stream `s` of device `index`.
  virtual void event_record(EventHandle e, int index, StreamHandle s) = 0;
  virtual void event_synchronize(EventHandle e) = 0;
  virtual bool event_query(EventHandle e) = 0;
  /// Milliseconds between two recorded timing events.
  virtual float event_elapsed_ms(EventHandle start, EventHandle end) = 0;
  /// Work queued later on stream `s` of device `index` waits for `e` (an event of any device).
  virtual void stream_wait_event(int index, StreamHandle s, EventHandle e) = 0;

  /// Tensor.record_stream: the memory block holding `ptr` (a storage this backend allocated) is also used
  /// by work queued on stream `s`, so when it is freed it is not reused before the work queued on `s` up to
  /// that moment has completed. Memory the backend did not allocate (imported through DLPack) is left alone.
  virtual void record_stream(const void* ptr, StreamHandle s) {
    (void)ptr, (void)s;
    throw NotImplementedError("record_stream: this device backend has no stream-ordered allocator");
  }

  /// The FFT plan cache of device `index` (hy.backends.cuda.cufft_plan_cache): plans held, the most it
  /// holds (least recently used plans are dropped beyond it), and dropping them all.
  virtual int64_t fft_plan_cache_size(int index) { return (void)index, 0; }
  virtual int64_t fft_plan_cache_max_size(int index) { return (void)index, 0; }
  virtual void set_fft_plan_cache_max_size(int index, int64_t max_size) { (void)index, (void)max_size; }
  virtual void fft_plan_cache_clear(int index) { (void)index; }

  /// hy.backends.cuda.matmul.allow_cublaslt: whether addmm with a bias vector may use cuBLASLt.
  virtual void set_allow_cublaslt(bool allow) { (void)allow; }
  /// The cuBLASLt path's counters and cache on device `index`; clearing drops the cached algorithms.
  virtual GemmLtStats cublaslt_stats(int index) { return (void)index, GemmLtStats{}; }
  virtual void cublaslt_cache_clear(int index) { (void)index; }

  /// A StreamGate on device `index` whose kernels give up after about `timeout_s` seconds.
  virtual std::unique_ptr<StreamGate> stream_gate(int index, double timeout_s) {
    (void)index, (void)timeout_s;
    throw NotImplementedError("stream gates need the CUDA backend");
  }
};

/// Install (or, with nullptr, remove) the backend serving `type`. Called by the backend's library.
void set_device_backend(DeviceType type, DeviceBackend* backend);
/// The backend serving `type`; throws RuntimeError "CUDA is not available (<reason>)" when none is.
DeviceBackend& device_backend(DeviceType type);
/// The backend serving `type`, or nullptr.
DeviceBackend* find_device_backend(DeviceType type);
/// Why `type` has no backend (the loader records it), for the error above and hy.build_info().
void set_device_unavailable_reason(DeviceType type, const std::string& reason);
std::string device_unavailable_reason(DeviceType type);

}  // namespace hy
