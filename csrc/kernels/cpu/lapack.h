// Whether this process has LAPACK for the matrix decompositions (hy.build_info()["lapack"]).
#pragma once

namespace hy::cpu {

/// True when every LAPACK routine the decompositions call resolved (kernels/cpu/lapack_internal.h).
bool lapack_available();

}  // namespace hy::cpu
