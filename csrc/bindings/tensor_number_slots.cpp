// The hot arithmetic operators of hyflow.Tensor (+, -, *, /) as CPython number slots.
//
// A `.def("__add__", ...)` method makes CPython run `a + b` through its generic slot: look up
// `__add__` on the type, call the bound method, and pybind11's dispatcher then loads each argument
// (a type-info lookup per argument) before our code runs. For a 1-element tensor that was most of the
// cost of `a + b`. Here nb_add & co. are C functions set on the type before PyType_Ready, which then
// also adds `__add__`/`__radd__` (wrappers of the slot) to the class dict, so explicit calls, `dir()`
// and Python subclasses (Parameter) keep working and subclasses inherit the fast slot.
//
// The semantics are those of the methods they replace: a Tensor, a Python number (a weak 0-d tensor),
// a complex number or a NumPy array is an operand; anything else gives NotImplemented so Python tries
// the other operand's reflected operator. The front functions (hy::ops::add, ...) do all checks, type
// promotion, autograd recording and capture, exactly as for hy.add(a, b).

#include "bindings/pyconvert.h"
#include "bindings/tensor_number_slots_internal.h"
#include "core/error.h"
#include "hyflow/ops/binary.h"

namespace py = pybind11;

namespace hy {
namespace {

PyTypeObject* g_tensor_type = nullptr;

bool is_tensor(PyObject* o) {
  return Py_TYPE(o) == g_tensor_type || PyType_IsSubtype(Py_TYPE(o), g_tensor_type);
}

bool is_numpy_array(py::handle h) {
  static py::object ndarray = py::module_::import("numpy").attr("ndarray");
  return PyObject_IsInstance(h.ptr(), ndarray.ptr()) == 1;
}

// The tensor a hyflow.Tensor object holds. An object whose __init__ never ran holds none: TypeError,
// as pybind11 raises for such an object everywhere else.
Tensor tensor_of(PyObject* o) {
  auto vh = reinterpret_cast<py::detail::instance*>(o)->get_value_and_holder(nullptr, false);
  HY_CHECK(vh && vh.holder_constructed(), TypeError, "hyflow.Tensor object is not initialized (__init__ was not "
           "called)");
  return Tensor(vh.holder<std::shared_ptr<TensorImpl>>());
}

using BinaryOp = Tensor (*)(const Tensor&, const Tensor&);

// nb_<op>(a, b): CPython calls it for `a op b` with either operand being the Tensor (b for the
// reflected case, `2 - t`), so the operands keep their order.
template <BinaryOp Op>
PyObject* binary_slot(PyObject* a, PyObject* b) noexcept {
  try {
    Tensor x, y;
    if (is_tensor(a)) {
      x = tensor_of(a);
      if (is_tensor(b)) y = tensor_of(b);
      else if (!tensor_operand(b, y)) Py_RETURN_NOTIMPLEMENTED;
    } else {
      y = tensor_of(b);
      if (!tensor_operand(a, x)) Py_RETURN_NOTIMPLEMENTED;
    }
    return py::cast(Op(x, y)).release().ptr();
  } catch (...) {
    py::detail::try_translate_exceptions();  // the translators every bound function uses (bind_core.cpp)
    return nullptr;
  }
}

Tensor add_op(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
Tensor sub_op(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
Tensor mul_op(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
Tensor div_op(const Tensor& a, const Tensor& b) { return ops::div(a, b); }

}  // namespace

bool tensor_operand(py::handle h, Tensor& out) {
  if (py::isinstance<TensorImpl>(h)) {
    out = Tensor(h.cast<std::shared_ptr<TensorImpl>>());
    return true;
  }
  if (is_python_number(h)) {
    out = wrap_python_number(h);
    return true;
  }
  if (is_python_complex(h)) {
    out = wrap_python_complex(h);
    return true;
  }
  if (is_numpy_array(h)) {
    out = py::module_::import("hyflow").attr("as_tensor")(h).cast<Tensor>();
    return true;
  }
  return false;
}

void install_tensor_number_slots(PyHeapTypeObject* heap_type) {
  g_tensor_type = &heap_type->ht_type;
  PyNumberMethods& nb = heap_type->as_number;
  nb.nb_add = binary_slot<add_op>;
  nb.nb_subtract = binary_slot<sub_op>;
  nb.nb_multiply = binary_slot<mul_op>;
  nb.nb_true_divide = binary_slot<div_op>;
}

}  // namespace hy
