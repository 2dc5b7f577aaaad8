// hyflow.Tensor's +, -, *, / as CPython number slots (tensor_number_slots.cpp) and the operand rule
// every Tensor operator shares.
#pragma once
#include <pybind11/pybind11.h>

#include "core/tensor.h"

namespace hy {

/// The right-hand operand of an operator: a Tensor, a Python number wrapped as a weak 0-d tensor, a
/// complex number, or a NumPy array (NumPy defers `ndarray + tensor` to us through
/// __array_priority__; the array is shared when possible, as hy.as_tensor does). False for anything
/// else, so the operator returns NotImplemented and Python can try the reflected one.
bool tensor_operand(pybind11::handle h, Tensor& out);

/// Set nb_add, nb_subtract, nb_multiply and nb_true_divide on the Tensor type; call it from the class's
/// custom_type_setup (before PyType_Ready, which then adds __add__/__radd__ ... to the class dict).
void install_tensor_number_slots(PyHeapTypeObject* heap_type);

}  // namespace hy
