// What the running CPU can execute, for choosing an ISA variant of the hot kernels at import
// (dispatch/cpu_variant.cpp). Levels are the x86-64 psABI micro-architecture levels, the same sets of
// features that -march=x86-64-v2/v3/v4 compile for, so "checked" and "compiled for" always agree.
//
//   if (cpu_x86_64_level() >= 3) load("avx2");   // AVX2, FMA, F16C, BMI1/2, LZCNT, MOVBE + OS YMM state
#pragma once

namespace hy {

/// The highest x86-64 level (1 baseline, 2 SSE4.2/POPCNT, 3 AVX2/FMA, 4 AVX-512 F/BW/CD/DQ/VL) whose
/// every feature the CPU has and, for 3 and 4, the OS saves the vector registers of (XGETBV); 0 on a
/// CPU that is not x86-64. Computed once.
int cpu_x86_64_level();

}  // namespace hy
