#include "dispatch/complex_guard.h"

#include "core/error.h"

namespace hy::ops {

void reject_complex_dtype(const char* op, const char* arg, DType dtype) {
  // One message for every op: users meet it when they feed an FFT result to a real-only op.
  throw TypeError(str(op, "(): argument '", arg, "' is ", dtype_name(dtype), ", and ", op,
                      " does not support complex dtypes (complex tensors work with the ops listed in "
                      "docs/tensors.md, 'Complex tensors'; take .real, .imag or .abs() first)"));
}

}  // namespace hy::ops
