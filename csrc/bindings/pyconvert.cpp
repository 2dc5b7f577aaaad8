// Python -> C++ argument conversion shared by all bindings (see pyconvert.h).
#include "bindings/pyconvert.h"

#include "core/error.h"
#include "core/type_promotion.h"

namespace py = pybind11;

namespace hy {
namespace {

py::handle numpy_generic() {
  static py::object g = py::module_::import("numpy").attr("generic");
  return g;
}

bool is_numpy_scalar(py::handle h) {
  return PyObject_IsInstance(h.ptr(), numpy_generic().ptr()) == 1;
}

}  // namespace

bool is_python_number(py::handle h) {
  PyObject* o = h.ptr();
  if (PyBool_Check(o) || PyLong_Check(o) || PyFloat_Check(o)) return true;
  if (is_numpy_scalar(h)) {
    std::string kind = py::str(h.attr("dtype").attr("kind"));
    return kind == "b" || kind == "i" || kind == "u" || kind == "f";
  }
  return false;
}

Scalar scalar_from_python(py::handle h) {
  PyObject* o = h.ptr();
  if (PyBool_Check(o)) return Scalar(o == Py_True);
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    HY_CHECK(!overflow, ValueError, "integer ", std::string(py::str(h)), " does not fit in int64");
    return Scalar(static_cast<int64_t>(v));
  }
  if (PyFloat_Check(o)) return Scalar(PyFloat_AsDouble(o));
  if (is_numpy_scalar(h)) return scalar_from_python(h.attr("item")());
  throw TypeError(str("expected a number (bool, int or float), got ", std::string(py::str(py::type::of(h)))));
}

bool scalar_from_0d_tensor(py::handle h, Scalar* out) {
  if (!py::isinstance<TensorImpl>(h)) return false;
  if (Tensor(h.cast<std::shared_ptr<TensorImpl>>()).dim() != 0) return false;  // torch takes 0-d only
  *out = scalar_from_python(h.attr("item")());  // item() keeps the kind: bool, int or float
  return true;
}

Tensor wrap_python_number(py::handle h) {
  return wrapped_number_tensor(scalar_from_python(h));
}

bool is_python_complex(py::handle h) {
  if (PyComplex_Check(h.ptr())) return true;
  return is_numpy_scalar(h) && std::string(py::str(h.attr("dtype").attr("kind"))) == "c";
}

Tensor wrap_python_complex(py::handle h) {
  py::object value = PyComplex_Check(h.ptr()) ? py::reinterpret_borrow<py::object>(h) : h.attr("item")();
  const Py_complex c = PyComplex_AsCComplex(value.ptr());
  Tensor t = Tensor::empty({}, DType::Complex128);
  *t.data<std::complex<double>>() = std::complex<double>(c.real, c.imag);
  t.impl()->set_wrapped_number(true);
  return t;
}

DimVector dims_from_python(py::handle h, const char* what) {
  DimVector out;
  auto one = [&](py::handle x) {
    if (PyBool_Check(x.ptr()) || PyFloat_Check(x.ptr()))
      throw TypeError(str(what, " must contain integers, got ", std::string(py::repr(x))));
    py::object idx;
    try {
      idx = py::reinterpret_steal<py::object>(PyNumber_Index(x.ptr()));
      if (!idx) throw py::error_already_set();
    } catch (py::error_already_set&) {
      throw TypeError(str(what, " must contain integers, got ", std::string(py::repr(x))));
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
    HY_CHECK(!overflow, ValueError, what, ": ", std::string(py::repr(x)), " does not fit in int64");
    out.push_back(v);
  };
  if (PySequence_Check(h.ptr()) && !PyUnicode_Check(h.ptr()) && !py::hasattr(h, "__index__")) {
    for (py::handle x : py::reinterpret_borrow<py::sequence>(h)) one(x);
  } else {
    one(h);
  }
  return out;
}

DimVector dims_from_args(const py::args& args, const char* what) {
  if (args.size() == 1 && PySequence_Check(args[0].ptr()) && !py::hasattr(args[0], "__index__"))
    return dims_from_python(args[0], what);
  return dims_from_python(args, what);
}

}  // namespace hy
