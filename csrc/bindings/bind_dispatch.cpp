// The dispatcher from Python: the op table as data, ops users define at run time (with a Python
// function or a C++ kernel from a shared library as their kernel), and calling any op by name.
#include <dlfcn.h>

#include "bindings/op_args_internal.h"
#include "core/error.h"
#include "dispatch/registry.h"

namespace py = pybind11;

namespace hy {
namespace {

Value default_value(const SchemaArg& a) {
  const std::string& d = *a.default_text;
  if (d == "None") return std::monostate{};
  if (d == "True") return true;
  if (d == "False") return false;
  if (!d.empty() && (d[0] == '\'' || d[0] == '"')) return d.substr(1, d.size() - 2);
  if (!d.empty() && d[0] == '[') {
    DimVector v;
    std::string body = d.substr(1, d.size() - 2);
    size_t pos = 0;
    while (pos < body.size()) {
      size_t c = body.find(',', pos);
      std::string tok = body.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
      if (tok.find_first_not_of(" ") != std::string::npos) v.push_back(std::stoll(tok));
      if (c == std::string::npos) break;
      pos = c + 1;
    }
    return v;
  }
  bool is_float = d.find_first_of(".eE") != std::string::npos && d.find("inf") == std::string::npos;
  try {
    if (a.type == ArgType::ArgType_Float || is_float) {
      double x = std::stod(d);
      return a.type == ArgType::ArgType_Scalar ? Value(Scalar(x)) : Value(x);
    }
    int64_t x = std::stoll(d);
    if (a.type == ArgType::ArgType_Scalar) return Scalar(x);
    if (a.type == ArgType::ArgType_IntList) return DimVector{x};
    return x;
  } catch (const std::exception&) {
    throw ValueError(str("cannot read default '", d, "' of argument '", a.name, "'"));
  }
}

Value to_value(py::handle h, const SchemaArg& a, const std::string& op) {
  if (h.is_none()) {
    HY_CHECK(a.optional || a.type == ArgType::ArgType_Generator, TypeError, op, "(): argument '", a.name,
             "' must not be None");
    return std::monostate{};
  }
  try {
    switch (a.type) {
      case ArgType::ArgType_Tensor: return h.cast<Tensor>();
      case ArgType::ArgType_TensorList: return h.cast<std::vector<Tensor>>();
      case ArgType::ArgType_Scalar: return scalar_from_python(h);
      case ArgType::ArgType_Int:
        HY_CHECK(!PyBool_Check(h.ptr()) && !PyFloat_Check(h.ptr()), TypeError, "expected int");
        return h.cast<int64_t>();
      case ArgType::ArgType_IntList: return dims_from_python(h, a.name.c_str());
      case ArgType::ArgType_Float: return h.cast<double>();
      case ArgType::ArgType_Bool: return h.cast<bool>();
      case ArgType::ArgType_Str: return h.cast<std::string>();
      case ArgType::ArgType_DType: return dtype_from_python(h);
      case ArgType::ArgType_Device: return h.cast<Device>();
      case ArgType::ArgType_Generator: return h.cast<std::shared_ptr<Generator>>();
    }
  } catch (const py::cast_error&) {
  } catch (const TypeError&) {
  }
  throw TypeError(str(op, "(): argument '", a.name, "' must be ", arg_type_name(a.type), ", got ",
                      std::string(py::str(py::type::of(h).attr("__name__")))));
}

py::object from_value(const Value& v) {
  return std::visit([](const auto& x) -> py::object {
    using T = std::decay_t<decltype(x)>;
    if constexpr (std::is_same_v<T, std::monostate>) return py::none();
    else return py::cast(x);
  }, v);
}

// " (did you mean 'alpha'?)" when a parameter's name is close to `word`, else " (<schema>)": a typo is
// answered with the likely name, anything else with the whole signature.
std::string keyword_hint(const Schema& s, const std::string& word) {
  py::list names;
  for (const SchemaArg& a : s.args) names.append(a.name);
  py::list close = py::module_::import("difflib").attr("get_close_matches")(word, names, 1, 0.6);
  if (!close.empty()) return " (did you mean '" + std::string(py::str(close[0])) + "'?)";
  return " (" + s.text + ")";
}

}  // namespace

// Bind Python call arguments to the schema: positionals in order, then keywords, then defaults.
ValueList bind_args(const OpEntry& e, const py::tuple& args, const py::dict& kwargs, const std::string& called) {
  const Schema& s = e.schema;
  const std::string& name = called.empty() ? e.name : called;
  size_t npos = 0;
  for (const SchemaArg& a : s.args) npos += a.kwarg_only ? 0 : 1;
  HY_CHECK(args.size() <= npos, TypeError, name, "() takes ", npos, " positional arguments but ", args.size(),
           " were given (", s.text, ")");
  ValueList out(s.args.size());
  std::vector<bool> set(s.args.size(), false);
  for (size_t i = 0; i < args.size(); ++i) {
    out[i] = to_value(args[i], s.args[i], name);
    set[i] = true;
  }
  for (auto kv : kwargs) {
    std::string k = py::str(kv.first);
    int i = s.find_arg(k);
    if (i < 0) throw TypeError(str(name, "() got an unexpected keyword argument '", k, "'", keyword_hint(s, k)));
    HY_CHECK(!set[i], TypeError, name, "() got multiple values for argument '", k, "'");
    out[i] = to_value(kv.second, s.args[i], name);
    set[i] = true;
  }
  for (size_t i = 0; i < s.args.size(); ++i) {
    if (set[i]) continue;
    HY_CHECK(s.args[i].default_text.has_value(), TypeError, name, "() missing required argument '",
             s.args[i].name, "' (", s.text, ")");
    out[i] = default_value(s.args[i]);
  }
  return out;
}

py::object results_to_python(const OpEntry& e, const ValueList& r) {
  if (r.empty()) return py::none();
  if (r.size() == 1) return from_value(r[0]);
  py::tuple t(r.size());
  for (size_t i = 0; i < r.size(); ++i) t[i] = from_value(r[i]);
  return std::move(t);
}

namespace {

// Wraps a Python callable so it can be destroyed from any thread: the GIL is taken to drop it.
struct PyKernel {
  py::object fn;
  ~PyKernel() {
    py::gil_scoped_acquire gil;
    fn = py::object();
  }
};

BoxedKernel python_kernel(const std::string& name, py::function fn) {
  auto holder = std::shared_ptr<PyKernel>(new PyKernel{std::move(fn)});
  return [holder, name](ValueList& args) -> ValueList {
    py::gil_scoped_acquire gil;
    const OpEntry& e = Registry::global().get(name);
    py::tuple pargs(args.size());
    for (size_t i = 0; i < args.size(); ++i) pargs[i] = from_value(args[i]);
    py::object r = holder->fn(*pargs);
    ValueList out;
    size_t nret = e.schema.returns.size();
    if (nret == 0) return out;
    py::tuple rt = nret == 1 ? py::make_tuple(r) : py::tuple(r);
    HY_CHECK(rt.size() == nret, TypeError, "the Python kernel of op '", name, "' returned ", rt.size(),
             " values, its schema declares ", nret);
    for (size_t i = 0; i < nret; ++i) {
      SchemaArg spec{"result", e.schema.returns[i]};
      out.push_back(to_value(rt[i], spec, name));
    }
    return out;
  };
}

py::dict op_info(const OpEntry& e) {
  py::dict d;
  d["name"] = e.name;
  d["schema"] = e.schema.text;
  d["builtin"] = e.builtin;
  for (auto& kv : e.meta) d[py::str(kv.first)] = kv.second;
  py::list devices;
  for (int i = 0; i < kNumDeviceTypes; ++i)
    if (e.typed[i] || e.boxed[i]) devices.append(device_type_name(static_cast<DeviceType>(i)));
  if (e.typed_any) devices.append("any");
  d["devices"] = devices;
  py::list args;
  for (const SchemaArg& a : e.schema.args) {
    py::dict ad;
    ad["name"] = a.name;
    ad["type"] = arg_type_name(a.type);
    ad["optional"] = a.optional;
    ad["kwarg_only"] = a.kwarg_only;
    ad["default"] = a.default_text ? py::cast(*a.default_text) : py::none();
    args.append(ad);
  }
  d["args"] = args;
  return d;
}

}  // namespace

void bind_dispatch(py::module_& m, py::module_& ops) {
  m.def("_op_names", [] { return Registry::global().names(); });
  m.def("_op_info", [](const std::string& name) { return op_info(Registry::global().get(name)); }, py::arg("name"));
  m.def("_define_op", [](const std::string& schema, std::map<std::string, std::string> meta) {
    Registry::global().define(schema, std::move(meta));
  }, py::arg("schema"), py::arg("meta") = std::map<std::string, std::string>{});
  m.def("_impl_python", [](const std::string& name, const std::string& device, py::function fn) {
    Device d = device_from_string(device);
    Registry::global().impl_boxed(name, d.type, python_kernel(name, std::move(fn)));
  }, py::arg("name"), py::arg("device"), py::arg("fn"));
  m.def("_call_op", [](const std::string& name, py::args args, py::kwargs kwargs) {
    OpEntry& e = Registry::global().get(name);
    ValueList vals = bind_args(e, args, kwargs);
    ValueList out;
    {
      py::gil_scoped_release nogil;  // a Python kernel takes the GIL back itself
      out = Registry::global().call_boxed(name, vals);
    }
    return results_to_python(e, out);
  }, py::arg("name"));
  m.def("_load_library", [](const std::string& path) {
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    HY_CHECK(h != nullptr, ValueError, "load_library: cannot load '", path, "': ", dlerror());
    using InitFn = void (*)(Registry&);
    auto init = reinterpret_cast<InitFn>(dlsym(h, "hyflow_register_ops"));
    HY_CHECK(init != nullptr, ValueError, "load_library: '", path,
             "' does not export hyflow_register_ops (see docs/extending.md)");
    init(Registry::global());  // the handle stays open: its kernels live for the whole process
  }, py::arg("path"));
}

}  // namespace hy
