// Integer arithmetic that wraps around (two's complement), as NumPy and PyTorch define int32/int64
// overflow: INT_MAX + 1 == INT_MIN. In C++ a signed overflow is undefined behaviour (UBSan reports it,
// and the optimiser may assume it never happens), so the kernels compute in the unsigned type, where
// wrapping is defined, and convert back.
//
//   if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) return wrap_add(x, y);
#pragma once

#include "kernels/scalar_math.h"

namespace hy::cpu {

// One definition of the wrap rule: the scalar expression language's primitives (kernels/scalar_math.h).

/// x + y, wrapping on overflow (T a signed or unsigned integer type, not bool).
template <typename T> inline T wrap_add(T x, T y) { return hy::scalar::add(x, y); }

/// x - y, wrapping on overflow.
template <typename T> inline T wrap_sub(T x, T y) { return hy::scalar::sub(x, y); }

/// x * y, wrapping on overflow.
template <typename T> inline T wrap_mul(T x, T y) { return hy::scalar::mul(x, y); }

}  // namespace hy::cpu
