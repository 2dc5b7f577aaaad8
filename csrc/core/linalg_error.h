// LinAlgError: a matrix a decomposition or solver cannot handle (singular, not positive-definite, no
// convergence). A RuntimeError, so `except RuntimeError` catches it; the bindings raise it as
// hyflow.linalg.LinAlgError, a RuntimeError subclass (torch.linalg.LinAlgError's place).
//
//   throw LinAlgError("linalg.inv: The diagonal element 2 is zero, ...");
#pragma once
#include "core/error.h"

namespace hy {

/// A matrix the linear-algebra kernels cannot factor or invert (maps to hyflow.linalg.LinAlgError).
struct LinAlgError : RuntimeError { using RuntimeError::RuntimeError; };

}  // namespace hy
