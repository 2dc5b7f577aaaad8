// The test-only stream gate (core/device_backend.h's StreamGate): stream_gate.cu holds the waiting kernel,
// stream_gate.cpp the host object that owns its flag words and the events that tell when it has exited.
#pragma once
#include <cstdint>
#include <memory>

#include "core/device_backend.h"

namespace hy::cuda {

/// Queue on `stream` one thread that spins until `*opened >= epoch` (mapped host words read through their
/// device addresses), or until `timeout_cycles` SM clock cycles have passed: it then stores `epoch` into
/// `*timed_out` and exits.
void launch_stream_gate(const uint32_t* opened, uint32_t epoch, uint32_t* timed_out, int64_t timeout_cycles,
                        void* stream);

/// A gate on `device` whose kernels give up after about `timeout_s` seconds (0 < timeout_s <= 600).
std::unique_ptr<StreamGate> make_stream_gate(int device, double timeout_s);

}  // namespace hy::cuda
