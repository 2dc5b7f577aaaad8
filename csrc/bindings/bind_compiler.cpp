// The compiler layer from Python: capture sessions (csrc/compiler/capture_session.h) whose recorded op
// calls python/hyflow/compiler/ turns into a graph.
#include "bindings/pyconvert.h"
#include "compiler/capture_session.h"
#include "core/error.h"

namespace py = pybind11;

namespace hy {
namespace {

py::object value_to_python(const Value& v) {
  return std::visit([](const auto& x) -> py::object {
    using T = std::decay_t<decltype(x)>;
    if constexpr (std::is_same_v<T, std::monostate>) return py::none();
    else if constexpr (std::is_same_v<T, DType>) return dtype_to_python(x);
    else if constexpr (std::is_same_v<T, std::shared_ptr<Generator>>) return x ? py::cast(x) : py::none();
    else if constexpr (std::is_same_v<T, DimVector>) {
      py::tuple t(x.size());
      for (size_t i = 0; i < x.size(); ++i) t[i] = py::int_(x[i]);
      return std::move(t);
    } else return py::cast(x);
  }, v);
}

py::list values_to_python(const ValueList& vs) {
  py::list out;
  for (const Value& v : vs) out.append(value_to_python(v));
  return out;
}

}  // namespace

void bind_compiler(py::module_& m) {
  py::module_ c = m.def_submodule("_compiler", "Capture sessions for hyflow.compiler (private).");
  py::class_<compiler::CaptureSession>(c, "CaptureSession",
                                       "Records this thread's outermost op calls between begin() and end().")
      .def(py::init<>())
      .def("begin", &compiler::CaptureSession::begin)
      .def("end", &compiler::CaptureSession::end)
      .def_property_readonly("active", &compiler::CaptureSession::active)
      .def_property_readonly("break_reason", [](const compiler::CaptureSession& s) -> py::object {
        if (s.break_reason().empty()) return py::none();
        return py::str(s.break_reason());
      })
      .def("calls", [](const compiler::CaptureSession& s) {
        // (op name, args in schema order, results, grad mode): converted in one pass so a tensor that
        // appears several times becomes one Python object (pybind11 maps a live TensorImpl to its wrapper).
        py::list out;
        for (const compiler::CapturedCall& call : s.calls())
          out.append(py::make_tuple(call.op->name, values_to_python(call.args), values_to_python(call.results),
                                    call.grad_enabled));
        return out;
      }, "The recorded calls: a list of (op name, args, results, grad_enabled).");
  c.def("is_wrapped_number", [](const Tensor& t) { return t.impl()->is_wrapped_number(); }, py::arg("tensor"),
        "Whether the tensor is a Python number wrapped for an op call (weak in type promotion).");
  c.def("_break_graph", [](const std::string& what) { capture::note_graph_break(what.c_str()); }, py::arg("what"),
        "Report a graph break to the capture active on this thread (for Python-level reads of tensor data).");
}

}  // namespace hy
