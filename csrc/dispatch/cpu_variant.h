// ISA variants of the hot CPU kernels. libhyflow_core is compiled for a portable baseline; each
// variant (avx2, avx512) is a separate library holding the hot-kernel files compiled for that ISA
// (cmake/cpu_variants.cmake). At import, register_all picks the best variant the CPU supports, dlopens
// it, and after the baseline kernels lets it register its own over them.
//
//   HYFLOW_CPU_CAPABILITY=avx2 python ...   # cap the choice: default | avx2 | avx512
//   cpu_capability();                       // "avx512", "avx2" or "default" (the baseline kernels)
#pragma once
#include <string>
#include <vector>

namespace hy {

class Registry;

/// A chosen CPU variant whose library is loaded but whose kernels are not registered yet.
struct CpuVariant {
  std::string name = "default";  // "default": libhyflow_core's own (baseline) kernels
  /// The library's hyflow_cpu_variant_register(registry, core_version): registers into `registry`
  /// (nothing when null) and returns the variant's name, or null when built for another version.
  const char* (*register_fn)(Registry*, const char*) = nullptr;
};

/// Choose the best variant the CPU supports, capped by HYFLOW_CPU_CAPABILITY, and load its library.
/// Touches no registry, so register_all can fail before registering anything. Throws ValueError for
/// an unknown HYFLOW_CPU_CAPABILITY, RuntimeError when the CPU lacks the build's baseline or the
/// variant's library cannot be loaded.
CpuVariant select_cpu_variant();
/// Register the variant's kernels over the baseline ones (after register_kernels_cpu).
void register_cpu_variant(Registry& r, const CpuVariant& v);
/// The variant whose kernels run: "default" until register_cpu_variant registered another.
const std::string& cpu_capability();
/// Variants this build compiled, "default" (libhyflow_core's own kernels) first.
std::vector<std::string> cpu_variants_compiled();

}  // namespace hy
