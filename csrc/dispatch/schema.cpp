#include "dispatch/schema.h"

#include <cctype>

#include "core/error.h"

namespace hy {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n"), e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool valid_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

ArgType parse_type(const std::string& t, const std::string& schema) {
  if (t == "Tensor") return ArgType::ArgType_Tensor;
  if (t == "Tensor[]") return ArgType::ArgType_TensorList;
  if (t == "Scalar") return ArgType::ArgType_Scalar;
  if (t == "int") return ArgType::ArgType_Int;
  if (t == "int[]") return ArgType::ArgType_IntList;
  if (t == "float") return ArgType::ArgType_Float;
  if (t == "bool") return ArgType::ArgType_Bool;
  if (t == "str") return ArgType::ArgType_Str;
  if (t == "ScalarType") return ArgType::ArgType_DType;
  if (t == "Device") return ArgType::ArgType_Device;
  if (t == "Generator") return ArgType::ArgType_Generator;
  throw ValueError(str("schema '", schema, "': unknown type '", t,
                       "' (expected Tensor, Tensor[], Scalar, int, int[], float, bool, str, ScalarType, "
                       "Device or Generator)"));
}

// Split on commas that are not inside brackets or quotes.
std::vector<std::string> split_top(const std::string& s) {
  std::vector<std::string> out;
  int depth = 0;
  bool quote = false;
  std::string cur;
  for (char c : s) {
    if (c == '\'' || c == '"') quote = !quote;
    if (!quote && (c == '[' || c == '(')) ++depth;
    if (!quote && (c == ']' || c == ')')) --depth;
    if (c == ',' && depth == 0 && !quote) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty()) out.push_back(trim(cur));
  return out;
}

}  // namespace

int Schema::find_arg(const std::string& n) const {
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i].name == n) return static_cast<int>(i);
  return -1;
}

const char* arg_type_name(ArgType t) {
  switch (t) {
    case ArgType::ArgType_Tensor: return "Tensor";
    case ArgType::ArgType_TensorList: return "Tensor[]";
    case ArgType::ArgType_Scalar: return "Scalar";
    case ArgType::ArgType_Int: return "int";
    case ArgType::ArgType_IntList: return "int[]";
    case ArgType::ArgType_Float: return "float";
    case ArgType::ArgType_Bool: return "bool";
    case ArgType::ArgType_Str: return "str";
    case ArgType::ArgType_DType: return "ScalarType";
    case ArgType::ArgType_Device: return "Device";
    case ArgType::ArgType_Generator: return "Generator";
  }
  return "?";
}

Schema parse_schema(const std::string& text) {
  Schema s;
  s.text = text;
  size_t lp = text.find('('), arrow = text.rfind("->");
  HY_CHECK(lp != std::string::npos && arrow != std::string::npos && arrow > lp, ValueError, "schema '", text,
           "' must look like 'name(Type arg, ...) -> Ret'");
  size_t rp = text.rfind(')', arrow);
  HY_CHECK(rp != std::string::npos && rp > lp, ValueError, "schema '", text, "': missing ')'");
  s.name = trim(text.substr(0, lp));
  HY_CHECK(valid_identifier(s.name), ValueError, "schema '", text, "': op name '", s.name,
           "' is not an identifier");
  bool kw = false;
  for (const std::string& part : split_top(text.substr(lp + 1, rp - lp - 1))) {
    if (part == "*") { kw = true; continue; }
    SchemaArg a;
    std::string decl = part;
    size_t eq = part.find('=');
    if (eq != std::string::npos) {
      a.default_text = trim(part.substr(eq + 1));
      decl = trim(part.substr(0, eq));
    }
    size_t sp = decl.find_last_of(' ');
    HY_CHECK(sp != std::string::npos, ValueError, "schema '", text, "': argument '", decl,
             "' needs a type and a name");
    std::string type = trim(decl.substr(0, sp));
    a.name = trim(decl.substr(sp + 1));
    HY_CHECK(valid_identifier(a.name), ValueError, "schema '", text, "': bad argument name '", a.name, "'");
    if (!type.empty() && type.back() == '?') { a.optional = true; type.pop_back(); }
    a.type = parse_type(type, text);
    a.kwarg_only = kw;
    HY_CHECK(s.find_arg(a.name) < 0, ValueError, "schema '", text, "': argument '", a.name, "' repeats");
    s.args.push_back(std::move(a));
  }
  std::string ret = trim(text.substr(arrow + 2));
  if (!ret.empty() && ret.front() == '(') {
    HY_CHECK(ret.back() == ')', ValueError, "schema '", text, "': bad return tuple");
    for (const std::string& r : split_top(ret.substr(1, ret.size() - 2))) s.returns.push_back(parse_type(r, text));
  } else if (ret != "()") {
    s.returns.push_back(parse_type(ret, text));
  }
  return s;
}

}  // namespace hy
