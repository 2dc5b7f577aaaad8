// The signature of a compiled function's call, in one C++ pass (python/hyflow/compiler/guards.py).
//
// Every call of a compiled function computes it before the cache lookup, so it is the per-call overhead
// of hy.compile: in Python (flatten the arguments, then per tensor five attribute reads through pybind11
// and a dtype-to-string) it cost ~6 us for three tensors; here it is one call. The result is exactly what
// the Python version built — the pytree structure of _pytree.flatten, one key tuple per leaf — so recompile
// reasons and explain read it unchanged.
#include <pybind11/pybind11.h>

#include <array>
#include <cmath>
#include <vector>

#include "autograd/autograd_meta.h"
#include "bindings/pyconvert.h"
#include "bindings/size_type_internal.h"
#include "core/device.h"
#include "core/tensor.h"

namespace py = pybind11;

namespace hy {
namespace {

struct Walk {
  py::list leaves;
  std::vector<py::object> keys;
  std::vector<PyObject*> tensors_seen;  // first-seen order of tensor objects: aliasing is part of the key
  py::str tag_t = py::str("T"), tag_nan = py::str("nan"), tag_id = py::str("id");
  py::object tuple_type = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&PyTuple_Type));
  py::object list_type = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&PyList_Type));
  py::object dict_type = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&PyDict_Type));
  py::object shape_type = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(size_type()));

  static py::tuple int_tuple(const DimVector& v) {
    py::tuple t(v.size());
    for (size_t i = 0; i < v.size(); ++i) t[i] = py::int_(v[i]);
    return t;
  }

  py::object dtype_name(DType d) {
    // str(dtype) ("hyflow.float32") is what the Python guards keyed on; built once per dtype.
    static std::array<PyObject*, 64> cache{};
    auto i = static_cast<size_t>(d);
    if (i >= cache.size()) return py::str(dtype_to_python(d));
    if (!cache[i]) cache[i] = py::str(dtype_to_python(d)).release().ptr();  // immortal: lives with the module
    return py::reinterpret_borrow<py::object>(cache[i]);
  }

  py::object tensor_key(py::handle h) {
    Tensor t = h.cast<Tensor>();
    size_t index = 0;
    while (index < tensors_seen.size() && tensors_seen[index] != h.ptr()) ++index;
    if (index == tensors_seen.size()) tensors_seen.push_back(h.ptr());
    return py::make_tuple(tag_t, dtype_name(t.dtype()), device_str(t.device()), int_tuple(t.shape()),
                          int_tuple(t.strides()), autograd::requires_grad(t), index);
  }

  py::object leaf_key(py::handle h) {
    if (py::isinstance<TensorImpl>(h)) return tensor_key(h);
    PyObject* p = h.ptr();
    if (PyFloat_CheckExact(p) && std::isnan(PyFloat_AS_DOUBLE(p))) return py::make_tuple(tag_nan);
    if (p == Py_None || PyLong_CheckExact(p) || PyFloat_CheckExact(p) || PyBool_Check(p) || PyUnicode_CheckExact(p) ||
        PyComplex_CheckExact(p) || PyBytes_CheckExact(p))
      return py::make_tuple(py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(Py_TYPE(p))), h);
    return py::make_tuple(tag_id, py::int_(reinterpret_cast<uintptr_t>(p)));
  }

  // Mirrors _pytree._flatten: exact tuple/list/dict and hyflow.Size are containers, everything else a leaf.
  py::object structure(py::handle h) {
    PyObject* p = h.ptr();
    if (PyTuple_CheckExact(p) || PyList_CheckExact(p) || Py_TYPE(p) == size_type()) {
      py::sequence seq = py::reinterpret_borrow<py::sequence>(h);
      py::tuple children(py::len(seq));
      for (size_t i = 0; i < children.size(); ++i) children[i] = structure(seq[i]);
      py::object type = PyTuple_CheckExact(p) ? tuple_type : PyList_CheckExact(p) ? list_type : shape_type;
      return py::make_tuple(type, children);
    }
    if (PyDict_CheckExact(p)) {
      py::dict d = py::reinterpret_borrow<py::dict>(h);
      py::tuple keys(d.size()), children(d.size());
      size_t i = 0;
      for (auto item : d) {
        keys[i] = item.first;
        children[i] = structure(item.second);
        ++i;
      }
      return py::make_tuple(dict_type, keys, children);
    }
    leaves.append(h);
    keys.push_back(leaf_key(h));
    return py::none();
  }
};

// A compiled nn.Module's state guard: for every module (once, depth first) its identity and training flag,
// then the identity of each parameter and buffer. Read straight from the modules' __dict__ stores
// (python/hyflow/nn/module.py), because walking parameters() in Python cost ~18 us per call.
void module_state(py::handle m, std::vector<PyObject*>& seen, std::vector<py::object>& out) {
  for (PyObject* s : seen)
    if (s == m.ptr()) return;
  seen.push_back(m.ptr());
  py::object d = py::reinterpret_steal<py::object>(PyObject_GetAttrString(m.ptr(), "__dict__"));
  if (!d) throw py::error_already_set();
  out.push_back(py::int_(reinterpret_cast<uintptr_t>(m.ptr())));
  PyObject* training = PyDict_GetItemString(d.ptr(), "training");  // borrowed
  out.push_back(py::bool_(training != nullptr && PyObject_IsTrue(training) == 1));
  for (const char* store : {"_parameters", "_buffers"}) {
    PyObject* dict = PyDict_GetItemString(d.ptr(), store);
    if (dict == nullptr || !PyDict_Check(dict)) continue;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &pos, &key, &value)) out.push_back(py::int_(reinterpret_cast<uintptr_t>(value)));
  }
  PyObject* children = PyDict_GetItemString(d.ptr(), "_modules");
  if (children == nullptr || !PyDict_Check(children)) return;
  std::vector<py::object> kids;  // collected first: the walk must not hold borrowed items across calls
  Py_ssize_t pos = 0;
  PyObject *key, *value;
  while (PyDict_Next(children, &pos, &key, &value))
    if (value != Py_None) kids.push_back(py::reinterpret_borrow<py::object>(value));
  for (auto& k : kids) module_state(k, seen, out);
}

}  // namespace

void bind_compiler_guards(py::module_& c) {
  c.def("call_signature", [](py::handle args, py::handle kwargs) {
    Walk w;
    py::object s = w.structure(py::make_tuple(args, kwargs));
    py::tuple key(w.keys.size());
    for (size_t i = 0; i < w.keys.size(); ++i) key[i] = w.keys[i];
    py::list tensors;  // each tensor object once, in first-seen order: the compiled graph's inputs
    for (PyObject* t : w.tensors_seen) tensors.append(py::handle(t));
    return py::make_tuple(s, key, w.leaves, tensors);
  }, py::arg("args"), py::arg("kwargs"),
        "(structure, key, leaves, tensors) of a call: _pytree.flatten's structure and leaves, one guard key per "
        "leaf, and the distinct tensors in first-seen order.");
  c.def("module_state_key", [](py::handle module) {
    std::vector<PyObject*> seen;
    std::vector<py::object> out;
    module_state(module, seen, out);
    py::tuple key(out.size());
    for (size_t i = 0; i < out.size(); ++i) key[i] = out[i];
    return key;
  }, py::arg("module"), "Identity and training flag of every submodule, identity of every parameter and buffer.");
  c.def("tensor_keys", [](const py::sequence& tensors) {
    // The captured tensors' guard (parameters, globals): checked on every call, so also one C++ pass.
    Walk w;
    py::tuple key(py::len(tensors));
    for (size_t i = 0; i < key.size(); ++i) key[i] = w.tensor_key(tensors[i]);
    return key;
  }, py::arg("tensors"), "One guard key per tensor (dtype, device, sizes, strides, requires_grad, first-seen index).");
}

}  // namespace hy
