// hyflow.Size: the type of t.shape and t.size(), torch.Size's counterpart (a tuple subclass).
//
//   t.shape                  -> hyflow.Size([2, 3])   (== (2, 3); t.shape[0] is an int)
//   t.shape[1:]              -> hyflow.Size([3])      (slices, + and * stay Sizes)
//   hyflow.Size([2, 3]).numel() -> 6
#pragma once
#include <pybind11/pybind11.h>

#include "core/dim_vector.h"

namespace hy {

/// Define hyflow._C.Size (once per process) and add it to `m`.
void bind_size_type(pybind11::module_& m);
/// A new hyflow.Size holding `dims` (bind_size_type must have run).
pybind11::object size_to_python(const DimVector& dims);
/// The hyflow.Size type (a borrowed reference).
PyTypeObject* size_type();

}  // namespace hy
