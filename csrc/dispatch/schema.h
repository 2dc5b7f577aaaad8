// Op signatures, written as text and parsed once:
//   "add(Tensor self, Tensor other, *, Scalar alpha=1, Tensor? out=None) -> Tensor"
// The same grammar is read by csrc/ops/gen_ops.py for built-in ops and by parse_schema() for ops
// users define at run time.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace hy {

/// Argument/return types an op signature may use.
enum class ArgType {
  ArgType_Tensor, ArgType_TensorList, ArgType_Scalar, ArgType_Int, ArgType_IntList, ArgType_Float,
  ArgType_Bool, ArgType_Str, ArgType_DType, ArgType_Device, ArgType_Generator
};

/// One parameter of a signature.
struct SchemaArg {
  std::string name;
  ArgType type;
  bool optional = false;    // "Tensor?" accepts None
  bool kwarg_only = false;  // after "*"
  std::optional<std::string> default_text;  // as written in the schema ("1", "None", "'constant'")
};

/// A parsed signature.
struct Schema {
  std::string name;
  std::vector<SchemaArg> args;
  std::vector<ArgType> returns;  // one entry per returned value; TensorList counts as one
  std::string text;
  /// Index of the argument called `name`, or -1.
  int find_arg(const std::string& name) const;
};

/// Parse a signature; throws ValueError pointing at the bad part.
Schema parse_schema(const std::string& text);
/// "Tensor", "int[]", ...
const char* arg_type_name(ArgType t);

}  // namespace hy
