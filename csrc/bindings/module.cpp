// hyflow._C: the private native module. Each area binds itself from its own bind_<area>.cpp.
#include <mutex>

#include "bindings/pyconvert.h"
#include "bindings/size_type_internal.h"
#include "dispatch/registry.h"

namespace py = pybind11;

namespace hy {
void bind_errors(py::module_& m);
void bind_dtypes(py::module_& m);
py::class_<TensorImpl, std::shared_ptr<TensorImpl>> bind_tensor_class(py::module_& m);
void bind_tensor_methods(py::module_& m, py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls);
void bind_ops_generated(py::module_& ops, py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls);
void bind_dispatch(py::module_& m, py::module_& ops);
void bind_interop(py::module_& m, py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls);
void bind_indexing(py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls);
void bind_runtime(py::module_& m);
void bind_autograd(py::module_& m, py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls);
void bind_distributed(py::module_& m);
void bind_workflow(py::module_& m);
void bind_compiler(py::module_& m);
void bind_amp(py::module_& m);
void bind_cuda(py::module_& m);
void finish_bindings(py::module_& m);
}  // namespace hy

PYBIND11_MODULE(_C, m) {
  m.doc() = "hyflow native core (private: import hyflow instead)";
  static std::once_flag once;
  std::call_once(once, [] { hy::register_all(hy::Registry::global()); });
  hy::bind_errors(m);
  hy::bind_dtypes(m);
  hy::bind_size_type(m);
  auto cls = hy::bind_tensor_class(m);
  py::module_ ops = m.def_submodule("ops", "Every op of the op table, by name");
  hy::bind_ops_generated(ops, cls);
  hy::bind_tensor_methods(m, cls);
  hy::bind_dispatch(m, ops);
  hy::bind_interop(m, cls);
  hy::bind_indexing(cls);
  hy::bind_runtime(m);
  hy::bind_autograd(m, cls);
  hy::bind_distributed(m);
  hy::bind_workflow(m);
  hy::bind_compiler(m);
  hy::bind_amp(m);
  hy::bind_cuda(m);
  // Last: a wrong keyword or argument type names itself (not pybind11's "incompatible function arguments"),
  // as for the generated op bindings, and inspect.signature works, for every hand-written function and
  // method bound above (bind_finish.cpp). Defining an overload after this would rewrite the docstrings.
  hy::finish_bindings(m);
}
