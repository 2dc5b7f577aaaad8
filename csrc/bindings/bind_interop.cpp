// Zero-copy interop with NumPy: from_numpy() adopts an array's memory, .numpy() exposes a tensor's.
// (DLPack and the buffer protocol live beside these, in bind_dlpack.cpp.)
#include <pybind11/numpy.h>

#include "autograd/autograd_meta.h"
#include "bindings/pyconvert.h"
#include "core/error.h"
#include "dispatch/capture_hook.h"
#include "core/shape_util.h"
#include "interop/bool_bytes.h"

namespace py = pybind11;

namespace hy {

/// Keeps a Python object alive until the last tensor view of its memory is gone; safe to release from
/// any thread (takes the GIL) and after interpreter shutdown (then leaks instead of crashing).
std::shared_ptr<void> python_owner(py::object obj) {
  PyObject* raw = obj.release().ptr();
  return std::shared_ptr<void>(raw, [](void* p) {
    if (!Py_IsInitialized()) return;
    py::gil_scoped_acquire gil;
    Py_DECREF(static_cast<PyObject*>(p));
  });
}

DType dtype_from_numpy(const py::dtype& dt) {
  HY_CHECK(dt.byteorder() != '>', TypeError, "arrays with non-native byte order are not supported; use "
           "a.astype(a.dtype.newbyteorder('='))");
  char kind = dt.kind();
  int64_t size = dt.itemsize();
  if (kind == 'b') return DType::Bool;
  if (kind == 'i' && size == 4) return DType::Int32;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'f' && size == 2) return DType::Float16;
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  if (kind == 'c' && size == 8) return DType::Complex64;
  if (kind == 'c' && size == 16) return DType::Complex128;
  throw TypeError(str("NumPy dtype ", std::string(py::str(dt)), " is not supported (hyflow supports bool, int32, "
                      "int64, float16, float32, float64, complex64, complex128; bfloat16 has no NumPy dtype)"));
}

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Bool: return py::dtype("bool");
    case DType::Int32: return py::dtype("int32");
    case DType::Int64: return py::dtype("int64");
    case DType::Float16: return py::dtype("float16");
    case DType::Float32: return py::dtype("float32");
    case DType::Float64: return py::dtype("float64");
    case DType::Complex64: return py::dtype("complex64");
    case DType::Complex128: return py::dtype("complex128");
    case DType::BFloat16: break;
  }
  throw TypeError("bfloat16 tensors have no NumPy equivalent; convert first with .to(hyflow.float32)");
}

Tensor from_numpy(py::handle obj) {
  HY_CHECK(py::isinstance<py::array>(obj), TypeError, "from_numpy expects a numpy.ndarray, got ",
           std::string(py::str(py::type::of(obj).attr("__name__"))));
  auto a = py::reinterpret_borrow<py::array>(obj);
  DType dt = dtype_from_numpy(a.dtype());
  HY_CHECK(a.writeable(), ValueError, "from_numpy: the array is not writable, so a tensor sharing its memory "
           "could not be written; pass a.copy() or use hyflow.tensor(a) to copy");
  int64_t item = dtype_itemsize(dt);
  Shape shape;
  Strides strides;
  int64_t extent = 0;
  bool empty = false;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    int64_t n = a.shape(i), s = a.strides(i);
    HY_CHECK(s >= 0, ValueError, "from_numpy: arrays with negative strides are not supported; pass a.copy()");
    HY_CHECK(s % item == 0, ValueError, "from_numpy: stride ", s, " is not a multiple of the item size ", item);
    shape.push_back(n);
    strides.push_back(s / item);
    if (n == 0) empty = true;
    else extent += (n - 1) * s;
  }
  int64_t nbytes = empty ? 0 : extent + item;
  if (dt == DType::Bool) check_bool_bytes(static_cast<const uint8_t*>(a.data()), shape, strides, "from_numpy");
  auto storage = std::make_shared<StorageImpl>(a.mutable_data(), nbytes, kCPU,
                                               python_owner(py::reinterpret_borrow<py::object>(obj)));
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), shape, strides, 0, dt));
}

// Memory handed to NumPy/DLPack/memoryview can be written without bumping the version counter, so a
// write there before backward() would silently corrupt a gradient. As in PyTorch, tensors that require
// grad are not exported; the user detaches first (and thereby says the writes are outside autograd).
void check_exportable(const TensorImpl& t, const char* what, const char* instead) {
  const auto* meta = static_cast<const autograd::AutogradMeta*>(t.autograd_meta());
  HY_CHECK(!(meta && meta->requires_grad), RuntimeError, "Can't call ", what, " on Tensor that requires grad. Use ",
           instead, " instead.");
}

py::array to_numpy(const Tensor& t, py::handle self) {
  HY_CHECK(t.device().is_cpu(), TypeError, "numpy() needs a CPU tensor; this one is on ", device_str(t.device()));
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  std::vector<py::ssize_t> strides;
  for (int64_t s : t.strides()) strides.push_back(s * t.itemsize());
  py::array out(numpy_dtype(t.dtype()), shape, strides, t.raw_data(), self);  // `self` keeps the memory alive
  if (!t.storage()->writable()) {
    py::detail::array_proxy(out.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  }
  return out;
}

void bind_dlpack(py::module_& m, py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls);

void bind_interop(py::module_& m, py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls) {
  m.def("from_numpy", &from_numpy, py::arg("array"),
        "A tensor sharing the memory of a NumPy array (writes show on both sides).");
  cls.def("numpy", [](py::handle self, bool force) {
    capture::note_graph_break("a tensor's value read in Python (numpy())");
    Tensor t = self.cast<Tensor>();
    HY_CHECK(t.device().is_cpu(), TypeError, "numpy(): can't convert a ", device_str(t.device()),
             " tensor to NumPy; copy it to the host first with .cpu()");
    if (force && autograd::requires_grad(t)) {  // numpy(force=True) == detach().numpy(), as in PyTorch
      Tensor detached = autograd::detach(t);
      return to_numpy(detached, py::cast(detached));
    }
    check_exportable(*t.impl(), "numpy()", "tensor.detach().numpy()");
    return to_numpy(t, self);
  }, py::arg("force") = false,
     "A NumPy array sharing this tensor's memory. Refuses tensors that require grad (writes through the "
     "array would bypass autograd); force=True detaches first.");
  bind_dlpack(m, cls);
}

}  // namespace hy
