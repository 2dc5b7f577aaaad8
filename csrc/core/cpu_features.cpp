// CPUID/XGETBV feature detection for cpu_x86_64_level(). Our own cpuid reading rather than
// __builtin_cpu_supports: each level's feature list below is exactly the psABI definition that
// -march=x86-64-vN compiles for (older compilers' builtins know no level names, and only some of them
// check the OS-enabled register state), and it is read once at import, so it costs nothing.
#include "core/cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#include <cstdint>
#endif

namespace hy {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
struct CpuidRegs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

CpuidRegs cpuid(unsigned leaf, unsigned subleaf = 0) {
  CpuidRegs r;
  if (!__get_cpuid_count(leaf, subleaf, &r.a, &r.b, &r.c, &r.d)) return CpuidRegs{};  // leaf absent
  return r;
}

bool bit(unsigned reg, int i) { return (reg >> i) & 1u; }

// XCR0: which register states the OS saves on a context switch. Encoded as bytes so that this file
// compiles without -mxsave (it is part of the baseline core); only called once OSXSAVE is known set.
uint64_t xgetbv0() {
  unsigned lo, hi;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

int detect_level() {
  const CpuidRegs l1 = cpuid(1), l7 = cpuid(7, 0), e1 = cpuid(0x80000001);
  // Level 2: CMPXCHG16B, LAHF-SAHF, POPCNT, SSE3, SSE4.1, SSE4.2, SSSE3.
  const bool v2 = bit(l1.c, 13) && bit(e1.c, 0) && bit(l1.c, 23) && bit(l1.c, 0) && bit(l1.c, 19) &&
                  bit(l1.c, 20) && bit(l1.c, 9);
  if (!v2) return 1;
  // Level 3: AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE, OSXSAVE; XCR0 must enable SSE+AVX state.
  const bool osxsave = bit(l1.c, 27);
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool v3 = osxsave && ymm_state && bit(l1.c, 28) && bit(l7.b, 5) && bit(l7.b, 3) && bit(l7.b, 8) &&
                  bit(l1.c, 29) && bit(l1.c, 12) && bit(e1.c, 5) && bit(l1.c, 22);
  if (!v3) return 2;
  // Level 4: AVX512F, AVX512BW, AVX512CD, AVX512DQ, AVX512VL; XCR0 must enable opmask + ZMM state.
  const bool zmm_state = (xcr0 & 0xe0) == 0xe0;
  const bool v4 = zmm_state && bit(l7.b, 16) && bit(l7.b, 30) && bit(l7.b, 28) && bit(l7.b, 17) && bit(l7.b, 31);
  return v4 ? 4 : 3;
}
#else
int detect_level() { return 0; }
#endif

}  // namespace

int cpu_x86_64_level() {
  static const int level = detect_level();
  return level;
}

}  // namespace hy
