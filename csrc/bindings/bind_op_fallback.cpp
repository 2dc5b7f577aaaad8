// See op_call_fallback.h: the overload pybind11 reaches when no generated overload took the call.
#include "bindings/op_call_fallback.h"

#include "bindings/op_args_internal.h"
#include "core/error.h"

namespace py = pybind11;

namespace hy {
namespace {

/// The first positional argument of a call that reached the fallback (the sentinel when there was none).
struct FallbackFirstArg {
  py::object value;
};

// The default of FallbackFirstArg: tells "no positional argument" from hy.add(None). Never freed, so no
// Python object is released after the interpreter has gone.
py::handle no_argument() {
  static PyObject* sentinel = py::module_::import("builtins").attr("object")().release().ptr();
  return sentinel;
}

py::object call_fallback(const std::string& called, const std::vector<std::string>& ops, py::handle self,
                         const py::object& first, const py::args& rest, const py::kwargs& kwargs, bool inplace) {
  py::list positional;
  if (self) positional.append(self);
  if (!first.is(no_argument())) positional.append(first);
  for (py::handle a : rest) positional.append(a);
  py::dict keywords;
  for (auto kv : kwargs) keywords[kv.first] = kv.second;
  HY_CHECK(!(inplace && keywords.contains("out")), TypeError, called,
           "() got an unexpected keyword argument 'out' (an in-place method writes to self)");
  if (inplace) keywords["out"] = self;
  std::string first_error;
  for (const std::string& op : ops) {
    const OpEntry& e = Registry::global().get(op);
    ValueList values;
    try {
      values = bind_args(e, py::tuple(positional), keywords, called);
    } catch (const TypeError& err) {
      if (first_error.empty()) first_error = err.what();
      continue;  // Tensor.clamp: the next op under this name may take it
    }
    // The schema accepts the call although no typed overload did (an overload whose only arguments are
    // keywords gets no converting pass in pybind11): run the same front function, boxed.
    ValueList results;
    {
      py::gil_scoped_release nogil;
      results = Registry::global().call_boxed(op, values);
    }
    return results_to_python(e, results);
  }
  throw TypeError(first_error);
}

}  // namespace
}  // namespace hy

namespace pybind11 {
namespace detail {

template <> struct type_caster<hy::FallbackFirstArg> {
  PYBIND11_TYPE_CASTER(hy::FallbackFirstArg, const_name("object"));
  // Refused on pybind11's first pass (no conversions): the real overloads then get their converting pass
  // before this one, so a call they accept with a conversion (an int for a float) never lands here.
  bool load(handle src, bool convert) {
    if (!convert) return false;
    value.value = reinterpret_borrow<object>(src);
    return true;
  }
  static handle cast(const hy::FallbackFirstArg& v, return_value_policy, handle) { return v.value.inc_ref(); }
};

}  // namespace detail
}  // namespace pybind11

namespace hy {

void def_op_call_fallback(py::module_& scope, const char* name, std::vector<std::string> ops) {
  std::string called = name;
  scope.def(name, [called, ops](FallbackFirstArg first, const py::args& rest, const py::kwargs& kwargs) {
    return call_fallback(called, ops, py::handle(), first.value, rest, kwargs, false);
  }, py::arg("_hyflow_first") = py::reinterpret_borrow<py::object>(no_argument()));
}

void def_method_call_fallback(py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls, const char* name,
                              std::vector<std::string> ops, bool inplace) {
  std::string called = name;
  cls.def(name, [called, ops, inplace](const py::object& self, FallbackFirstArg first, const py::args& rest,
                                       const py::kwargs& kwargs) {
    return call_fallback(called, ops, self, first.value, rest, kwargs, inplace);
  }, py::arg("_hyflow_first") = py::reinterpret_borrow<py::object>(no_argument()));
}

}  // namespace hy
