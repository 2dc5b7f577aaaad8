// The run-time half of gemm_bf16.h, in the portable core: which kernel the CPU and Linux allow, the
// HYFLOW_LOWP_GEMM cap, and the call through the kernels the avx512 CPU variant (or a native build's own
// gemm_bf16_kernels.cpp) installed. No AVX instruction here (ctest cpu_isa_guard).
#include "kernels/cpu/gemm_bf16.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/gil_release_internal.h"

#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#define HYFLOW_BF16_GEMM_X86_LINUX 1
#endif

namespace hy::cpu {
namespace {

std::atomic<Bf16GemmRun> installed{nullptr};

#ifdef HYFLOW_BF16_GEMM_X86_LINUX
// Linux keeps the AMX tile data state off until a process asks for it (arch_prctl, Linux 5.16+); using a
// tile instruction without that permission kills the process with SIGILL. Refused (old kernel, a
// seccomp filter, HYFLOW_AMX_PERMISSION=deny for tests): AMX is not used.
bool amx_permitted() {
  const char* env = std::getenv("HYFLOW_AMX_PERMISSION");
  if (env && std::strcmp(env, "deny") == 0) return false;
  constexpr long kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
  unsigned long granted = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &granted) != 0) return false;
  return (granted >> kXfeatureXtiledata) & 1u;
}

// __builtin_cpu_supports reports AVX-512 features only when the OS saves their registers (libgcc reads
// XCR0), so the CPU flags are enough for the AVX512-BF16 kernel.
Bf16Kernel best_kernel() {
  if (!__builtin_cpu_supports("avx512bf16") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"))
    return Bf16Kernel::None;
  if (__builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16") && amx_permitted())
    return Bf16Kernel::Amx;
  return Bf16Kernel::Avx512Bf16;
}
#endif

}  // namespace

void install_bf16_gemm(Bf16GemmRun run) { installed.store(run); }

Bf16Kernel bf16_kernel() {
#ifdef HYFLOW_BF16_GEMM_X86_LINUX
  if (installed.load() == nullptr) {
    // A native build's core carries the kernels itself; a portable one gets them from the avx512 variant.
    if (Bf16GemmRun own = bf16_gemm_compiled_kernels()) install_bf16_gemm(own);
    else return Bf16Kernel::None;
  }
  static const Bf16Kernel best = best_kernel();  // the permission request happens once per process
  const char* v = std::getenv("HYFLOW_LOWP_GEMM");
  if (v && (std::strcmp(v, "fallback") == 0 || std::strcmp(v, "onednn") == 0)) return Bf16Kernel::None;
  if (v && std::strcmp(v, "avx512_bf16") == 0 && best == Bf16Kernel::Amx) return Bf16Kernel::Avx512Bf16;
  return best;
#else
  return Bf16Kernel::None;
#endif
}

const char* bf16_kernel_name(Bf16Kernel k) {
  switch (k) {
    case Bf16Kernel::Amx: return "amx_bf16";
    case Bf16Kernel::Avx512Bf16: return "avx512_bf16";
    default: return "";
  }
}

bool gemm_bf16_own(const LowpGemm& g, void* c, bool c_is_f32) {
  const Bf16Kernel kern = bf16_kernel();
  if (kern == Bf16Kernel::None || g.batch <= 0 || g.m <= 0 || g.n <= 0 || g.k <= 0) return false;
  if (g.bias && c_is_f32) return false;  // bias goes with a bf16 C only (gemm_lowp.h)
  const Bf16GemmRun run = installed.load();
  // Like a long parallel_for, a large product lets other Python threads run meanwhile.
  if (g.batch * g.m * g.n * g.k >= (int64_t{1} << 18)) run_without_gil([&] { run(kern, g, c, c_is_f32); });
  else run(kern, g, c, c_is_f32);
  return true;
}

}  // namespace hy::cpu
