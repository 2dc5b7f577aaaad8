// Low-precision (bfloat16) batched GEMM: hyflow's own AMX / AVX512-BF16 kernels (gemm_bf16.h) where the
// CPU has them, else a library when one is compiled in (oneDNN, CMake option HYFLOW_ONEDNN): bf16
// operands, float32 accumulation, the result rounded once. Callers try it first and keep their float32
// path for everything it declines (no kernel or library, a dtype it lacks, HYFLOW_LOWP_GEMM=fallback).
//
//   LowpGemm g{batch, m, n, k, alpha, beta, a, b};            // a/b: bf16 bits, GemmMatrix layout
//   if (!gemm_lowp_batched(g, c_bf16_or_f32, c_is_f32)) { ...float32 path... }
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/gemm.h"

namespace hy::cpu {

/// One bf16 product C[b] = alpha * A[b] B[b] + beta * C[b]; operands hold bfloat16 bit patterns.
/// With `bias` (n bfloat16 values, one per column; only with a bfloat16 C), C[b][i][j] = alpha * (A B)[i][j]
/// + beta * bias[j] instead, summed in float32 and rounded once: a linear layer's addmm without the
/// float32 copy of C that a general beta needs. Libraries that cannot do it decline it (return false).
struct LowpGemm {
  int64_t batch, m, n, k;
  float alpha, beta;
  GemmMatrix<uint16_t> a, b;
  const uint16_t* bias = nullptr;
};

/// Runs `g` into `c` (dense row-major (batch, m, n); float32 when c_is_f32, which beta != 0 requires, else
/// bfloat16) and returns true, or returns false having touched nothing when the library declines.
bool gemm_lowp_batched(const LowpGemm& g, void* c, bool c_is_f32);

/// The library behind gemm_lowp_batched ("onednn 2.6.3"), or "" when none is compiled in.
std::string gemm_lowp_library();
/// The instruction set the library dispatches to on this CPU (e.g. "avx512_core_amx"), "" without one.
std::string gemm_lowp_isa();
/// The low-precision instructions this CPU has, of avx512_bf16, avx512_fp16, amx_bf16, amx_tile.
std::vector<std::string> cpu_lowp_features();
/// False when HYFLOW_LOWP_GEMM=fallback forces the float32 path (tests cover both paths with one build).
bool gemm_lowp_enabled();
/// What a bf16 product runs on now: "amx_bf16" or "avx512_bf16" (ours), "onednn", or "" (the float32
/// path). HYFLOW_LOWP_GEMM (read at each call) caps it: "avx512_bf16", "onednn", "fallback".
std::string gemm_lowp_kernel();

}  // namespace hy::cpu
