// The one place where every op and kernel is registered, in order: first the op table (definitions),
// then the kernels of each device this build has. Nothing registers itself through static constructors.
#include "dispatch/cpu_variant.h"
#include "dispatch/cuda_backend_loader.h"
#include "dispatch/registry.h"
#include "hyflow/ops/ops_common.h"

namespace hy {

void register_all(Registry& r) {
  // Chosen (and its library loaded) first: a bad HYFLOW_CPU_CAPABILITY or a missing library fails the
  // import before anything is registered, so a retried import starts from an empty registry.
  const CpuVariant cpu_variant = select_cpu_variant();
  register_op_table(r);      // definitions + device-independent (view) kernels
  register_kernels_cpu(r);   // csrc/kernels/cpu/*, compiled for the build's baseline CPU
  register_cpu_variant(r, cpu_variant);  // the hot ones again, for the best ISA this CPU has
  // libhyflow_cuda.so, when built and a driver is present: its register_kernels_cuda (generated,
  // kernels_cuda_generated.cpp) fills the CUDA slots. A failure only leaves CUDA unavailable.
  load_cuda_backend(r);
}

}  // namespace hy
