// The library-independent half of gemm_lowp.h: the fallback switch, the order in which the kernels are
// tried (ours, then oneDNN), and the answers of a build without a low-precision library.
#include "kernels/cpu/gemm_lowp.h"

#include "kernels/cpu/gemm_bf16.h"

#include <cstdlib>
#include <cstring>

#ifdef HYFLOW_WITH_ONEDNN
#include "kernels/cpu/onednn/gemm_onednn_internal.h"
#endif

namespace hy::cpu {

// Read on every call (a getenv is nanoseconds next to a GEMM), so a test can flip it with monkeypatch.
bool gemm_lowp_enabled() {
  const char* v = std::getenv("HYFLOW_LOWP_GEMM");
  return !(v && std::strcmp(v, "fallback") == 0);
}

bool gemm_lowp_batched(const LowpGemm& g, void* c, bool c_is_f32) {
  if (!gemm_lowp_enabled()) return false;
  if (gemm_bf16_own(g, c, c_is_f32)) return true;
#ifdef HYFLOW_WITH_ONEDNN
  return onednn_gemm_bf16(g, c, c_is_f32);
#else
  return false;
#endif
}

std::string gemm_lowp_kernel() {
  if (!gemm_lowp_enabled()) return "";
  const Bf16Kernel own = bf16_kernel();
  if (own != Bf16Kernel::None) return bf16_kernel_name(own);
#ifdef HYFLOW_WITH_ONEDNN
  return "onednn";
#else
  return "";
#endif
}

std::string gemm_lowp_library() {
#ifdef HYFLOW_WITH_ONEDNN
  return onednn_version();
#else
  return "";
#endif
}

std::string gemm_lowp_isa() {
#ifdef HYFLOW_WITH_ONEDNN
  return onednn_isa();
#else
  return "";
#endif
}

std::vector<std::string> cpu_lowp_features() {
  std::vector<std::string> have;
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512bf16")) have.emplace_back("avx512_bf16");
  if (__builtin_cpu_supports("avx512fp16")) have.emplace_back("avx512_fp16");
  if (__builtin_cpu_supports("amx-bf16")) have.emplace_back("amx_bf16");
  if (__builtin_cpu_supports("amx-tile")) have.emplace_back("amx_tile");
#endif
  return have;
}

}  // namespace hy::cpu
