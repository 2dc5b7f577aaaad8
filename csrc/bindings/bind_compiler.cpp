// The compiler layer from Python: capture sessions (csrc/compiler/capture_session.h) whose recorded op
// calls python/hyflow/compiler/ turns into a graph, and the launcher of generated kernels
// (csrc/compiler/kernel_launch.h).
#include <pybind11/stl.h>

#include "autograd/engine.h"
#include "bindings/pyconvert.h"
#include "compiler/capture_session.h"
#include "compiler/gemm_epilogue.h"
#include "compiler/kernel_launch.h"
#include "core/error.h"
#include "core/type_promotion.h"

namespace py = pybind11;

namespace hy {
void bind_compiler_guards(py::module_& c);  // bind_compiler_guards.cpp

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

// "file:line" of the innermost Python frame whose file does not start with `skip` (the hyflow package: a
// user wants the line of their model that led to the op, not the line of F.linear); the innermost frame
// if every frame is hyflow's, "" without a Python frame (an op called from a C++ thread).
std::string python_call_site(const std::string& skip) {
  py::gil_scoped_acquire gil;
  PyFrameObject* frame = PyEval_GetFrame();  // borrowed
  if (frame == nullptr) return {};
  Py_INCREF(frame);
  std::string innermost, found;
  while (frame != nullptr && found.empty()) {
    PyCodeObject* code = PyFrame_GetCode(frame);  // new reference
    std::string file = py::str(code->co_filename);
    Py_DECREF(code);
    std::string site = file + ":" + std::to_string(PyFrame_GetLineNumber(frame));
    if (innermost.empty()) innermost = site;
    if (skip.empty() || file.compare(0, skip.size(), skip) != 0) found = site;
    PyFrameObject* back = PyFrame_GetBack(frame);  // new reference or null
    Py_DECREF(frame);
    frame = back;
  }
  Py_XDECREF(frame);
  return found.empty() ? innermost : found;
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
      .def("set_keep_going", &compiler::CaptureSession::set_keep_going, py::arg("keep_going"),
           "Keep recording after a graph break and keep each break in breaks() (for the ONNX exporter).")
      .def("set_record_sites", [](compiler::CaptureSession& s, std::optional<std::string> skip_prefix) {
        if (!skip_prefix) { s.set_site_recorder(nullptr); return; }
        s.set_site_recorder([skip = *skip_prefix] { return python_call_site(skip); });
      }, py::arg("skip_prefix"),
         "Record the Python call site of each call and break: the innermost frame whose file does not start "
         "with skip_prefix. None turns it off.")
      .def("sites", [](const compiler::CaptureSession& s) {
        py::list out;
        for (const compiler::CapturedCall& call : s.calls()) out.append(call.site);
        return out;
      }, "The call site of each recorded call (\"\" unless set_record_sites was called).")
      .def("breaks", [](const compiler::CaptureSession& s) {
        py::list out;
        for (const compiler::CapturedBreak& b : s.breaks()) out.append(py::make_tuple(b.what, b.site));
        return out;
      }, "The graph breaks seen with keep-going on: a list of (what, site).")
      .def("size_reads", [](const compiler::CaptureSession& s) { return s.size_reads(); },
           "Addresses (tensor_address) of the tensors whose sizes or strides Python read, in order.")
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
  bind_compiler_guards(c);
  c.def("tensor_address", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.impl()); }, py::arg("tensor"),
        "The tensor's identity as CaptureSession.size_reads() reports it.");
  c.def("is_wrapped_number", [](const Tensor& t) { return t.impl()->is_wrapped_number(); }, py::arg("tensor"),
        "Whether the tensor is a Python number wrapped for an op call (weak in type promotion).");
  c.def("wrapped_number", [](double v) { return wrapped_number_tensor(Scalar(v)); }, py::arg("value"),
        "A float wrapped as an op call wraps a Python number (the compiler's expansions use it as a literal).");
  // The compiled replay's output allocation (replay.py): the traced sizes of a kernel's output, always
  // valid, so this skips the generated op's argument parsing and dispatch (about 3x cheaper per call).
  c.def("empty", [](const std::vector<int64_t>& shape, DType dtype) {
    for (int64_t n : shape) HY_CHECK(n >= 0, ValueError, "empty(): negative size ", n, " in the shape");
    return Tensor::empty(Shape(shape.begin(), shape.end()), dtype);
  }, py::arg("shape"), py::arg("dtype"), "An uninitialized dense CPU tensor (the replay's output allocation).");
  c.def("_break_graph", [](const std::string& what) { capture::note_graph_break(what.c_str()); }, py::arg("what"),
        "Report a graph break to the capture active on this thread (for Python-level reads of tensor data).");
  c.def("result_type", [](const std::vector<Tensor>& tensors) {
    HY_CHECK(!tensors.empty(), ValueError, "result_type: tensors must not be empty");
    for (size_t i = 0; i < tensors.size(); ++i)
      HY_CHECK(tensors[i].defined(), ValueError, "result_type: tensors[", i, "] is undefined");
    return result_type(tensors);
  }, py::arg("tensors"), "The dtype eager kernels promote these operands to (wrapped numbers are weak).");

  // The compiled backward (python/hyflow/compiler/backward_trace.py) traces the eager backward of a forward
  // graph: the engine runs on this thread, so its formulas' op calls reach the capture session like any
  // other. hy.autograd.grad reports a graph break (autograd inside user code cannot be replayed); this
  // entry point is the compiler's own and does not.
  c.def("trace_grad", [](const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs) {
    HY_CHECK(outputs.size() == grad_outputs.size(), ValueError, "trace_grad: grad_outputs has ",
             grad_outputs.size(), " entries but there are ", outputs.size(), " outputs");
    for (size_t i = 0; i < outputs.size(); ++i)
      HY_CHECK(outputs[i].defined() && grad_outputs[i].defined(), ValueError, "trace_grad: outputs[", i,
               "] and grad_outputs[", i, "] must be tensors");
    for (size_t i = 0; i < inputs.size(); ++i)
      HY_CHECK(inputs[i].defined(), ValueError, "trace_grad: inputs[", i, "] is undefined");
    using autograd::TensorList;
    TensorList r = autograd::grad(TensorList(outputs.begin(), outputs.end()), TensorList(inputs.begin(), inputs.end()),
                                  TensorList(grad_outputs.begin(), grad_outputs.end()), /*retain_graph=*/false,
                                  /*create_graph=*/false, /*allow_unused=*/true);
    py::list out;
    for (auto& t : r) out.append(t.defined() ? py::cast(t) : py::none());
    return out;
  }, py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs"),
        "Gradients of outputs w.r.t. inputs (None where unused), without reporting a graph break.");

  py::class_<compiler::FusedKernel>(c, "FusedKernel",
                                    "A loaded generated kernel and the operand layout it was generated for.")
      .def(py::init([](uintptr_t address, int64_t numel, const std::vector<DType>& dtypes,
                       const std::vector<std::vector<int64_t>>& sizes,
                       const std::vector<std::vector<int64_t>>& strides, const std::vector<int64_t>& meta,
                       int64_t grain) {
             return compiler::FusedKernel(address, numel, dtypes, sizes, strides, meta, grain);
           }),
           py::arg("address"), py::arg("numel"), py::arg("dtypes"), py::arg("sizes"), py::arg("strides"),
           py::arg("meta"), py::arg("grain"))
      .def("run", [](const compiler::FusedKernel& k, const std::vector<Tensor>& operands) {
        k.check(operands, {});  // with the GIL: errors are raised before any thread starts
        py::gil_scoped_release release;
        k.run(operands, {});
      }, py::arg("operands"), "Check the operands (inputs, then outputs) and run the kernel with the GIL released.")
      .def("set_runtime_sizes", &compiler::FusedKernel::set_runtime_sizes, py::arg("size_slots"),
           py::arg("stride_slots"), py::arg("numel_slot"), py::arg("grain_slot"),
           "Symbolic sizes: per operand dim the meta slot holding its size / stride (-1: the constant given "
           "at construction), and the slots of the work-item count and the grain (-1: constant).")
      .def("run_with_meta", [](const compiler::FusedKernel& k, const std::vector<Tensor>& operands,
                               const std::vector<int64_t>& meta) {
        k.check(operands, meta);
        py::gil_scoped_release release;
        k.run(operands, meta);
      }, py::arg("operands"), py::arg("meta"),
         "run() for a kernel with symbolic sizes: meta holds this call's sizes, strides, work items and grain.")
      .def_property_readonly("numel", &compiler::FusedKernel::numel)
      .def_property_readonly("grain", &compiler::FusedKernel::grain)
      .def_property_readonly("num_operands", &compiler::FusedKernel::num_operands);

  py::class_<compiler::GemmEpilogue>(c, "GemmEpilogue",
                                     "A GEMM (eager's mm/matmul/addmm) and its generated elementwise epilogue in "
                                     "one call.")
      .def(py::init([](const std::string& op, const Scalar& beta, const Scalar& alpha,
                       const compiler::FusedKernel& epilogue, int64_t slot) {
             return compiler::GemmEpilogue(op, beta, alpha, epilogue, slot);
           }),
           py::arg("op"), py::arg("beta"), py::arg("alpha"), py::arg("epilogue"), py::arg("slot"))
      .def("run", [](const compiler::GemmEpilogue& g, const std::vector<Tensor>& gemm_args,
                     const std::vector<Tensor>& operands, const std::vector<int64_t>& meta) {
        g.check_counts(gemm_args, operands);
        py::gil_scoped_release release;
        return g.run(gemm_args, operands, meta);
      }, py::arg("gemm_args"), py::arg("operands"), py::arg("meta") = std::vector<int64_t>{},
         "Run the GEMM on gemm_args, its epilogue over the product inserted at slot among operands (inputs, then "
         "outputs); returns the product. meta: this call's run-time sizes for an epilogue with symbolic sizes.");
}

}  // namespace hy
