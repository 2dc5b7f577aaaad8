// The MPI backend of Communicator, over the system MPI found by CMake (HYFLOW_MPI). mpi.h stays out
// of this header: communicators are handed around as Communicator and MPI handles as integers, the
// way mpi4py spells them.
//
//   dist::mpi_init();                              // MPI_Init_thread unless already initialized
//   CommunicatorPtr world = dist::mpi_world();     // a private duplicate of MPI_COMM_WORLD
//   CommunicatorPtr c = dist::mpi_adopt(handle);   // a private duplicate of an mpi4py communicator
#pragma once
#include <cstdint>
#include <string>

#include "distributed/communicator.h"

namespace hy::dist {

/// Initialize MPI (thread level MULTIPLE when offered) unless it is initialized already. Throws
/// DistError when MPI_Init fails.
void mpi_init();
/// MPI_Initialized && !MPI_Finalized.
bool mpi_is_active();
/// MPI_Finalize when hyflow initialized MPI, it is still active, no communicator broke, and every rank
/// reached a barrier within timeout_s (a dead peer would make MPI_Finalize hang). Returns whether it
/// finalized.
bool mpi_finalize(double timeout_s);
/// True once any MPI communicator timed out or failed: MPI state is then unusable.
bool mpi_any_broken();
/// A communicator over a duplicate of MPI_COMM_WORLD (collective over the world).
CommunicatorPtr mpi_world();
/// A communicator over a duplicate of the MPI_Comm whose C handle is `handle` (collective over it).
CommunicatorPtr mpi_adopt(intptr_t handle);
/// A new duplicate of c's MPI_Comm, as a C handle the caller owns (collective over c).
intptr_t mpi_dup_handle(const CommunicatorPtr& c);
/// MPI_Get_library_version().
std::string mpi_library_version();

}  // namespace hy::dist
