// The mixed-precision layer from Python (`hyflow._C._amp`): autocast regions of the calling thread.
// python/hyflow/amp/ builds `hy.autocast` on these.
#include "bindings/pyconvert.h"
#include "amp/autocast.h"
#include "dispatch/autocast_state.h"

namespace py = pybind11;

namespace hy {

void bind_amp(py::module_& m) {
  py::module_ amp = m.def_submodule("_amp", "autocast regions (private: use hy.autocast)");
  amp.def("push_region", [](bool enabled, py::handle dtype, bool cache_enabled) {
    autocast::push_region(enabled, dtype_from_python(dtype), cache_enabled);
  }, py::arg("enabled"), py::arg("dtype"), py::arg("cache_enabled"),
     "Open an autocast region on this thread (hy.autocast.__enter__).");
  amp.def("pop_region", &autocast::pop_region, "Close the innermost autocast region on this thread.");
  amp.def("region_depth", &autocast::region_depth, "Number of autocast regions open on this thread.");
  amp.def("is_enabled", [] { return autocast::state().enabled; },
          "Whether the innermost autocast region on this thread is enabled.");
  amp.def("dtype", [] { return dtype_to_python(autocast::state().dtype); },
          "The lower-precision dtype of the innermost autocast region (bfloat16 outside any).");
  amp.def("is_active", [] { return autocast::active(); },
          "Whether ops called now apply their autocast policy (an enabled region, not suspended).");
  amp.def("cast_lower", [](const Tensor& t) { return amp::AutocastCall(amp::Policy::Lower, std::nullopt).cast(t); },
          py::arg("tensor"),
          "The `lower` policy's cast of one tensor (the region's dtype; cached for weights), for composite "
          "layers written in Python (linear, conv2d) that torch's autocast lists as lower precision.");
  amp.def("is_cache_enabled", [] { return autocast::state().cache_enabled; });
  amp.def("cache_size", [] { return autocast::cast_cache().size(); },
          "Number of cached weight casts on this thread (tests).");
  amp.def("clear_cache", [] { autocast::cast_cache().clear(); }, "Drop this thread's cached weight casts.");
}

}  // namespace hy
