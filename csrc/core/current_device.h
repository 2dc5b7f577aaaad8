// The CUDA device that "cuda" without an index names (hy.cuda.set_device / current_device). Process-wide, not
// per thread as torch's: a rank that picks its GPU once keeps it in every thread it runs tasks on. Kept out of
// core/device.h, which every file includes, so that changing it rebuilds only its users.
#pragma once
#include "core/device.h"

namespace hy {

/// The index "cuda" resolves to (0 until set).
int current_cuda_index();
/// Set by hy.cuda.set_device (which checks the index against the device count first).
void set_current_cuda_index(int index);
/// Device{CUDA, current_cuda_index()}.
Device current_cuda_device();

}  // namespace hy
