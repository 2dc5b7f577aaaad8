// The installed float32 -> bfloat16 narrow of lowp_convert.h: set once by the avx512 CPU variant when it
// loads (before any kernel runs), read by the core's lowp_narrow. No AVX instruction here (cpu_isa_guard).
#include "kernels/cpu/lowp_convert.h"

#include <atomic>

namespace hy::cpu {
namespace {
std::atomic<NarrowBf16Fn> installed{nullptr};
}  // namespace

void install_bf16_narrow(NarrowBf16Fn fn) { installed.store(fn, std::memory_order_release); }

NarrowBf16Fn installed_bf16_narrow() { return installed.load(std::memory_order_acquire); }

}  // namespace hy::cpu
