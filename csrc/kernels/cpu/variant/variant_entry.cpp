// The one exported function of a CPU variant library (libhyflow_cpu_<name>.so). The library is the
// hot-kernel files compiled for one ISA; this file and cpu_variant_generated.cpp are its only extras.
// dispatch/cpu_variant.cpp loads it and calls this function once without a registry (a version probe)
// and once with the global registry, after the baseline kernels are in.
#include <cstring>

#include "dispatch/registry.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/lowp_convert.h"
#include "hyflow/build_config.h"

#ifndef HYFLOW_CPU_VARIANT_NAME
#error "compiled only into a CPU variant library, which defines HYFLOW_CPU_VARIANT_NAME"
#endif

namespace hy {
void register_kernels_cpu_variant(Registry& r);  // cpu_variant_generated.cpp
}  // namespace hy

/// Registers this variant's kernels into `registry` (when not null) over the baseline ones; returns the
/// variant's name, or null (registering nothing) when `core_version` is not the version it was built for.
extern "C" __attribute__((visibility("default"))) const char* hyflow_cpu_variant_register(
    hy::Registry* registry, const char* core_version) {
  if (core_version == nullptr || std::strcmp(core_version, HYFLOW_VERSION) != 0) return nullptr;
  if (registry) {
    hy::register_kernels_cpu_variant(*registry);
    // bf16 GEMM is no op-table family: its kernels (null below AVX-512) go in through their own hook.
    if (hy::cpu::Bf16GemmRun run = hy::cpu::bf16_gemm_compiled_kernels()) hy::cpu::install_bf16_gemm(run);
#ifdef HYFLOW_LOWP_HAS_AVX512_BF16_PATH
    // Likewise the float32 -> bfloat16 narrow of the core's casts (lowp_convert.h).
    if (hy::cpu::lowp_detail::cpu_has_avx512_bf16())
      hy::cpu::install_bf16_narrow(&hy::cpu::lowp_detail::narrow_bf16_avx512bf16);
#endif
  }
  return HYFLOW_CPU_VARIANT_NAME;
}
