// Bindings for errors, dtypes, generators, threads and build facts (CPU variants included).
#include <pybind11/stl.h>

#include "bindings/pyconvert.h"
#include "core/cpu_block_cache.h"
#include "core/error.h"
#include "core/linalg_error.h"
#include "core/parallel.h"
#include "core/thread_exit_internal.h"
#include "dispatch/cpu_variant.h"
#include "hyflow/build_config.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_lowp.h"
#include "kernels/cpu/lapack.h"

namespace py = pybind11;

namespace hy {
namespace {

/// The Python object behind hyflow.float32 & co.
struct DTypeObject {
  DType dtype;
};

std::vector<py::object>& dtype_objects() {
  static std::vector<py::object>* v = new std::vector<py::object>();
  return *v;
}

}  // namespace

py::object dtype_to_python(DType t) { return dtype_objects().at(static_cast<size_t>(t)); }

DType dtype_from_python(py::handle h) {
  if (py::isinstance<DTypeObject>(h)) return h.cast<DTypeObject&>().dtype;
  if (py::isinstance<py::str>(h)) return dtype_from_name(h.cast<std::string>());
  // NumPy dtypes and scalar types, and Python's bool/int/float (as NumPy reads them).
  py::object np_dtype;
  try {
    np_dtype = py::module_::import("numpy").attr("dtype")(h);
  } catch (py::error_already_set&) {
    throw TypeError(str("expected a dtype (hyflow.float32, 'float32', numpy.float32, ...), got ",
                        std::string(py::repr(h))));
  }
  return dtype_from_name(py::str(np_dtype.attr("name")));
}

void bind_errors(py::module_& m) {
  // hyflow.linalg.LinAlgError: a RuntimeError subclass, as torch.linalg.LinAlgError. Leaked on purpose: the
  // translator may run while the interpreter shuts down.
  static PyObject* linalg_error =
      PyErr_NewExceptionWithDoc("hyflow._C.LinAlgError", "A matrix a linear-algebra function cannot factor or "
                                "invert (singular, not positive-definite, no convergence).", PyExc_RuntimeError,
                                nullptr);
  m.attr("LinAlgError") = py::handle(linalg_error);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const LinAlgError& e) {
      PyErr_SetString(linalg_error, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const NotImplementedError& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
}

void bind_dtypes(py::module_& m) {
  py::class_<DTypeObject>(m, "dtype", "An element type (hyflow.float32, hyflow.int64, ...)")
      .def_property_readonly("itemsize", [](const DTypeObject& d) { return dtype_itemsize(d.dtype); })
      .def_property_readonly("is_floating_point", [](const DTypeObject& d) { return dtype_is_floating(d.dtype); })
      .def_property_readonly("is_complex", [](const DTypeObject& d) { return dtype_is_complex(d.dtype); })
      .def_property_readonly("name", [](const DTypeObject& d) { return dtype_name(d.dtype); })
      .def("__repr__", [](const DTypeObject& d) { return str("hyflow.", dtype_name(d.dtype)); })
      .def("__str__", [](const DTypeObject& d) { return str("hyflow.", dtype_name(d.dtype)); })
      .def("__eq__", [](const DTypeObject& d, py::handle o) {
        if (py::isinstance<DTypeObject>(o)) return d.dtype == o.cast<DTypeObject&>().dtype;
        if (py::isinstance<py::str>(o)) {
          try { return d.dtype == dtype_from_name(o.cast<std::string>()); } catch (const TypeError&) { return false; }
        }
        return false;
      })
      .def("__hash__", [](const DTypeObject& d) { return static_cast<int>(d.dtype); })
      .def(py::pickle([](const DTypeObject& d) { return std::string(dtype_name(d.dtype)); },
                      [](const std::string& s) { return DTypeObject{dtype_from_name(s)}; }));
  auto& objs = dtype_objects();
  for (int i = 0; i < kNumDTypes; ++i) {
    DType t = static_cast<DType>(i);
    objs.push_back(py::cast(DTypeObject{t}));
    m.attr(dtype_name(t)) = objs.back();
  }
  m.def("promote_types", [](DType a, DType b) { return promote_types(a, b); },
        "The dtype both a and b convert to (PyTorch/NumPy promotion lattice).");
  m.def("set_default_dtype", [](DType d) { set_default_float_dtype(d); }, py::arg("d"),
        "Make d (float16, bfloat16, float32 or float64) the dtype of float factories, Python floats and "
        "new layers' parameters, for the whole process (torch.set_default_dtype).");
  m.def("get_default_dtype", [] { return default_float_dtype(); },
        "The default floating dtype (float32 unless set_default_dtype changed it).");
  m.def("get_default_complex_dtype", [] { return default_complex_dtype(); },
        "The dtype of complex factories and Python complex numbers: complex128 under a float64 default dtype, "
        "else complex64 (core/dtype.h's rule, which type promotion uses too).");
}

void bind_runtime(py::module_& m) {
  py::class_<Generator, std::shared_ptr<Generator>>(m, "Generator",
                                                    "A reproducible random stream (counter-based Philox).")
      .def(py::init([](std::optional<int64_t> seed) {
             return seed ? std::make_shared<Generator>(static_cast<uint64_t>(*seed)) : std::make_shared<Generator>();
           }),
           py::arg("seed") = py::none())
      .def("manual_seed", [](Generator& g, int64_t s) -> Generator& { g.manual_seed(static_cast<uint64_t>(s)); return g; },
           py::arg("seed"), py::return_value_policy::reference_internal)
      .def("initial_seed", [](const Generator& g) { return g.seed(); })
      .def("get_state", [](const Generator& g) { return py::make_tuple(g.seed(), g.offset()); })
      .def("set_state", [](Generator& g, py::tuple st) {
        HY_CHECK(st.size() == 2, ValueError, "Generator.set_state expects (seed, offset)");
        g.set_state(st[0].cast<uint64_t>(), st[1].cast<uint64_t>());
      }, py::arg("state"))
      .def("__repr__", [](const Generator& g) { return str("hyflow.Generator(seed=", g.seed(), ", offset=", g.offset(), ")"); });
  // Long parallel loops give the GIL up (core/parallel.h), but only on a thread that holds it.
  set_gil_hooks([]() -> void* { return Py_IsInitialized() && PyGILState_Check() ? PyEval_SaveThread() : nullptr; },
                [](void* state) {
                  try {  // CPython ends a thread that comes back while it shuts down: park it instead
                    PyEval_RestoreThread(static_cast<PyThreadState*>(state));
                  }
                  HY_PARK_ON_THREAD_EXIT
                });
  m.def("default_generator", &default_generator);
  m.def("_set_thread_generator", &set_thread_generator, py::arg("generator").none(true),
        "Install a generator as this thread's default (None: the process-wide one); returns the previous one.");
  m.def("get_num_threads", &get_num_threads, "Threads in hyflow's pool.");
  m.def("set_num_threads", &set_num_threads, py::arg("n"), "Resize hyflow's thread pool (n >= 1).");
  // The CPU block cache (core/cpu_block_cache.h), surfaced as hy.memory.
  m.def("_cpu_cache_stats", [] {
    CpuCacheStats s = cpu_block_cache_stats();
    py::dict d;
    d["enabled"] = s.enabled;
    d["cached_bytes"] = s.cached_bytes;
    d["cached_blocks"] = s.cached_blocks;
    d["limit_bytes"] = s.limit_bytes;
    d["hits"] = s.hits;
    d["misses"] = s.misses;
    d["released_bytes"] = s.released_bytes;
    d["min_block_bytes"] = kCpuCacheThreshold;
    return d;
  });
  m.def("_cpu_cache_release", [] {
    py::gil_scoped_release nogil;  // freeing many large blocks unmaps them
    cpu_block_cache_release();
  });
  m.def("_cpu_cache_reset_counters", &cpu_block_cache_reset_counters);
  m.def("_build_config", [] {
    py::dict d;
    d["version"] = HYFLOW_VERSION;
    d["compiler"] = HYFLOW_CXX_COMPILER;
    d["arch_flags"] = HYFLOW_ARCH_FLAGS;
    d["build_type"] = HYFLOW_BUILD_TYPE;
    d["blas"] = HYFLOW_BLAS_LIBRARIES;
    d["lapack"] = hy::cpu::lapack_available();
    d["mpi_toolkit"] = HYFLOW_MPI_TOOLKIT;
    d["mpi_version"] = HYFLOW_MPI_VERSION;
    d["mpi"] = HYFLOW_MPI_BACKEND;
    d["cuda_toolkit"] = HYFLOW_CUDA_TOOLKIT;
    d["cuda_version"] = HYFLOW_CUDA_VERSION;
    d["nccl_toolkit"] = HYFLOW_NCCL_TOOLKIT;
    d["cpu_baseline"] = HYFLOW_CPU_BASELINE;
    d["cpu_variants"] = cpu_variants_compiled();
    d["gemm_f32_library"] = hy::cpu::gemm_f32_library();
    d["lowp_gemm_library"] = hy::cpu::gemm_lowp_library();
    d["lowp_gemm_isa"] = hy::cpu::gemm_lowp_isa();
    d["lowp_gemm_kernel"] = hy::cpu::gemm_lowp_kernel();
    d["cpu_lowp_features"] = hy::cpu::cpu_lowp_features();
    return d;
  });
  m.def("_cpu_capability", [] { return cpu_capability(); },
        "The CPU kernel variant in use: 'default' (the baseline build), 'avx2' or 'avx512'.");
}

}  // namespace hy
