// The one place where every op and kernel is registered, in order: first the op table (definitions),
// then the kernels of each device this build has. Nothing registers itself through static constructors.
#include "dispatch/registry.h"
#include "hyflow/ops/ops_generated.h"

namespace hy {

void register_all(Registry& r) {
  register_op_table(r);      // definitions + device-independent (view) kernels
  register_kernels_cpu(r);   // csrc/kernels/cpu/*
  // register_kernels_cuda(r) joins here when the CUDA backend is built.
}

}  // namespace hy
