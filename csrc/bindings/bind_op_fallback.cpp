// See op_call_fallback.h: the overload pybind11 reaches when no generated overload took the call.
#include "bindings/op_call_fallback.h"

#include <algorithm>

#include "bindings/op_args_internal.h"
#include "bindings/pybind_records_internal.h"
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

// NumPy's keyword spellings that torch accepts as well (x.sum(axis=0), x.mean(1, keepdims=True)): a call
// using them fails every typed overload and lands here, so the ordinary calls pay nothing for them.
// Renamed only for an op that has the torch name and not the alias, when the call did not pass both.
py::dict with_numpy_aliases(const OpEntry& e, const py::dict& keywords) {
  static const std::pair<const char*, const char*> kAliases[] = {{"axis", "dim"}, {"keepdims", "keepdim"}};
  auto renamed = [&](const std::string& key) -> const char* {
    for (const auto& [alias, name] : kAliases)
      if (key == alias && !keywords.contains(name) && e.schema.find_arg(name) >= 0 && e.schema.find_arg(alias) < 0)
        return name;
    return nullptr;
  };
  bool any = false;
  for (auto kv : keywords) any = any || renamed(py::cast<std::string>(kv.first)) != nullptr;
  if (!any) return keywords;
  py::dict out;
  for (auto kv : keywords) {
    const std::string key = py::cast<std::string>(kv.first);
    const char* name = renamed(key);
    out[py::str(name ? std::string(name) : key)] = kv.second;
  }
  return out;
}

// torch's legacy std/var spellings, for an op with `correction` and no `unbiased` (std, var): unbiased=b,
// std(b) and std(dim, b[, keepdim]) are correction = 1 or 0. Like the aliases above they fail the typed
// overloads first, so the ordinary call pays nothing. Returns false (nothing changed) when the call does
// not use them, or uses them in a way torch refuses too (unbiased with correction, a non-bool unbiased):
// then the schema binding reports the bad argument.
bool with_legacy_unbiased(const OpEntry& e, py::list& positional, py::dict& keywords) {
  if (e.schema.find_arg("correction") < 0 || e.schema.find_arg("unbiased") >= 0) return false;
  auto is_bool = [](py::handle h) { return PyBool_Check(h.ptr()); };
  py::object unbiased;
  if (keywords.contains("unbiased")) unbiased = keywords["unbiased"];
  const size_t n = positional.size();  // [tensor, ...]: self, or the function's first argument
  py::list args = positional, kept;
  py::dict kw;  // a copy: the caller's dict is tried against the next op under this name too
  for (auto item : keywords) kw[item.first] = item.second;
  if (n == 2 && is_bool(args[1]) && !unbiased) {  // std(unbiased)
    unbiased = args[1];
    kept.append(args[0]);
  } else if ((n == 3 || n == 4) && is_bool(args[2]) && !unbiased) {  // std(dim, unbiased[, keepdim])
    unbiased = args[2];
    kept.append(args[0]);
    kept.append(args[1]);
    if (n == 4) {
      if (kw.contains("keepdim")) return false;
      kw["keepdim"] = args[3];
    }
  } else {
    kept = args;
  }
  if (!unbiased || !is_bool(unbiased) || kw.contains("correction")) return false;
  if (kw.contains("unbiased")) PyDict_DelItemString(kw.ptr(), "unbiased");
  kw["correction"] = py::cast(unbiased.cast<bool>() ? 1.0 : 0.0);
  positional = kept;
  keywords = kw;
  return true;
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
      py::list op_positional = positional;
      py::dict op_keywords = with_numpy_aliases(e, keywords);
      with_legacy_unbiased(e, op_positional, op_keywords);
      values = bind_args(e, py::tuple(op_positional), op_keywords, called);
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

// One overload as the user calls it, "Tensor.size(dim=None)" (self, *args and **kwargs left out), with
// its keyword names added to `names`.
std::string readable_overload(const std::string& shown, const py::detail::function_record& rec,
                              std::vector<std::string>& names) {
  std::string out = shown + "(";
  bool first = true;
  for (const BoundParam& p : pybind_params(rec)) {
    const bool marker = p.name == "*" || p.name == "/";  // keyword-only / positional-only: shown, no keyword
    if (p.name == "self" || (p.name.rfind('*', 0) == 0 && !marker)) continue;
    if (!marker) names.push_back(p.name);
    out += (first ? "" : ", ") + p.name + (p.has_default ? "=" + p.default_text : "");
    first = false;
  }
  return out + ")";
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

namespace hy {

void def_bad_call(py::handle scope, const char* name, const std::string& shown) {
  py::object existing = py::getattr(scope, name);
  const py::detail::function_record* head = pybind_records(existing);
  HY_CHECK(head != nullptr, TypeError, "def_bad_call: ", shown, " is not a pybind11 function");
  std::vector<std::string> names;
  std::string usage;
  for (auto* rec = head; rec != nullptr; rec = rec->next)
    if (!is_bad_call_overload(*rec)) usage += (usage.empty() ? "" : " or ") + readable_overload(shown, *rec, names);
  // A constructor is called by its class's name: Generator(sed=1) -> "Generator() got ...".
  const std::string called = std::string(name) == "__init__" ? shown : std::string(name);
  auto explain = [called, names, usage](const FallbackFirstArg& first, const py::args& rest,
                                        const py::kwargs& kwargs) -> py::object {
    for (auto kv : kwargs) {
      const std::string key = py::str(kv.first);
      HY_CHECK(std::find(names.begin(), names.end(), key) != names.end(), TypeError, called,
               "() got an unexpected keyword argument '", key, "' (", usage, ")");
    }
    std::string given;
    auto add = [&](const std::string& s) { given += (given.empty() ? "" : ", ") + s; };
    if (!first.value.is(no_argument())) add(py::str(py::type::of(first.value).attr("__name__")));
    for (py::handle a : rest) add(py::str(py::type::of(a).attr("__name__")));
    for (auto kv : kwargs) add(std::string(py::str(kv.first)) + "=" +
                               std::string(py::str(py::type::of(kv.second).attr("__name__"))));
    throw TypeError(called + "() got arguments (" + given + ") that match no signature: " + usage);
  };
  // Appended to the existing overload chain, which needs the chain's own scope (a function re-exported
  // from another module keeps the module it was defined in).
  auto first_arg = py::arg("_hyflow_first") = py::reinterpret_borrow<py::object>(no_argument());
  py::cpp_function fallback;
  if (head->is_method) {
    fallback = py::cpp_function([explain](const py::object&, FallbackFirstArg first, const py::args& rest,
                                          const py::kwargs& kwargs) { return explain(first, rest, kwargs); },
                                py::name(name), py::is_method(head->scope), py::sibling(existing), first_arg);
  } else {
    fallback = py::cpp_function([explain](FallbackFirstArg first, const py::args& rest, const py::kwargs& kwargs) {
      return explain(first, rest, kwargs);
    }, py::name(name), py::scope(head->scope), py::sibling(existing), first_arg);
  }
  py::setattr(scope, name, fallback);
}

}  // namespace hy
