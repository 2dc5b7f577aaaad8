// The host side of the test-only stream gate (core/device_backend.h's StreamGate, hy._C._cuda_stream_gate;
// docs/cuda.md, "Stream gate"). Tests of stream ordering (record_stream, the DLPack handshake) need a
// stream that is provably still busy while the host checks run; queuing "enough" work is a race that a
// fast GPU wins. A gate makes it deterministic: close(s) queues a kernel on s that waits for a flag the
// host sets in open().
//
//   auto gate = make_stream_gate(0, 10.0);
//   gate->close(side);   // work queued on `side` after this waits
//   ...                  // checks that see `side` busy
//   gate->open();        // `side` runs on
#include <atomic>
#include <mutex>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_check_internal.h"
#include "cuda/stream_gate_internal.h"

namespace hy::cuda {
namespace {

// Each gate owns two 32-bit words, [0] the epoch opened last and [1] the epoch that timed out (0: none),
// in pinned host memory mapped into every device's address space. The blocks are recycled, never freed:
// cudaFreeHost synchronizes the whole device, which would wait for any other gate still closed.
constexpr size_t kSlotBytes = 64;

std::mutex g_slots_mu;
std::vector<uint32_t*>& spare_slots() {
  static auto* slots = new std::vector<uint32_t*>();  // never destroyed (exit order), like the allocator
  return *slots;
}

uint32_t* take_slot() {
  uint32_t* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_slots_mu);
    if (!spare_slots().empty()) {
      p = spare_slots().back();
      spare_slots().pop_back();
    }
  }
  if (!p) {
    void* raw = nullptr;
    HY_CUDA_CHECK(cudaHostAlloc(&raw, kSlotBytes, cudaHostAllocMapped | cudaHostAllocPortable));
    p = static_cast<uint32_t*>(raw);
  }
  volatile uint32_t* w = p;
  w[0] = 0;
  w[1] = 0;
  return p;
}

void give_slot(uint32_t* p) {
  std::lock_guard<std::mutex> lock(g_slots_mu);
  spare_slots().push_back(p);
}

class CudaStreamGate final : public StreamGate {
 public:
  CudaStreamGate(int device, double timeout_s) : device_(device) {
    set_current_device(device);
    int khz = 0;  // the peak SM clock: at a lower clock the timeout only lasts longer
    HY_CUDA_CHECK(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, device));
    timeout_cycles_ = static_cast<int64_t>(timeout_s * 1000.0 * static_cast<double>(khz));
    host_ = take_slot();
    void* dev = nullptr;
    const cudaError_t err = cudaHostGetDevicePointer(&dev, host_, 0);
    if (err != cudaSuccess) give_slot(host_);
    HY_CUDA_CHECK(err);
    dev_ = static_cast<uint32_t*>(dev);
  }

  ~CudaStreamGate() override {
    // Open, then wait for every kernel of this gate to exit before its words can serve another gate.
    open();
    for (cudaEvent_t e : exited_) {
      cudaEventSynchronize(e);
      cudaEventDestroy(e);
    }
    (void)cudaGetLastError();  // a destructor cannot report; a lost device leaves nothing to wait for
    give_slot(host_);
  }

  CudaStreamGate(const CudaStreamGate&) = delete;
  CudaStreamGate& operator=(const CudaStreamGate&) = delete;

  void close(StreamHandle s) override {
    set_current_device(device_);
    forget_exited();
    if (!closed_) {  // a new epoch: kernels of earlier closes have their (smaller) epoch opened already
      ++epoch_;
      closed_ = true;
    }
    auto stream = reinterpret_cast<cudaStream_t>(s);
    launch_stream_gate(dev_, epoch_, dev_ + 1, timeout_cycles_, stream);
    cudaEvent_t e = nullptr;
    HY_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    const cudaError_t err = cudaEventRecord(e, stream);  // completes when this kernel has exited
    if (err != cudaSuccess) cudaEventDestroy(e);
    HY_CUDA_CHECK(err);
    exited_.push_back(e);
  }

  void open() override {
    if (!closed_) return;
    static_cast<volatile uint32_t*>(host_)[0] = epoch_;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    closed_ = false;
  }

  bool timed_out() override { return static_cast<volatile uint32_t*>(host_)[1] != 0; }

 private:
  // Drops the events of kernels that have exited, so a gate closed and opened many times stays small.
  void forget_exited() {
    size_t kept = 0;
    for (cudaEvent_t e : exited_) {
      if (cudaEventQuery(e) == cudaSuccess) {
        cudaEventDestroy(e);
      } else {
        exited_[kept++] = e;
      }
    }
    (void)cudaGetLastError();  // cudaErrorNotReady is not an error here
    exited_.resize(kept);
  }

  int device_;
  int64_t timeout_cycles_ = 0;
  uint32_t* host_ = nullptr;
  uint32_t* dev_ = nullptr;
  uint32_t epoch_ = 0;
  bool closed_ = false;
  std::vector<cudaEvent_t> exited_;
};

}  // namespace

std::unique_ptr<StreamGate> make_stream_gate(int device, double timeout_s) {
  HY_CHECK(timeout_s > 0 && timeout_s <= 600, ValueError, "stream gate: timeout_s must be in (0, 600] seconds, got ",
           timeout_s);
  return std::make_unique<CudaStreamGate>(device, timeout_s);
}

}  // namespace hy::cuda
