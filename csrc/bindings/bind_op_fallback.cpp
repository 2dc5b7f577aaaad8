// See op_call_fallback.h: the overload pybind11 reaches when no generated overload took the call.
#include "bindings/op_call_fallback.h"

#include <algorithm>

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

// "size(self: hyflow._C.Tensor, dim: typing.SupportsInt | None = None) -> object" -> "size(dim=None)",
// and its parameter names (self and pybind11's own *args/**kwargs left out) into `names`.
std::string readable_signature(const std::string& line, std::vector<std::string>& names) {
  const size_t open = line.find('('), close = line.rfind(") ->");
  if (open == std::string::npos || close == std::string::npos || close < open) return line;
  std::vector<std::string> params;
  int depth = 0;
  std::string cur;
  for (size_t i = open + 1; i <= close; ++i) {  // split at top-level commas (types hold [a, b])
    const char ch = i == close ? ',' : line[i];
    if (ch == '[' || ch == '(') ++depth;
    if (ch == ']' || ch == ')') --depth;
    if (ch == ',' && depth == 0) {
      while (!cur.empty() && cur.front() == ' ') cur.erase(cur.begin());
      if (!cur.empty()) params.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  std::string out = line.substr(0, open) + "(";
  bool first = true;
  for (const std::string& p : params) {
    const std::string pname = p.substr(0, p.find(':'));
    if (pname == "self" || pname.rfind('*', 0) == 0 || pname == "_hyflow_first") continue;
    names.push_back(pname);
    const size_t eq = p.find(" = ");
    out += (first ? "" : ", ") + pname + (eq == std::string::npos ? "" : "=" + p.substr(eq + 3));
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

void def_method_bad_call(py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls, const char* name) {
  // The signatures of the overloads defined so far: one per docstring line that starts with the name
  // (pybind11 numbers them "1. size(...)" when there are several).
  const std::string doc = py::str(cls.attr(name).attr("__doc__"));
  std::vector<std::string> names, signatures;
  size_t at = 0;
  while (at < doc.size()) {
    size_t end = doc.find('\n', at);
    if (end == std::string::npos) end = doc.size();
    std::string line = doc.substr(at, end - at);
    at = end + 1;
    const size_t dot = line.find(". ");
    if (dot != std::string::npos && dot < 4) line = line.substr(dot + 2);
    if (line.rfind(std::string(name) + "(", 0) == 0) signatures.push_back(readable_signature(line, names));
  }
  std::string usage;
  for (const std::string& sig : signatures) usage += (usage.empty() ? "" : " or ") + sig;
  std::string called = name;
  cls.def(name, [called, names, usage](const py::object& self, FallbackFirstArg first, const py::args& rest,
                                       const py::kwargs& kwargs) -> py::object {
    for (auto kv : kwargs) {
      const std::string key = py::str(kv.first);
      HY_CHECK(std::find(names.begin(), names.end(), key) != names.end(), TypeError, called,
               "() got an unexpected keyword argument '", key, "' (Tensor.", usage, ")");
    }
    std::string given;
    auto add = [&](const std::string& s) { given += (given.empty() ? "" : ", ") + s; };
    if (!first.value.is(no_argument())) add(py::str(py::type::of(first.value).attr("__name__")));
    for (py::handle a : rest) add(py::str(py::type::of(a).attr("__name__")));
    for (auto kv : kwargs) add(std::string(py::str(kv.first)) + "=" +
                               std::string(py::str(py::type::of(kv.second).attr("__name__"))));
    throw TypeError(called + "() got arguments (" + given + ") that match no signature: Tensor." + usage);
  }, py::arg("_hyflow_first") = py::reinterpret_borrow<py::object>(no_argument()));
}

}  // namespace hy
