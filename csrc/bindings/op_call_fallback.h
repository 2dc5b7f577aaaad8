// The last overload of every generated op binding (hy.add, Tensor.sum, Tensor.add_, ...).
//
// pybind11 answers a call that no overload accepts with "incompatible function arguments" and a list of
// signatures, naming neither the bad keyword nor the bad argument. bind_ops_generated.cpp therefore ends
// with one more overload per name, taking anything, which pybind11 reaches only after the real
// overloads failed both its passes (without and with conversions). It binds the call to the op's schema
// like hy.ops.<user op> does: a bad call raises the TypeError Python would ("add() got an unexpected
// keyword argument 'alhpa' (did you mean 'alpha'?)"); a call the schema accepts runs the op boxed.
#pragma once
#include <string>
#include <vector>

#include "bindings/pyconvert.h"

namespace hy {

/// hy.<name> / hyflow._C.ops.<name>: `ops` are the op(s) bound under that name, in overload order.
void def_op_call_fallback(pybind11::module_& scope, const char* name, std::vector<std::string> ops);
/// Tensor.<name>: self is the ops' first argument; `inplace` (Tensor.add_) passes out=self.
void def_method_call_fallback(pybind11::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls, const char* name,
                              std::vector<std::string> ops, bool inplace);

/// The last overload of a hand-written function or method `name` of `scope` (a module or a class): a call no
/// overload took raises TypeError naming the unexpected keyword, or the arguments given, with the signatures
/// the function takes (`shown(...)`: "Tensor.size(dim=None)", "set_num_threads(n)", "Generator(seed=None)"
/// for a constructor), instead of pybind11's "incompatible function arguments". bind_finish.cpp calls it
/// for every hand-written binding of _C, after all of them are defined.
void def_bad_call(pybind11::handle scope, const char* name, const std::string& shown);

}  // namespace hy
