// Bindings for csrc/distributed: hyflow._C._dist, wrapped by python/hyflow/distributed. Every
// communicating call releases the GIL, so other Python threads run while a rank waits for its peers.
#include "bindings/pyconvert.h"
#include "distributed/communicator.h"
#include "distributed/nccl_loader.h"
#ifdef HYFLOW_WITH_MPI
#include "distributed/mpi/mpi_communicator.h"
#endif

namespace py = pybind11;

namespace hy {
namespace {

dist::WorkPtr finish(dist::WorkPtr w, bool async_op) {
  if (async_op) return w;
  w->wait();
  return nullptr;  // None
}

}  // namespace

void bind_distributed(py::module_& m) {
  using namespace hy::dist;
  py::module_ d = m.def_submodule("_dist", "Communicators (private: use hyflow.distributed)");

  // Python classes for the two error types; DistTimeoutError derives from DistError, a RuntimeError.
  static PyObject* dist_error = PyErr_NewException("hyflow.distributed.DistError", PyExc_RuntimeError, nullptr);
  static PyObject* timeout_error = PyErr_NewException("hyflow.distributed.DistTimeoutError", dist_error, nullptr);
  d.attr("DistError") = py::handle(dist_error);
  d.attr("DistTimeoutError") = py::handle(timeout_error);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const DistInterrupted& e) {
      // The interrupt check left Python's exception (KeyboardInterrupt, ...) set: raise that one.
      if (!PyErr_Occurred()) PyErr_SetString(dist_error, e.what());
    } catch (const DistTimeoutError& e) {
      PyErr_SetString(timeout_error, e.what());
    } catch (const DistError& e) {
      PyErr_SetString(dist_error, e.what());
    }
  });

  py::enum_<ReduceOp>(d, "ReduceOp", "The elementwise reduction of a collective")
      .value("SUM", ReduceOp::ReduceOp_Sum)
      .value("PROD", ReduceOp::ReduceOp_Prod)
      .value("MIN", ReduceOp::ReduceOp_Min)
      .value("MAX", ReduceOp::ReduceOp_Max)
      .value("AVG", ReduceOp::ReduceOp_Avg);

  using release = py::call_guard<py::gil_scoped_release>;
  py::class_<Work, WorkPtr>(d, "Work", "Handle to an operation posted with async_op=True")
      .def("wait", [](Work& w) { w.wait(); return true; }, release(),
           "Block until the operation finished (DistTimeoutError after the group's timeout).")
      .def("is_completed", &Work::is_completed, release(), "True once finished; never blocks.")
      .def_property_readonly("source", &Work::source, "For recv: the sender's rank (-1 before completion).");

  py::class_<Communicator, CommunicatorPtr>(d, "Communicator", "A group of processes (see hyflow.distributed)")
      .def_property_readonly("rank", &Communicator::rank)
      .def_property_readonly("size", &Communicator::size)
      .def_property_readonly("backend", &Communicator::backend)
      .def_property_readonly("device", &Communicator::device,
                             "Where the tensors of its collectives live: 'cpu', or 'cuda:N' for NCCL.")
      .def_property("timeout", &Communicator::timeout, &Communicator::set_timeout)
      .def_property("check_args", &Communicator::check_args, &Communicator::set_check_args)
      // Each collective takes async_op: false waits here, in C++, and returns None (one call from
      // Python instead of two keeps small-message latency low); true returns the Work.
      .def("all_reduce", [](Communicator& c, const Tensor& t, ReduceOp op, bool async_op) {
        return finish(c.all_reduce(t, op), async_op);
      }, release())
      .def("broadcast", [](Communicator& c, const Tensor& t, int root, bool async_op) {
        return finish(c.broadcast(t, root), async_op);
      }, release())
      .def("reduce", [](Communicator& c, const Tensor& t, int root, ReduceOp op, bool async_op) {
        return finish(c.reduce(t, root, op), async_op);
      }, release())
      .def("all_gather", [](Communicator& c, const std::vector<Tensor>& outs, const Tensor& in, bool async_op) {
        return finish(c.all_gather(outs, in), async_op);
      }, release())
      .def("all_gather_into_tensor", [](Communicator& c, const Tensor& out, const Tensor& in, bool async_op) {
        return finish(c.all_gather_into_tensor(out, in), async_op);
      }, release())
      .def("gather", [](Communicator& c, const std::vector<Tensor>& outs, const Tensor& in, int root, bool async_op) {
        return finish(c.gather(outs, in, root), async_op);
      }, release())
      .def("scatter", [](Communicator& c, const Tensor& out, const std::vector<Tensor>& ins, int root, bool async_op) {
        return finish(c.scatter(out, ins, root), async_op);
      }, release())
      .def("reduce_scatter", [](Communicator& c, const Tensor& out, const std::vector<Tensor>& ins, ReduceOp op,
                                bool async_op) { return finish(c.reduce_scatter(out, ins, op), async_op); }, release())
      .def("reduce_scatter_tensor", [](Communicator& c, const Tensor& out, const Tensor& in, ReduceOp op,
                                       bool async_op) { return finish(c.reduce_scatter_tensor(out, in, op), async_op); },
           release())
      .def("all_to_all", [](Communicator& c, const std::vector<Tensor>& outs, const std::vector<Tensor>& ins,
                            bool async_op) { return finish(c.all_to_all(outs, ins), async_op); }, release())
      .def("all_to_all_single", [](Communicator& c, const Tensor& out, const Tensor& in, bool async_op) {
        return finish(c.all_to_all_single(out, in), async_op);
      }, release())
      .def("send", &Communicator::send, release())
      .def("recv", &Communicator::recv, release())
      .def("barrier", [](Communicator& c, bool async_op) { return finish(c.barrier(), async_op); }, release())
      .def("split", &Communicator::split, release())
      .def("reject", &Communicator::reject, py::arg("op"), release(),
           "Join op's cross-rank argument check as a rank whose arguments are invalid (then raise).");

  // Waits run without the GIL; every ~50 ms they take it briefly to run Python's signal handlers.
  set_interrupt_check([]() -> bool {
    if (!Py_IsInitialized()) return false;
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  });

  d.def("local_world", &local_world, "The world of this process alone (no MPI).");
  d.def("nccl_world", &nccl_world, py::arg("bootstrap"), release(),
        "A communicator over NCCL with the ranks of `bootstrap`, which carries NCCL's unique id.");
  d.attr("has_nccl") = nccl_built();
  d.def("nccl_raw_all_reduce", &nccl_raw_all_reduce_seconds, py::arg("comm"), py::arg("tensor"), py::arg("iters"),
        py::arg("warmup"), release(),
        "Seconds per ncclAllReduce called directly on comm's NCCL handle and stream (benchmarks only).");
#ifdef HYFLOW_WITH_MPI
  d.attr("has_mpi") = true;
  d.def("mpi_init", &mpi_init, release());
  d.def("mpi_is_active", &mpi_is_active);
  d.def("mpi_finalize", &mpi_finalize, py::arg("timeout"), py::arg("linger"), release());
  d.def("mpi_mark_failed", &mpi_mark_failed);
  d.def("mpi_any_broken", &mpi_any_broken);
  d.def("mpi_world", &mpi_world, release());
  d.def("mpi_adopt", &mpi_adopt, py::arg("handle"), release());
  d.def("mpi_dup_handle", &mpi_dup_handle, release());
  d.def("mpi_library_version", &mpi_library_version);
#else
  d.attr("has_mpi") = false;
#endif
}

}  // namespace hy
