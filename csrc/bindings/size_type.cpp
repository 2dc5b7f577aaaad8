// hyflow.Size (see size_type_internal.h): a tuple subclass written against CPython's C API rather than in
// Python, because t.shape is read in hot Python loops. A Python subclass would put a Python-level
// __getitem__ on every t.shape[0]; here indexing stays tuple's own C code (one extra check for slices), and
// making a Size costs what making a tuple does.
#include "bindings/size_type_internal.h"

namespace py = pybind11;

namespace hy {
namespace {

PyTypeObject SizeType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// A new Size with n unset items (the caller fills every one before handing it out).
PyObject* size_alloc(Py_ssize_t n) {
  PyObject* out = SizeType.tp_alloc(&SizeType, n);
#if PY_VERSION_HEX >= 0x030E0000
  // CPython 3.14 caches a tuple's hash in ob_hash, "not computed" being -1; tp_alloc zero-fills, which would
  // read as a cached hash of 0 (a Size then hashes unlike the equal tuple). CPython's structseq does the same.
  if (out != nullptr) reinterpret_cast<PyTupleObject*>(out)->ob_hash = -1;
#endif
  return out;
}

// A Size holding the items of the tuple `t` (a plain tuple from tuple's own slicing, concatenation, repeat).
PyObject* size_from_tuple(PyObject* t) {
  const Py_ssize_t n = PyTuple_GET_SIZE(t);
  PyObject* out = size_alloc(n);
  if (out == nullptr) return nullptr;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = PyTuple_GET_ITEM(t, i);
    Py_INCREF(item);
    PyTuple_SET_ITEM(out, i, item);
  }
  return out;
}

// Wraps a new tuple reference (or the NULL of a failed call) as a Size, releasing the tuple.
PyObject* as_size(PyObject* t) {
  if (t == nullptr) return nullptr;
  PyObject* out = size_from_tuple(t);
  Py_DECREF(t);
  return out;
}

// Size(sizes=()): torch.Size's constructor. Items must be ints (or objects with __index__, like a 0-d
// integer tensor); a float says which item it was, as torch does.
PyObject* size_new(PyTypeObject*, PyObject* args, PyObject* kwargs) {
  if (kwargs != nullptr && PyDict_GET_SIZE(kwargs) > 0) {
    PyObject *key, *value;
    Py_ssize_t at = 0;
    PyDict_Next(kwargs, &at, &key, &value);
    PyErr_Format(PyExc_TypeError, "Size() got an unexpected keyword argument '%U' (Size(sizes=(), /))", key);
    return nullptr;
  }
  PyObject* sizes = nullptr;
  if (!PyArg_UnpackTuple(args, "Size", 0, 1, &sizes)) return nullptr;
  if (sizes == nullptr) return size_alloc(0);
  PyObject* seq = PySequence_Fast(sizes, "hyflow.Size() takes an iterable of 'int'");
  if (seq == nullptr) return nullptr;
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  PyObject* out = size_alloc(n);
  for (Py_ssize_t i = 0; out != nullptr && i < n; ++i) {
    PyObject* item = PySequence_Fast_GET_ITEM(seq, i);
    PyObject* value = PyFloat_Check(item) || !PyIndex_Check(item) ? nullptr : PyNumber_Index(item);
    if (value == nullptr) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "hyflow.Size() takes an iterable of 'int' (item %zd is '%s')", i,
                   Py_TYPE(item)->tp_name);
      Py_CLEAR(out);
      break;
    }
    PyTuple_SET_ITEM(out, i, value);
  }
  Py_DECREF(seq);
  return out;
}

PyObject* size_repr(PyObject* self) {
  PyObject* items = PySequence_List(self);
  if (items == nullptr) return nullptr;
  PyObject* out = PyUnicode_FromFormat("hyflow.Size(%R)", items);
  Py_DECREF(items);
  return out;
}

// s[i] is tuple's item; s[a:b] a Size, as in torch (made directly, not from tuple's slice).
PyObject* size_subscript(PyObject* self, PyObject* key) {
  if (!PySlice_Check(key)) return PyTuple_Type.tp_as_mapping->mp_subscript(self, key);
  Py_ssize_t start, stop, step;
  if (PySlice_Unpack(key, &start, &stop, &step) < 0) return nullptr;
  const Py_ssize_t n = PySlice_AdjustIndices(PyTuple_GET_SIZE(self), &start, &stop, step);
  PyObject* out = size_alloc(n);
  for (Py_ssize_t i = 0, at = start; out != nullptr && i < n; ++i, at += step) {
    PyObject* item = PyTuple_GET_ITEM(self, at);
    Py_INCREF(item);
    PyTuple_SET_ITEM(out, i, item);
  }
  return out;
}

// Size + tuple and tuple + Size are Sizes (torch's rule); anything but a tuple is left to tuple's `+`.
PyObject* size_add(PyObject* a, PyObject* b) {
  if (!PyTuple_Check(a) || !PyTuple_Check(b)) Py_RETURN_NOTIMPLEMENTED;
  return as_size(PyTuple_Type.tp_as_sequence->sq_concat(a, b));
}

// Size * n and n * Size are Sizes.
PyObject* size_multiply(PyObject* a, PyObject* b) {
  const bool size_first = PyObject_TypeCheck(a, &SizeType);
  PyObject* count = size_first ? b : a;
  if (PyFloat_Check(count) || !PyIndex_Check(count)) Py_RETURN_NOTIMPLEMENTED;
  const Py_ssize_t n = PyNumber_AsSsize_t(count, PyExc_OverflowError);
  if (n == -1 && PyErr_Occurred()) return nullptr;
  return as_size(PyTuple_Type.tp_as_sequence->sq_repeat(size_first ? a : b, n));
}

// Python ints, so a product beyond int64 is exact (and 1 for Size([])).
PyObject* size_numel(PyObject* self, PyObject*) {
  PyObject* product = PyLong_FromLong(1);
  for (Py_ssize_t i = 0; product != nullptr && i < PyTuple_GET_SIZE(self); ++i) {
    PyObject* next = PyNumber_Multiply(product, PyTuple_GET_ITEM(self, i));
    Py_DECREF(product);
    product = next;
  }
  return product;
}

// pickle and copy rebuild a Size (tuple's own reduction would rebuild it through tuple.__new__).
PyObject* size_reduce(PyObject* self, PyObject*) {
  PyObject* items = PySequence_Tuple(self);
  if (items == nullptr) return nullptr;
  return Py_BuildValue("(O(N))", reinterpret_cast<PyObject*>(&SizeType), items);
}

PyMethodDef size_methods[] = {
    {"numel", size_numel, METH_NOARGS, "numel($self, /)\n--\n\nThe number of elements of a tensor of this shape."},
    {"__reduce__", size_reduce, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr}};

PyMappingMethods size_mapping = {nullptr, size_subscript, nullptr};
PyNumberMethods size_number = {};

}  // namespace

void bind_size_type(py::module_& m) {
  if (SizeType.tp_name == nullptr) {
    size_number.nb_add = size_add;
    size_number.nb_multiply = size_multiply;
    SizeType.tp_name = "hyflow.Size";  // pickled as hyflow.Size, the public name
    SizeType.tp_base = &PyTuple_Type;  // size, item layout, GC, hash, comparison and iteration are tuple's
    SizeType.tp_flags = Py_TPFLAGS_DEFAULT;
    SizeType.tp_doc = "Size(sizes=(), /)\n--\n\n"
                      "A tensor's shape (torch.Size): a tuple of ints, equal to the plain tuple of the same sizes.";
    SizeType.tp_new = size_new;
    SizeType.tp_repr = size_repr;
    SizeType.tp_as_mapping = &size_mapping;
    SizeType.tp_as_number = &size_number;
    SizeType.tp_methods = size_methods;
    if (PyType_Ready(&SizeType) < 0) throw py::error_already_set();
  }
  m.attr("Size") = py::handle(reinterpret_cast<PyObject*>(&SizeType));
}

PyTypeObject* size_type() { return &SizeType; }

py::object size_to_python(const DimVector& dims) {
  const Py_ssize_t n = static_cast<Py_ssize_t>(dims.size());
  PyObject* out = size_alloc(n);
  if (out == nullptr) throw py::error_already_set();
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* d = PyLong_FromLongLong(dims[static_cast<size_t>(i)]);
    if (d == nullptr) {
      Py_DECREF(out);
      throw py::error_already_set();
    }
    PyTuple_SET_ITEM(out, i, d);
  }
  return py::reinterpret_steal<py::object>(out);
}

}  // namespace hy
