// The NCCL communicator lives in its own library, libhyflow_nccl.so (distributed/nccl/, built when CMake
// finds CUDA and NCCL), loaded only when a program asks for it: a CPU-only run never needs NCCL.
//
//   CommunicatorPtr world = dist::nccl_world(dist::mpi_world());   // MPI carries NCCL's unique id
#pragma once
#include <string>

#include "distributed/communicator.h"

namespace hy::dist {

/// A communicator over NCCL with the ranks of `bootstrap` (collective over it: rank 0 makes NCCL's unique
/// id and broadcasts it through `bootstrap`). Each rank uses GPU local_rank % device_count. Throws
/// DistError naming why when CUDA is unavailable or libhyflow_nccl.so is not built or cannot load.
CommunicatorPtr nccl_world(const CommunicatorPtr& bootstrap);
/// Seconds per call of ncclAllReduce (float sum, in place on `t`) called directly `iters` times in a row on
/// the NCCL handle and stream of `comm` (an NCCL communicator), after `warmup` untimed calls, then one
/// stream synchronize: the nccl-tests measurement, which benchmarks/bench_nccl.py compares hyflow's
/// all_reduce against. None of the communicator's per-call work runs. Collective over `comm`.
double nccl_raw_all_reduce_seconds(const CommunicatorPtr& comm, const Tensor& t, int iters, int warmup);
/// Whether libhyflow_nccl.so was built with this core.
bool nccl_built();

/// The entry point libhyflow_nccl.so exports: with a null bootstrap, returns the hyflow version it was
/// built for (a probe) without touching CUDA; else sets *out and returns nullptr, or returns an error.
using NcclWorldFn = const char* (*)(Communicator* bootstrap, CommunicatorPtr* out, const char* core_version);
constexpr const char* kNcclWorldSymbol = "hyflow_nccl_world";
/// The benchmark entry point: sets *seconds and returns nullptr, or returns an error.
using NcclRawAllReduceFn = const char* (*)(Communicator* comm, const Tensor* t, int iters, int warmup,
                                           double* seconds);
constexpr const char* kNcclRawAllReduceSymbol = "hyflow_nccl_raw_all_reduce";

}  // namespace hy::dist
