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
/// Leave the job at exit (mpi_exit.cpp), when hyflow initialized MPI: MPI_Finalize when no rank failed
/// and every rank reached the exit barrier within timeout_s; otherwise tell the other ranks that this one
/// departed and deregister from the launcher, so that this exit does not make mpirun kill ranks that are
/// still saving. `linger`: a rank exiting through an uncaught exception (see mpi_mark_failed) first waits,
/// up to timeout_s, until every other rank has departed, since its non-zero exit status makes the launcher
/// kill the job. Returns whether MPI was finalized.
bool mpi_finalize(double timeout_s, bool linger);
/// Note that this process is exiting through an uncaught exception (set by the Python excepthook).
void mpi_mark_failed();
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
