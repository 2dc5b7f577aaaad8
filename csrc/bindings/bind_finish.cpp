// The last step of _C's initialization: every hand-written pybind11 function and method gets what the
// generated op bindings get from gen_ops.py (see op_call_fallback.h):
//
// * a last overload that answers a bad call with Python's own TypeError, naming the unexpected keyword
//   and the accepted signature (def_bad_call), instead of pybind11's "incompatible function arguments";
// * a text signature: its docstring gains a first line `name(self, dim=None)` and a `--` line, which
//   CPython exposes as __text_signature__, so inspect.signature (IDEs, help(), tools that wrap hyflow
//   functions) works. __doc__ stays pybind11's typed docstring of the real overload, without the bad-call
//   one (scripts/gen_stubs.py reads it). A class gets its constructor's signature the same way, in its
//   own doc (inspect.signature(hy.Generator)).
//
// Both are read from pybind11's own records of each function, so a binding added later needs nothing. This
// must run after every binding is defined: defining another overload rewrites the docstring.
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "bindings/op_call_fallback.h"
#include "bindings/pybind_records_internal.h"

namespace py = pybind11;

namespace hy {
namespace {

// A default CPython's signature parser accepts (a Python literal), else `...`: the parameter still shows
// as optional, while a value like hyflow.float32 would make inspect reject the whole signature.
std::string literal_or_ellipsis(const std::string& text) {
  // Never released: a static py::object would be freed after the interpreter has gone.
  static py::handle literal_eval = py::object(py::module_::import("ast").attr("literal_eval")).release();
  try {
    literal_eval(text);
    return text;
  } catch (const py::error_already_set&) {
    return "...";
  }
}

// The one overload of a function a user calls (its bad-call overload left out); nullptr when there are
// several, for which one signature would be a lie.
const py::detail::function_record* only_real_overload(const py::detail::function_record* head) {
  const py::detail::function_record* real = nullptr;
  for (auto* rec = head; rec != nullptr; rec = rec->next) {
    if (is_bad_call_overload(*rec)) continue;
    if (real != nullptr) return nullptr;
    real = rec;
  }
  return real;
}

// "size(self, dim=None)": the text signature of one overload.
std::string text_signature(const std::string& name, const py::detail::function_record& rec, bool drop_self) {
  std::string out = name + "(";
  bool first = true;
  for (const BoundParam& p : pybind_params(rec)) {
    if (drop_self && p.name == "self") continue;
    out += (first ? "" : ", ") + p.name + (p.has_default ? "=" + literal_or_ellipsis(p.default_text) : "");
    first = false;
  }
  return out + ")";
}

// pybind11's docstring of a function with this one overload: its typed signature line, then its doc.
std::string pybind_doc(const std::string& name, const py::detail::function_record& rec) {
  std::string doc = name + (rec.signature ? rec.signature : "()") + "\n";
  if (rec.doc != nullptr && rec.doc[0] != '\0') doc += "\n" + std::string(rec.doc) + "\n";
  return doc;
}

bool has_text_signature(py::handle obj) {
  return !py::getattr(obj, "__text_signature__", py::none()).is_none();
}

// Replaces a pybind11 function's docstring (pybind11 frees it with std::free: a strdup'ed copy).
void set_function_doc(py::handle fn, const std::string& doc) {
  PyObject* f = fn.ptr();
  if (PyInstanceMethod_Check(f)) f = PyInstanceMethod_GET_FUNCTION(f);
  PyMethodDef* def = reinterpret_cast<PyCFunctionObject*>(f)->m_ml;
  char* old = const_cast<char*>(def->ml_doc);
  def->ml_doc = strdup(doc.c_str());
  std::free(old);
}

// Prepends a text signature to a class's doc (tp_doc: allocated by pybind11 with PyObject_Malloc and freed
// by CPython).
void set_class_text_signature(PyTypeObject* type, const std::string& signature) {
  const std::string doc = signature + "\n--\n\n" + (type->tp_doc ? type->tp_doc : "");
  char* copy = static_cast<char*>(PyObject_Malloc(doc.size() + 1));
  if (copy == nullptr) throw std::bad_alloc();
  std::memcpy(copy, doc.c_str(), doc.size() + 1);
  const char* old = type->tp_doc;
  type->tp_doc = copy;
  PyObject_Free(const_cast<char*>(old));
}

// pybind11 answers a call it cannot bind to an overload whose only parameters are keyword-only without a
// converting pass (see bind_op_fallback.cpp), so a catch-all overload would refuse a good call that needs
// a conversion; such functions keep pybind11's message. **kwargs takes any keyword already.
bool can_take_bad_call_overload(const py::detail::function_record* head) {
  for (auto* rec = head; rec != nullptr; rec = rec->next) {
    if (is_bad_call_overload(*rec) || rec->has_kwargs) return false;
    const size_t self = rec->is_method ? 1 : 0;
    if (rec->nargs_pos <= self && rec->nargs > self + (rec->has_args ? 1 : 0)) return false;
  }
  return true;
}

// The function or method `name` of `scope` (a module or class), shown in messages as `shown`.
void finish_function(py::handle scope, const std::string& name, const std::string& shown) {
  py::object fn = py::getattr(scope, name.c_str());
  const py::detail::function_record* head = pybind_records(fn);
  if (head == nullptr) return;
  if (can_take_bad_call_overload(head)) {
    def_bad_call(scope, name.c_str(), shown);
    fn = py::getattr(scope, name.c_str());
    head = pybind_records(fn);
  }
  // The docstring a one-overload function would have had (help() shows no bad-call overload), after its
  // text signature.
  const py::detail::function_record* real = only_real_overload(head);
  if (real != nullptr && !has_text_signature(fn))
    set_function_doc(fn, text_signature(name, *real, false) + "\n--\n\n" + pybind_doc(name, *real));
}

void finish_class(py::handle cls) {
  const std::string cls_name = py::str(cls.attr("__name__"));
  py::dict members = py::reinterpret_borrow<py::dict>(reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_dict);
  std::vector<std::string> names;
  for (auto kv : members) names.push_back(py::str(kv.first));
  for (const std::string& name : names) {
    // Operators and protocol methods keep pybind11's behaviour (a catch-all __eq__ would never return
    // NotImplemented); the constructor is the one dunder a user calls by name.
    const bool dunder = name.size() > 4 && name.rfind("__", 0) == 0 && name.compare(name.size() - 2, 2, "__") == 0;
    if ((dunder && name != "__init__") || name.rfind("_pybind11", 0) == 0) continue;
    if (!PyInstanceMethod_Check(members[name.c_str()].ptr())) continue;  // properties, static methods, data
    finish_function(cls, name, name == "__init__" ? cls_name : cls_name + "." + name);
  }
  // inspect.signature(cls) reads the class's own text signature: the constructor's, without self.
  PyTypeObject* type = reinterpret_cast<PyTypeObject*>(cls.ptr());
  if (members.contains("__init__") && !has_text_signature(cls)) {
    const py::detail::function_record* init = only_real_overload(pybind_records(members["__init__"]));
    if (init != nullptr) set_class_text_signature(type, text_signature(cls_name, *init, true));
  }
}

void finish_module(py::module_ m, std::unordered_set<PyObject*>& seen) {
  if (!seen.insert(m.ptr()).second) return;
  const std::string prefix = py::str(m.attr("__name__"));
  py::dict members = m.attr("__dict__");
  std::vector<std::pair<std::string, py::object>> items;
  for (auto kv : members) items.emplace_back(py::str(kv.first), py::reinterpret_borrow<py::object>(kv.second));
  for (const auto& [name, obj] : items) {
    if (name.rfind("__", 0) == 0 || !seen.insert(obj.ptr()).second) continue;
    if (PyModule_Check(obj.ptr())) {
      if (std::string(py::str(obj.attr("__name__"))).rfind(prefix + ".", 0) == 0) finish_module(obj, seen);
    } else if (PyType_Check(obj.ptr())) {
      if (py::detail::get_type_info(reinterpret_cast<PyTypeObject*>(obj.ptr())) != nullptr) finish_class(obj);
    } else if (pybind_records(obj) != nullptr) {
      finish_function(m, name, name);
    }
  }
}

}  // namespace

/// Called last by PYBIND11_MODULE (module.cpp): `m` is _C.
void finish_bindings(py::module_& m) {
  std::unordered_set<PyObject*> seen;
  finish_module(m, seen);
}

}  // namespace hy
