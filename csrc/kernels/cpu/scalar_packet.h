// Packet (SIMD) forms of the scalar expression language's functions that Eigen 3.4 lacks or gets
// inexact; used by the generated Eigen functors (hyflow/ops/scalar_ops_eigen_generated.h).
#pragma once
#include <Eigen/Core>

#include "kernels/cpu/packet_math.h"

namespace hy::eigen_packet {

// Correctly rounded sqrt that still vectorizes. Eigen 3.4's packet sqrt under EIGEN_FAST_MATH (its
// default) is an rsqrt estimate plus a Newton step: it loses bits and turns +inf into NaN; and GCC keeps
// std::sqrt scalar because of errno. So the packet form calls the hardware instruction directly.
#ifdef EIGEN_VECTORIZE_SSE2
inline __m128 sqrt_exact(const __m128& x) { return _mm_sqrt_ps(x); }
inline __m128d sqrt_exact(const __m128d& x) { return _mm_sqrt_pd(x); }
#endif
#ifdef EIGEN_VECTORIZE_AVX
inline __m256 sqrt_exact(const __m256& x) { return _mm256_sqrt_ps(x); }
inline __m256d sqrt_exact(const __m256d& x) { return _mm256_sqrt_pd(x); }
#endif
#ifdef EIGEN_VECTORIZE_AVX512
inline __m512 sqrt_exact(const __m512& x) { return _mm512_sqrt_ps(x); }
inline __m512d sqrt_exact(const __m512d& x) { return _mm512_sqrt_pd(x); }
#endif

/// Whether sqrt_exact has a packet form for this build (else the scalar std::sqrt runs per element).
#ifdef EIGEN_VECTORIZE_SSE2
constexpr bool kHasSqrtExact = true;
#else
constexpr bool kHasSqrtExact = false;
#endif

}  // namespace hy::eigen_packet
