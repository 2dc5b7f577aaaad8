// The oneDNN backend of gemm_lowp.h; only gemm_onednn.cpp sees oneDNN's headers, so the rest of the core
// compiles the same with or without it (and shares ccache hits).
#pragma once
#include <string>

#include "kernels/cpu/gemm_lowp.h"

namespace hy::cpu {

/// gemm_lowp_batched through a oneDNN matmul primitive; false when oneDNN has no fast kernel for it.
bool onednn_gemm_bf16(const LowpGemm& g, void* c, bool c_is_f32);
/// "onednn MAJOR.MINOR.PATCH".
std::string onednn_version();
/// oneDNN's effective CPU ISA on this machine, e.g. "avx512_core_amx".
std::string onednn_isa();

}  // namespace hy::cpu
