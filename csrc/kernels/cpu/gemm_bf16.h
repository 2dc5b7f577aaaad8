// hyflow's own bfloat16 GEMM (docs/design.md, "Choosing a library": measured faster here than Debian's
// oneDNN 2.6.3): operands packed into 16-row / 16-column strips padded with zeros to a multiple of 32,
// B in the VNNI pair layout both AMX and AVX512-BF16 read, float32 accumulators, one rounding at the end.
// Two kernels over the same packing, chosen at run time: AMX tiles (TDPBF16PS, 2x2 tiles of 16x16) where
// the CPU has AMX-BF16 and Linux grants the tile state, else AVX512-BF16 VDPBF16PS; a CPU with neither
// declines and the caller falls back (oneDNN when built with it, then the float32 path).
//
//   if (gemm_bf16_own(g, c, c_is_f32)) return;   // same contract as gemm_lowp_batched
#pragma once
#include "kernels/cpu/gemm_lowp.h"

namespace hy::cpu {

enum class Bf16Kernel { None, Avx512Bf16, Amx };

/// The kernel gemm_bf16_own uses now: the best the CPU, the OS and the loaded kernels (the avx512 CPU
/// variant, so HYFLOW_CPU_CAPABILITY=avx2 or default leaves none) allow, capped by HYFLOW_LOWP_GEMM
/// ("avx512_bf16" skips AMX, "onednn"/"fallback" skip both). HYFLOW_AMX_PERMISSION=deny (read once per
/// process, for tests) makes the AMX permission request count as refused.
Bf16Kernel bf16_kernel();
/// "amx_bf16", "avx512_bf16" or "" (hy.build_info()["lowp_gemm_kernel"] when it is ours).
const char* bf16_kernel_name(Bf16Kernel k);
/// gemm_lowp_batched through bf16_kernel(); false (nothing touched) when it is None.
bool gemm_bf16_own(const LowpGemm& g, void* c, bool c_is_f32);

/// The kernels' entry (gemm_bf16_kernels.cpp): runs `g` (non-empty) with `kern` into `c`.
using Bf16GemmRun = void (*)(Bf16Kernel kern, const LowpGemm& g, void* c, bool c_is_f32);
/// The entry compiled into the calling library, or null where it was compiled without AVX-512 (the
/// portable core, the avx2 variant). The avx512 variant hands its own to install_bf16_gemm when loaded.
Bf16GemmRun bf16_gemm_compiled_kernels();
void install_bf16_gemm(Bf16GemmRun run);

}  // namespace hy::cpu
