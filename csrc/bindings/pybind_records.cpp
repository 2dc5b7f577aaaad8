// See pybind_records_internal.h.
#include "bindings/pybind_records_internal.h"

#include <algorithm>

namespace py = pybind11;

namespace hy {
namespace {

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The parameter texts between the signature's outer parentheses, split at top-level commas (types hold
// [a, b], defaults may hold (1, 2) or quoted strings).
std::vector<std::string> parameter_texts(const std::string& sig) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  char quote = 0;
  for (size_t i = 0; i < sig.size(); ++i) {
    const char ch = sig[i];
    if (quote) {
      if (ch == quote && sig[i - 1] != '\\') quote = 0;
    } else if (ch == '\'' || ch == '"') {
      quote = ch;
    } else if (ch == '[' || ch == '(' || ch == '{') {
      if (depth++ == 0) continue;  // the opening parenthesis of the parameter list
    } else if (ch == ']' || ch == ')' || ch == '}') {
      if (--depth == 0) break;  // its closing one: the return annotation follows
    } else if (ch == ',' && depth == 1) {
      out.push_back(trimmed(cur));
      cur.clear();
      continue;
    }
    if (depth > 0) cur += ch;
  }
  if (!trimmed(cur).empty()) out.push_back(trimmed(cur));
  return out;
}

}  // namespace

const py::detail::function_record* pybind_records(py::handle fn) {
  if (!fn) return nullptr;
  PyObject* f = fn.ptr();
  if (PyInstanceMethod_Check(f)) f = PyInstanceMethod_GET_FUNCTION(f);
  if (!PyCFunction_Check(f)) return nullptr;
  PyObject* self = PyCFunction_GET_SELF(f);
  return self ? py::detail::function_record_ptr_from_PyObject(self) : nullptr;
}

std::vector<BoundParam> pybind_params(const py::detail::function_record& rec) {
  std::vector<BoundParam> params;
  if (rec.signature == nullptr) return params;
  for (const std::string& text : parameter_texts(rec.signature)) {
    BoundParam p;
    const size_t colon = text.find(':'), eq = text.find(" = ");
    p.name = trimmed(text.substr(0, std::min(colon, eq)));
    if (eq != std::string::npos && (colon == std::string::npos || colon < eq)) {
      p.has_default = true;
      p.default_text = trimmed(text.substr(eq + 3));
    }
    params.push_back(p);
  }
  return params;
}

bool is_bad_call_overload(const py::detail::function_record& rec) {
  for (const auto& a : rec.args)
    if (a.name != nullptr && std::string(a.name) == "_hyflow_first") return true;
  return false;
}

}  // namespace hy
