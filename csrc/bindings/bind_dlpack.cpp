// DLPack (__dlpack__, __dlpack_device__, from_dlpack) and the buffer protocol: filled in by the interop work.
#include "bindings/pyconvert.h"

namespace py = pybind11;

namespace hy {
void bind_dlpack(py::module_& m, py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls) {}
}  // namespace hy
