// The kernel of the test-only stream gate (stream_gate.cpp): one thread that holds its stream until the
// host opens the gate. The flag lives in mapped pinned host memory and is read through a volatile
// pointer, so each read goes over the bus and sees the host's store. clock64 bounds the wait, so a test
// that never opens the gate (an assertion failed first) cannot hang the GPU.
#include <cuda_runtime.h>

#include "cuda/cuda_check_internal.h"
#include "cuda/stream_gate_internal.h"

namespace hy::cuda {
namespace {

__global__ void stream_gate_kernel(const volatile uint32_t* opened, uint32_t epoch, volatile uint32_t* timed_out,
                                   long long timeout_cycles) {
  const long long start = clock64();
  while (*opened < epoch) {
    if (clock64() - start > timeout_cycles) {
      *timed_out = epoch;
      __threadfence_system();  // the host may read the word as soon as the stream moves on
      return;
    }
    __nanosleep(1000);  // ~1 us between reads: no need to flood the bus with polls
  }
}

}  // namespace

void launch_stream_gate(const uint32_t* opened, uint32_t epoch, uint32_t* timed_out, int64_t timeout_cycles,
                        void* stream) {
  stream_gate_kernel<<<1, 1, 0, static_cast<cudaStream_t>(stream)>>>(opened, epoch, timed_out,
                                                                     static_cast<long long>(timeout_cycles));
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
