// Python call arguments bound to an op's schema by name, shared by hy.ops.<user op> (bind_dispatch.cpp)
// and the last-resort overload of the generated bindings (bind_op_fallback.cpp).
#pragma once
#include <string>

#include "bindings/pyconvert.h"
#include "dispatch/registry.h"

namespace hy {

/// Positionals in order, then keywords, then defaults; a bad call raises the TypeError Python would
/// (unknown keyword with the closest name, missing or repeated argument, wrong type), naming `called`
/// (the name the user called, default the op's).
ValueList bind_args(const OpEntry& e, const pybind11::tuple& args, const pybind11::dict& kwargs,
                    const std::string& called = "");
/// An op's results as Python: None, the one value, or a tuple.
pybind11::object results_to_python(const OpEntry& e, const ValueList& r);

}  // namespace hy
