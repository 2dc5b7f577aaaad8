// Zero-copy exchange with other array libraries: the DLPack capsule protocol (Tensor.__dlpack__,
// __dlpack_device__, hyflow.from_dlpack), the Python buffer protocol (memoryview(t)), and __array__
// with NumPy 2 semantics. The struct-level conversions are in interop/dlpack.cpp.
//
// Capsule rules (Python array API): a producer returns a capsule named "dltensor" (or
// "dltensor_versioned"); a consumer that takes ownership renames it "used_dltensor(_versioned)", so the
// capsule's destructor calls the deleter only for capsules nobody consumed.
#include <pybind11/numpy.h>

#include "bindings/pyconvert.h"
#include "core/device_backend.h"
#include "core/error.h"
#include "dispatch/capture_hook.h"
#include "hyflow/ops/tensor.h"
#include "interop/dlpack.h"

namespace py = pybind11;

namespace hy {
py::array to_numpy(const Tensor& t, py::handle self);                         // bind_interop.cpp
void check_exportable(const TensorImpl& t, const char* what, const char* instead);  // bind_interop.cpp

namespace {

constexpr const char* kCapsuleName = "dltensor";
constexpr const char* kUsedCapsuleName = "used_dltensor";
constexpr const char* kVersionedCapsuleName = "dltensor_versioned";
constexpr const char* kUsedVersionedCapsuleName = "used_dltensor_versioned";

[[noreturn]] void raise_buffer_error(const std::string& msg) {
  PyErr_SetString(PyExc_BufferError, msg.c_str());
  throw py::error_already_set();
}

// Destructors of the capsules hyflow produces: an unconsumed capsule still owns its managed tensor.
// They may run while an exception is being raised, so the error indicator is saved around the deleter.
void destroy_capsule(PyObject* capsule) {
  if (!PyCapsule_IsValid(capsule, kCapsuleName)) return;
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, kCapsuleName));
  if (m && m->deleter) m->deleter(m);
  PyErr_Restore(type, value, tb);
}

void destroy_versioned_capsule(PyObject* capsule) {
  if (!PyCapsule_IsValid(capsule, kVersionedCapsuleName)) return;
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(capsule, kVersionedCapsuleName));
  if (m && m->deleter) m->deleter(m);
  PyErr_Restore(type, value, tb);
}

// (DLPack device type, id) of a tensor: (1, 0) for the CPU, (2, index) for a GPU.
py::tuple dlpack_device_of(const Tensor& t) {
  return t.device().is_cpu() ? py::make_tuple(static_cast<int>(kDLCPU), 0)
                             : py::make_tuple(static_cast<int>(kDLCUDA), t.device().index);
}

// The array API's stream handshake for a CUDA export: the consumer names the stream it will read on
// (None or 1: the legacy default stream, 2: the per-thread default, else a cudaStream_t; -1: no
// synchronization), and the producer makes that stream wait for the work queued on its current stream.
void sync_consumer_stream(Device device, py::handle stream) {
  const intptr_t consumer = stream.is_none() ? 1 : stream.cast<intptr_t>();
  HY_CHECK(consumer != 0, ValueError, "__dlpack__: stream=0 is ambiguous for CUDA tensors; pass 1 for the legacy "
           "default stream or 2 for the per-thread default stream");
  if (consumer == -1) return;
  DeviceBackend& b = device_backend(device.type);
  const StreamHandle ours = b.current_stream(device.index);
  if (ours == consumer || (ours == 0 && consumer == 1)) return;  // the same stream: already ordered
  // The consumer's stream is one of the tensor's device (the array API's rule), as is ours.
  const EventHandle e = b.event_create(device.index, false);
  b.event_record(e, device.index, ours);
  b.stream_wait_event(device.index, consumer, e);
  b.event_destroy(e);  // destroyed once the recorded work is done
}

py::object dlpack_capsule(const Tensor& t, py::handle stream, py::handle max_version, py::handle dl_device,
                          py::handle copy) {
  check_exportable(*t.impl(), "__dlpack__()", "tensor.detach().__dlpack__() (from_dlpack(t.detach()))");
  if (t.device().is_cpu()) {
    HY_CHECK(stream.is_none(), ValueError, "__dlpack__: stream must be None for CPU tensors, got ",
             std::string(py::repr(stream)));
  }
  if (!dl_device.is_none()) {
    auto dev = py::reinterpret_borrow<py::tuple>(dl_device);
    const py::tuple own = dlpack_device_of(t);
    if (dev.size() != 2 || dev[0].cast<int>() != own[0].cast<int>() || dev[1].cast<int>() != own[1].cast<int>())
      raise_buffer_error(str("__dlpack__: this tensor can only be exported to its own device ", std::string(py::repr(own)),
                             ", not ", std::string(py::repr(dl_device))));
  }
  const bool copied = copy.ptr() == Py_True;
  const bool versioned = !max_version.is_none() && py::reinterpret_borrow<py::tuple>(max_version)[0].cast<int>() >= 1;
  Tensor src = copied ? ops::clone(t) : t;
  // After the copy (queued on our current stream): the consumer's stream must wait for it too.
  if (!t.device().is_cpu()) sync_consumer_stream(t.device(), stream);
  if (versioned) {
    DLManagedTensorVersioned* m = to_dlpack_versioned(src, copied);
    PyObject* cap = PyCapsule_New(m, kVersionedCapsuleName, destroy_versioned_capsule);
    if (!cap) {
      m->deleter(m);
      throw py::error_already_set();
    }
    return py::reinterpret_steal<py::object>(cap);
  }
  if (!src.storage()->writable())
    raise_buffer_error("__dlpack__: a read-only tensor can't be exported as a legacy (pre-1.0) DLPack capsule, "
                       "which cannot mark memory read-only; pass max_version=(1, 0) or copy=True");
  DLManagedTensor* m = to_dlpack(src);
  PyObject* cap = PyCapsule_New(m, kCapsuleName, destroy_capsule);
  if (!cap) {
    m->deleter(m);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::object>(cap);
}

// The storage owner of an imported tensor: calls the producer's deleter once, when the last view dies.
// Python producers' deleters may touch Python, so the GIL is taken; after interpreter shutdown the
// memory is leaked rather than handed to a deleter that can no longer run.
template <typename Managed>
std::shared_ptr<void> producer_owner(Managed* m) {
  return std::shared_ptr<void>(m, [](void* p) {
    if (!Py_IsInitialized()) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    auto* mt = static_cast<Managed*>(p);
    if (mt->deleter) mt->deleter(mt);
    PyGILState_Release(gil);
  });
}

// Take ownership of the managed tensor in `capsule` (renaming it), or raise without touching it.
Tensor tensor_from_capsule(py::handle capsule) {
  PyObject* cap = capsule.ptr();
  if (PyCapsule_IsValid(cap, kVersionedCapsuleName)) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, kVersionedCapsuleName));
    HY_CHECK(m->version.major <= DLPACK_MAJOR_VERSION, ValueError, "from_dlpack: DLPack ", m->version.major, ".",
             m->version.minor, " is newer than the version hyflow reads (", DLPACK_MAJOR_VERSION, ".x)");
    Tensor t = hyflow_tensor_of(m);
    bool own_export = t.defined();
    if (!own_export) {
      bool writable = !(m->flags & DLPACK_FLAG_BITMASK_READ_ONLY);
      t = tensor_from_dltensor(m->dl_tensor, writable, [m] { return producer_owner(m); });
    }
    PyCapsule_SetName(cap, kUsedVersionedCapsuleName);
    if (own_export) m->deleter(m);  // t shares the exported tensor's storage; the envelope can go
    return t;
  }
  if (PyCapsule_IsValid(cap, kCapsuleName)) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, kCapsuleName));
    Tensor t = hyflow_tensor_of(m);
    bool own_export = t.defined();
    if (!own_export) t = tensor_from_dltensor(m->dl_tensor, true, [m] { return producer_owner(m); });
    PyCapsule_SetName(cap, kUsedCapsuleName);
    if (own_export) m->deleter(m);
    return t;
  }
  HY_CHECK(!PyCapsule_IsValid(cap, kUsedCapsuleName) && !PyCapsule_IsValid(cap, kUsedVersionedCapsuleName), ValueError,
           "from_dlpack: this DLPack capsule was already consumed (a capsule can be imported only once)");
  const char* name = PyCapsule_GetName(cap);
  PyErr_Clear();
  throw TypeError(str("from_dlpack: expected a DLPack capsule named 'dltensor' or 'dltensor_versioned', got one named '",
                      name ? name : "(null)", "'"));
}

Tensor import_dlpack(py::handle obj, py::handle device, py::handle copy) {
  HY_CHECK(device.is_none() || std::string(py::str(device)) == "cpu", NotImplementedError,
           "from_dlpack: only device='cpu' is available in this build, got ", std::string(py::repr(device)));
  const bool want_copy = copy.ptr() == Py_True;
  if (py::isinstance<TensorImpl>(obj)) {  // hyflow -> hyflow: a view of the same storage
    Tensor t = obj.cast<Tensor>();
    return want_copy ? ops::clone(t) : Tensor::make_view(t, t.shape(), t.strides(), t.offset());
  }
  if (PyCapsule_CheckExact(obj.ptr())) {
    Tensor t = tensor_from_capsule(obj);
    return want_copy ? ops::clone(t) : t;
  }
  HY_CHECK(py::hasattr(obj, "__dlpack__"), TypeError, "from_dlpack expects an object with __dlpack__ (a NumPy array, "
           "a torch tensor, ...) or a DLPack capsule, got ", std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::object consumer_stream = py::none();
  if (py::hasattr(obj, "__dlpack_device__")) {
    py::tuple dev = obj.attr("__dlpack_device__")();
    int type = dev[0].cast<int>();
    HY_CHECK(type == kDLCPU || type == kDLCUDA, NotImplementedError, "from_dlpack: hyflow imports CPU and CUDA "
             "memory; the object is on DLPack device type ", type);
    if (type == kDLCUDA) {
      // Ask the producer to order its work before our current stream (the handshake above, seen from here).
      HY_CHECK(find_device_backend(DeviceType::DeviceType_CUDA) != nullptr, RuntimeError, "from_dlpack: the object "
               "is CUDA memory, but CUDA is not available (", device_unavailable_reason(DeviceType::DeviceType_CUDA), ")");
      const StreamHandle ours = device_backend(DeviceType::DeviceType_CUDA).current_stream(dev[1].cast<int>());
      consumer_stream = py::int_(ours == 0 ? 1 : ours);
    }
  }
  py::object capsule;
  bool producer_copied = false;
  try {  // the DLPack 1.0 signature first; producers that predate it reject the keywords with TypeError
    py::dict kwargs;
    kwargs["max_version"] = py::make_tuple(DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION);
    if (!copy.is_none()) kwargs["copy"] = copy;
    if (!consumer_stream.is_none()) kwargs["stream"] = consumer_stream;
    capsule = obj.attr("__dlpack__")(**kwargs);
    producer_copied = want_copy;
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;
    capsule = consumer_stream.is_none() ? obj.attr("__dlpack__")() : obj.attr("__dlpack__")(py::arg("stream") = consumer_stream);
  }
  Tensor t = tensor_from_capsule(capsule);
  return want_copy && !producer_copied ? ops::clone(t) : t;
}

const char* buffer_format(DType t) {
  switch (t) {
    case DType::Bool: return "?";
    case DType::Int32: return "i";
    case DType::Int64: return "q";
    case DType::Float16: return "e";
    case DType::Float32: return "f";
    case DType::Float64: return "d";
    case DType::Complex64: return "Zf";  // PEP 3118: a complex of two floats
    case DType::Complex128: return "Zd";
    case DType::BFloat16: break;
  }
  throw TypeError("bfloat16 tensors can't be exported through the buffer protocol (it has no bfloat16 format); "
                  "convert with .to(hyflow.float32), or share the memory with DLPack (torch.from_dlpack(t))");
}

py::buffer_info tensor_buffer(TensorImpl& impl) {
  // (NumPy tries the buffer protocol before __array__; it then falls back to __array__, which raises.)
  capture::note_graph_break("a tensor's memory read in Python (buffer protocol)");
  check_exportable(impl, "memoryview()", "memoryview(tensor.detach())");
  HY_CHECK(impl.device().is_cpu(), TypeError, "only CPU tensors support the buffer protocol, this one is on ",
           device_str(impl.device()));
  const int64_t item = dtype_itemsize(impl.dtype());
  std::vector<py::ssize_t> shape(impl.shape().begin(), impl.shape().end());
  std::vector<py::ssize_t> strides;
  for (int64_t s : impl.strides()) strides.push_back(s * item);
  return py::buffer_info(impl.data_ptr(), item, buffer_format(impl.dtype()), impl.dim(), std::move(shape),
                         std::move(strides), !impl.storage()->writable());
}

// NumPy 2's __array__(dtype=None, copy=None): copy=False must not copy (ValueError when it would have to).
py::object tensor_array(py::handle self, py::handle dtype, py::handle copy) {
  capture::note_graph_break("a tensor's value read in Python (__array__)");
  Tensor t = self.cast<Tensor>();
  HY_CHECK(t.device().is_cpu(), TypeError, "can't convert a ", device_str(t.device()), " tensor to NumPy; copy it to "
           "the host first with .cpu()");
  check_exportable(*t.impl(), "numpy()", "tensor.detach().numpy() (np.asarray(tensor.detach()))");
  const bool never_copy = copy.ptr() == Py_False, always_copy = copy.ptr() == Py_True;
  py::module_ np = py::module_::import("numpy");
  py::object arr;
  if (t.dtype() == DType::BFloat16) {
    HY_CHECK(!dtype.is_none(), TypeError, "__array__: NumPy has no bfloat16; convert with .to(hyflow.float32) or "
             "pass dtype= (np.asarray(t, dtype=np.float32))");
    HY_CHECK(!never_copy, ValueError, "__array__: a bfloat16 tensor can only become a NumPy array by copying, "
             "but copy=False");
    py::object f32 = py::cast(ops::to_dtype(t, DType::Float32, false));
    arr = to_numpy(f32.cast<Tensor>(), f32);
    return arr.attr("astype")(np.attr("dtype")(dtype));
  }
  arr = to_numpy(t, self);
  if (!dtype.is_none()) {
    py::object want = np.attr("dtype")(dtype);
    if (!want.equal(arr.attr("dtype"))) {
      HY_CHECK(!never_copy, ValueError, "__array__: converting a ", t.describe(), " to NumPy dtype ",
               std::string(py::str(want)), " needs a copy, but copy=False");
      return arr.attr("astype")(want);
    }
  }
  return always_copy ? arr.attr("copy")() : arr;
}

}  // namespace

void bind_dlpack(py::module_& m, py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls) {
  cls.def("__dlpack__", [](const Tensor& t, py::handle stream, py::handle max_version, py::handle dl_device,
                           py::handle copy) { return dlpack_capsule(t, stream, max_version, dl_device, copy); },
          py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
          py::arg("dl_device") = py::none(), py::arg("copy") = py::none(),
          "A DLPack capsule sharing this tensor's memory ('dltensor_versioned' when max_version >= (1, 0)).");
  cls.def("__dlpack_device__", &dlpack_device_of,
          "(device type, device id) for DLPack: (1, 0) for the CPU, (2, index) for a CUDA GPU.");
  cls.def_buffer(&tensor_buffer);
  cls.def("__array__", &tensor_array, py::arg("dtype") = py::none(), py::arg("copy") = py::none(),
          "A NumPy array sharing this tensor's memory (NumPy 2 copy= semantics).");
  cls.attr("__array_priority__") = 1000;  // ndarray <op> tensor defers to the tensor's reflected operator
  m.def("from_dlpack", &import_dlpack, py::arg("obj"), py::kw_only(), py::arg("device") = py::none(),
        py::arg("copy") = py::none(),
        "A tensor sharing the memory of any object with __dlpack__ (NumPy, PyTorch, JAX, CuPy on CPU...) or of a "
        "DLPack capsule. The producer's memory stays alive while any view of the tensor does.");
}

}  // namespace hy
