// Reading pybind11's own records of a bound function: its overloads and, per overload, the parameters as
// pybind11 wrote them in its signature line. Used to explain a bad call (bind_op_fallback.cpp) and to give
// hand-written bindings a text signature (bind_finish.cpp).
#pragma once
#include <string>
#include <vector>

#include <pybind11/pybind11.h>

namespace hy {

/// One parameter of an overload: a name with an optional default, or one of the markers "*", "/",
/// "*args", "**kwargs" (name only).
struct BoundParam {
  std::string name;
  std::string default_text;  ///< pybind11's repr of the default (when has_default)
  bool has_default = false;
};

/// The head of a pybind11 function's overload chain (a method's instancemethod is unwrapped); nullptr for
/// anything that is not a pybind11 function.
const pybind11::detail::function_record* pybind_records(pybind11::handle fn);
/// The parameters of one overload, read from its signature "(self: T, dim: int | None = None) -> R".
std::vector<BoundParam> pybind_params(const pybind11::detail::function_record& rec);
/// True for the catch-all last overload of def_op_call_fallback / def_bad_call (parameter _hyflow_first).
bool is_bad_call_overload(const pybind11::detail::function_record& rec);

}  // namespace hy
