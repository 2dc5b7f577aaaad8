// libhyflow_cuda's implementation of the core's DeviceBackend (core/device_backend.h): device memory
// from the caching allocator, host<->device copies, streams and events, and the per-thread current
// stream that every kernel of this library launches on.
#pragma once
#include "core/device_backend.h"

namespace hy::cuda {

/// The backend object installed into the core when the library loads.
DeviceBackend& cuda_backend();
/// This thread's current stream on `device` (a cudaStream_t; nullptr is the default stream).
void* current_stream(int device);
/// Makes `device` the calling thread's current CUDA device (kernels launch on it).
void set_current_device(int device);

}  // namespace hy::cuda
