// The Tensor class: geometry properties, Python number protocol, operators, item/tolist.
// Op methods (t.add, t.sum, ...) are generated from the op table in bind_ops_generated.cpp.

#include "bindings/pyconvert.h"
#include "bindings/size_type_internal.h"
#include "bindings/tensor_number_slots_internal.h"
#include "compiler/capture_session.h"
#include "core/error.h"
#include "dispatch/capture_hook.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/linalg.h"
#include "hyflow/ops/tensor.h"
#include "hyflow/ops/unary.h"
#include "kernels/device_copy.h"

namespace py = pybind11;

namespace hy {

// bind_autograd.cpp: visits the Python objects a tensor owns through its autograd graph.
int autograd_traverse(const std::shared_ptr<TensorImpl>& impl, visitproc visit, void* arg);

namespace {

using TensorClass = py::class_<TensorImpl, std::shared_ptr<TensorImpl>>;

// tp_traverse of hyflow.Tensor: pybind11's own (the instance __dict__) plus what the tensor owns through
// autograd, so that Python's cycle collector sees cycles that pass through C++ (a custom Function's ctx
// holding the Function's own output: see autograd_traverse).
extern "C" int tensor_traverse(PyObject* self, visitproc visit, void* arg) {
  if (int r = py::detail::pybind11_traverse(self, visit, arg)) return r;
  auto vh = reinterpret_cast<py::detail::instance*>(self)->get_value_and_holder(nullptr, false);
  if (!vh || !vh.holder_constructed()) return 0;
  return autograd_traverse(vh.holder<std::shared_ptr<TensorImpl>>(), visit, arg);
}

Tensor self_of(const std::shared_ptr<TensorImpl>& p) { return Tensor(p); }

template <typename F>
auto binop(F f) {
  return [f](const Tensor& self, py::handle other) -> py::object {
    Tensor o;
    if (!tensor_operand(other, o)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(f(self, o));
  };
}
template <typename F>
auto rbinop(F f) {
  return [f](const Tensor& self, py::handle other) -> py::object {
    Tensor o;
    if (!tensor_operand(other, o)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(f(o, self));
  };
}

py::object element_to_python(const char* p, DType dt) {
  switch (dt) {
    case DType::Bool: return py::bool_(*reinterpret_cast<const bool*>(p));
    case DType::Int32: return py::int_(*reinterpret_cast<const int32_t*>(p));
    case DType::Int64: return py::int_(*reinterpret_cast<const int64_t*>(p));
    case DType::Float16: return py::float_(static_cast<float>(*reinterpret_cast<const Half*>(p)));
    case DType::BFloat16: return py::float_(static_cast<float>(*reinterpret_cast<const BFloat16*>(p)));
    case DType::Float32: return py::float_(*reinterpret_cast<const float*>(p));
    case DType::Float64: return py::float_(*reinterpret_cast<const double*>(p));
    case DType::Complex64: {
      const auto v = *reinterpret_cast<const std::complex<float>*>(p);
      return py::reinterpret_steal<py::object>(PyComplex_FromDoubles(v.real(), v.imag()));
    }
    case DType::Complex128: {
      const auto v = *reinterpret_cast<const std::complex<double>*>(p);
      return py::reinterpret_steal<py::object>(PyComplex_FromDoubles(v.real(), v.imag()));
    }
  }
  return py::none();
}

py::object tolist_rec(const char* p, const Tensor& t, size_t d) {
  if (d == t.shape().size()) return element_to_python(p, t.dtype());
  int64_t n = t.shape()[d];
  int64_t step = t.strides()[d] * t.itemsize();
  py::list out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = tolist_rec(p + i * step, t, d + 1);
  return std::move(out);
}

// A size read in Python: a trace with symbolic sizes keeps this tensor's sizes fixed (Python may compute
// with them; docs/compiler.md, "Symbolic sizes"). One thread-local test when no capture is active.
const Tensor& sizes_read(const Tensor& t) {
  if (capture::CaptureHook* hook = capture::active_hook())
    if (auto* session = dynamic_cast<compiler::CaptureSession*>(hook)) session->note_size_read(t.impl());
  return t;
}

// t.shape as a plain getset descriptor rather than a pybind11 property: a read skips pybind11's dispatcher,
// which was most of its cost (docs/tensors.md, "Geometry and views").
PyObject* tensor_shape_get(PyObject* self, void*) {
  try {
    auto vh = reinterpret_cast<py::detail::instance*>(self)->get_value_and_holder(nullptr, false);
    HY_CHECK(vh && vh.holder_constructed(), TypeError, "hyflow.Tensor object is not initialized");
    const Tensor t(vh.holder<std::shared_ptr<TensorImpl>>());
    return size_to_python(sizes_read(t).shape()).release().ptr();
  } catch (...) {
    py::detail::try_translate_exceptions();
    return nullptr;
  }
}

PyGetSetDef tensor_shape_getset = {"shape", tensor_shape_get, nullptr, "The sizes of the dims (a hyflow.Size).",
                                   nullptr};

py::object item(const Tensor& t) {
  capture::note_graph_break("a tensor's value read in Python (item(), bool(), float(), int())");
  HY_CHECK(t.numel() == 1, ValueError, "item(): only a tensor with exactly one element can be converted to a "
           "Python number, got shape ", t.shape());
  // A device value is copied to the host first (a synchronizing copy, as in torch).
  const Tensor host = t.device().is_cpu() ? t : tensor_to_device(t, kCPU, false);
  return element_to_python(static_cast<const char*>(host.raw_data()), host.dtype());
}

}  // namespace

TensorClass bind_tensor_class(py::module_& m) {
  // buffer_protocol: memoryview(t) and np.asarray(t) share memory (the buffer itself is in bind_dlpack.cpp).
  return TensorClass(m, "Tensor", py::dynamic_attr(), py::buffer_protocol(),
                     py::custom_type_setup([](PyHeapTypeObject* heap_type) {
                       heap_type->ht_type.tp_traverse = tensor_traverse;  // dynamic_attr made it a GC type
                       install_tensor_number_slots(heap_type);  // +, -, *, / (not bound with .def below)
                     }),
                     "An n-dimensional array on a device (hyflow.Tensor).");
}

void bind_tensor_methods(py::module_& m, TensorClass& cls) {
  py::object shape = py::reinterpret_steal<py::object>(
      PyDescr_NewGetSet(reinterpret_cast<PyTypeObject*>(cls.ptr()), &tensor_shape_getset));
  if (!shape) throw py::error_already_set();
  py::setattr(cls, "shape", shape);
  cls.def_property_readonly("dtype", [](const Tensor& t) { return t.dtype(); })
      .def_property_readonly("device", [](const Tensor& t) { return device_str(t.device()); })
      .def_property_readonly("ndim", [](const Tensor& t) { return t.dim(); })
      .def_property_readonly("itemsize", [](const Tensor& t) { return t.itemsize(); })
      .def_property_readonly("nbytes", [](const Tensor& t) { return sizes_read(t).nbytes(); })
      .def_property_readonly("_version", [](const Tensor& t) { return t.storage()->version(); })
      .def_property_readonly("is_cpu", [](const Tensor& t) { return t.device().is_cpu(); })
      .def_property_readonly("T", [](const Tensor& t) {
        DimVector dims;
        for (int64_t i = t.dim() - 1; i >= 0; --i) dims.push_back(i);
        return ops::permute(t, dims);
      }, "All dims reversed (a view).")
      .def_property_readonly("mT", [](const Tensor& t) {
        HY_CHECK(t.dim() >= 2, ValueError, "mT needs a tensor with at least 2 dims, got shape ", t.shape());
        return ops::transpose(t, -2, -1);
      }, "The last two dims swapped (a view): batched matrix transpose.")
      .def("dim", [](const Tensor& t) { return t.dim(); })
      .def("numel", [](const Tensor& t) { return sizes_read(t).numel(); })
      .def("element_size", [](const Tensor& t) { return t.itemsize(); })
      .def("size", [](const Tensor& t, std::optional<int64_t> d) -> py::object {
        sizes_read(t);
        if (d) return py::int_(t.size(*d));
        return size_to_python(t.shape());
      }, py::arg("dim") = py::none())
      .def("stride", [](const Tensor& t, std::optional<int64_t> d) -> py::object {
        sizes_read(t);
        if (d) return py::int_(t.stride(*d));
        return py::cast(t.strides());
      }, py::arg("dim") = py::none())
      .def("storage_offset", [](const Tensor& t) { return t.offset(); })
      .def("is_contiguous", [](const Tensor& t) { return t.is_contiguous(); })
      .def("is_floating_point", [](const Tensor& t) { return dtype_is_floating(t.dtype()); })
      .def("is_complex", [](const Tensor& t) { return dtype_is_complex(t.dtype()); })
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()); })
      .def("untyped_storage_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.storage()->data()); },
           "Address of the start of the shared storage (equal for views of one tensor).")
      .def("item", &item, "The single element as a Python number.")
      .def("tolist", [](const Tensor& t) {
             capture::note_graph_break("a tensor's value read in Python (tolist())");
             const Tensor host = t.device().is_cpu() ? t : tensor_to_device(t, kCPU, false);
             return tolist_rec(static_cast<const char*>(host.raw_data()), host, 0); },
           "Nested Python lists (a Python number for a 0-d tensor).")
      .def("__len__", [](const Tensor& t) {
        HY_CHECK(t.dim() > 0, TypeError, "len() of a 0-d tensor");
        return sizes_read(t).shape()[0];
      })
      .def("__bool__", [](const Tensor& t) {
        HY_CHECK(t.numel() == 1, ValueError, "the truth value of a tensor with ", t.numel(),
                 " elements is ambiguous; use .any() or .all()");
        return py::bool_(item(t));
      })
      .def("__float__", [](const Tensor& t) { return py::float_(item(t)); })
      .def("__complex__", [](const Tensor& t) {
        py::object v = item(t);
        return py::reinterpret_steal<py::object>(PyComplex_FromCComplex(PyComplex_Check(v.ptr())
            ? PyComplex_AsCComplex(v.ptr()) : Py_complex{PyFloat_AsDouble(py::float_(v).ptr()), 0.0}));
      })
      .def("__int__", [](const Tensor& t) { return py::int_(item(t)); })
      .def("__index__", [](const Tensor& t) {
        HY_CHECK(dtype_is_integral(t.dtype()) && t.numel() == 1, TypeError,
                 "only integer tensors of a single element can be used as an index");
        return py::int_(item(t));
      })
      .def("__hash__", [](py::handle self) { return reinterpret_cast<intptr_t>(self.ptr()) >> 4; });

  auto fdiv = [](const Tensor& a, const Tensor& b) { return ops::floor_divide(a, b); };
  auto mod = [](const Tensor& a, const Tensor& b) { return ops::remainder(a, b); };
  auto pw = [](const Tensor& a, const Tensor& b) { return ops::pow(a, b); };
  auto band = [](const Tensor& a, const Tensor& b) { return ops::bitwise_and(a, b); };
  auto bor = [](const Tensor& a, const Tensor& b) { return ops::bitwise_or(a, b); };
  auto bxor = [](const Tensor& a, const Tensor& b) { return ops::bitwise_xor(a, b); };
  // +, -, *, / are number slots (tensor_number_slots.cpp): a .def here would replace them.
  cls.def("__floordiv__", binop(fdiv)).def("__rfloordiv__", rbinop(fdiv))
      .def("__mod__", binop(mod)).def("__rmod__", rbinop(mod))
      .def("__pow__", binop(pw)).def("__rpow__", rbinop(pw))
      .def("__and__", binop(band)).def("__rand__", rbinop(band))
      .def("__or__", binop(bor)).def("__ror__", rbinop(bor))
      .def("__xor__", binop(bxor)).def("__rxor__", rbinop(bxor))
      // @ takes tensors only: a Python number gives NotImplemented, so Python raises its TypeError.
      .def("__matmul__", [](const Tensor& a, py::handle b) -> py::object {
        if (!py::isinstance<TensorImpl>(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        return py::cast(ops::matmul(a, Tensor(b.cast<std::shared_ptr<TensorImpl>>())));
      })
      .def("__rmatmul__", [](const Tensor& a, py::handle b) -> py::object {
        if (!py::isinstance<TensorImpl>(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        return py::cast(ops::matmul(Tensor(b.cast<std::shared_ptr<TensorImpl>>()), a));
      })
      .def("__eq__", binop([](const Tensor& a, const Tensor& b) { return ops::eq(a, b); }))
      .def("__ne__", binop([](const Tensor& a, const Tensor& b) { return ops::ne(a, b); }))
      .def("__lt__", binop([](const Tensor& a, const Tensor& b) { return ops::lt(a, b); }))
      .def("__le__", binop([](const Tensor& a, const Tensor& b) { return ops::le(a, b); }))
      .def("__gt__", binop([](const Tensor& a, const Tensor& b) { return ops::gt(a, b); }))
      .def("__ge__", binop([](const Tensor& a, const Tensor& b) { return ops::ge(a, b); }))
      .def("__iadd__", binop([](const Tensor& a, const Tensor& b) { return ops::add_(a, b); }))
      .def("__isub__", binop([](const Tensor& a, const Tensor& b) { return ops::sub_(a, b); }))
      .def("__imul__", binop([](const Tensor& a, const Tensor& b) { return ops::mul_(a, b); }))
      .def("__itruediv__", binop([](const Tensor& a, const Tensor& b) { return ops::div_(a, b); }))
      .def("__ifloordiv__", binop([](const Tensor& a, const Tensor& b) { return ops::floor_divide_(a, b); }))
      .def("__imod__", binop([](const Tensor& a, const Tensor& b) { return ops::remainder_(a, b); }))
      .def("__ipow__", binop([](const Tensor& a, const Tensor& b) { return ops::pow_(a, b); }))
      .def("__iand__", binop([](const Tensor& a, const Tensor& b) { return ops::bitwise_and_(a, b); }))
      .def("__ior__", binop([](const Tensor& a, const Tensor& b) { return ops::bitwise_or_(a, b); }))
      .def("__ixor__", binop([](const Tensor& a, const Tensor& b) { return ops::bitwise_xor_(a, b); }));

  // Unary operators. +t returns t itself (like torch.positive); ~t is logical_not for bool tensors and
  // bitwise_not for integers (bitwise_not does both, and raises TypeError for floats).
  cls.def("__neg__", [](const Tensor& a) { return ops::neg(a); })
      .def("__pos__", [](const Tensor& a) {
        HY_CHECK(a.dtype() != DType::Bool, TypeError, "unary + is not supported for bool tensors, got ",
                 a.describe());
        return a;
      })
      .def("__abs__", [](const Tensor& a) { return ops::abs(a); })
      .def("__invert__", [](const Tensor& a) { return ops::bitwise_not(a); });
  // A wrong keyword or argument type names itself: module.cpp's finish_bindings gives every method here its
  // last overload.
}

}  // namespace hy
