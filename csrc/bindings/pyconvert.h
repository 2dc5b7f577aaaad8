// pybind11 type casters between Python objects and hyflow's C++ argument types. Every binding file
// includes this first, so Python numbers, tuples, dtype names and tensors convert the same way everywhere.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "core/device.h"
#include "core/dim_vector.h"
#include "core/generator.h"
#include "core/scalar.h"
#include "core/tensor.h"

namespace hy {
/// Wrap a Python bool/int/float as a 0-d "wrapped number" tensor (weak in type promotion).
Tensor wrap_python_number(pybind11::handle h);
/// True for Python bool/int/float and NumPy scalars of those kinds.
bool is_python_number(pybind11::handle h);
/// True for a Python complex or a NumPy complex scalar.
bool is_python_complex(pybind11::handle h);
/// Wrap a Python complex as a 0-d complex128 "wrapped number" tensor (weak: it counts as complex64, so
/// float32_tensor * 1j is complex64 and float64_tensor * 1j complex128, as in torch).
Tensor wrap_python_complex(pybind11::handle h);
/// Convert a Python number to a Scalar (bool, int or float kind). Throws TypeError otherwise.
Scalar scalar_from_python(pybind11::handle h);
/// A 0-d tensor as a Scalar (torch accepts them for number arguments: alpha=torch.tensor(2.)).
/// Returns false, leaving `out` alone, for anything else.
bool scalar_from_0d_tensor(pybind11::handle h, Scalar* out);
/// Parse a dtype argument: hyflow.dtype, a string ("float32"), a NumPy dtype or Python type (float/int/bool).
DType dtype_from_python(pybind11::handle h);
/// The Python object (hyflow.float32 ...) for a dtype.
pybind11::object dtype_to_python(DType t);
/// Parse an int or a sequence of ints; `what` names the argument in errors.
DimVector dims_from_python(pybind11::handle h, const char* what);
/// (2, 3) or 2, 3 passed as *args -> DimVector.
DimVector dims_from_args(const pybind11::args& args, const char* what);
}  // namespace hy

namespace pybind11 {
namespace detail {

template <> struct type_caster<hy::Tensor> {
  PYBIND11_TYPE_CASTER(hy::Tensor, const_name("Tensor"));
  bool load(handle src, bool convert) {
    if (src.is_none()) return false;
    make_caster<std::shared_ptr<hy::TensorImpl>> holder;
    if (holder.load(src, convert)) {
      value = hy::Tensor(cast_op<std::shared_ptr<hy::TensorImpl>>(holder));
      return true;
    }
    // Python numbers stand in for tensors, as in torch.add(x, 2).
    if (hy::is_python_number(src)) {
      value = hy::wrap_python_number(src);
      return true;
    }
    if (hy::is_python_complex(src)) {
      value = hy::wrap_python_complex(src);
      return true;
    }
    return false;
  }
  static handle cast(const hy::Tensor& t, return_value_policy, handle) {
    if (!t.defined()) return none().release();
    return make_caster<std::shared_ptr<hy::TensorImpl>>::cast(t.impl_ptr(), return_value_policy::take_ownership,
                                                             handle());
  }
};

template <> struct type_caster<hy::Scalar> {
  PYBIND11_TYPE_CASTER(hy::Scalar, const_name("Scalar"));
  bool load(handle src, bool convert) {
    if (hy::is_python_number(src)) {
      value = hy::scalar_from_python(src);
      return true;
    }
    // Only on pybind11's converting pass: an overload taking a Tensor there still wins for tensors.
    return convert && hy::scalar_from_0d_tensor(src, &value);
  }
  static handle cast(const hy::Scalar& s, return_value_policy, handle) {
    if (s.is_bool()) return pybind11::bool_(s.to_bool()).release();
    if (s.is_int()) return pybind11::int_(s.to_int()).release();
    return pybind11::float_(s.to_double()).release();
  }
};

template <> struct type_caster<hy::DimVector> {
  PYBIND11_TYPE_CASTER(hy::DimVector, const_name("Sequence[int]"));
  bool load(handle src, bool) {
    if (src.is_none() || isinstance<str>(src)) return false;
    // A bare bool is no dim list (x.std(True) is torch's legacy unbiased=True): refused softly, so the op's
    // fallback overload sees the call (and names the argument when nothing takes it).
    if (PyBool_Check(src.ptr())) return false;
    if (!PyLong_Check(src.ptr()) && !PySequence_Check(src.ptr()) && !hasattr(src, "__index__")) return false;
    value = hy::dims_from_python(src, "argument");
    return true;
  }
  static handle cast(const hy::DimVector& v, return_value_policy, handle) {
    tuple t(v.size());
    for (size_t i = 0; i < v.size(); ++i) t[i] = pybind11::int_(v[i]);
    return t.release();
  }
};

template <> struct type_caster<hy::DType> {
  PYBIND11_TYPE_CASTER(hy::DType, const_name("dtype"));
  bool load(handle src, bool) {
    if (src.is_none()) return false;
    value = hy::dtype_from_python(src);
    return true;
  }
  static handle cast(hy::DType t, return_value_policy, handle) { return hy::dtype_to_python(t).release(); }
};

template <> struct type_caster<hy::Device> {
  PYBIND11_TYPE_CASTER(hy::Device, const_name("Device"));
  bool load(handle src, bool) {
    if (!isinstance<str>(src)) {
      if (hasattr(src, "type") && hasattr(src, "index") && !src.is_none()) {  // a hyflow.device object
        src = src.attr("__str__")();
      } else {
        return false;
      }
    }
    value = hy::device_from_string(src.cast<std::string>());
    return true;
  }
  static handle cast(const hy::Device& d, return_value_policy, handle) {
    return str(hy::device_str(d)).release();
  }
};

}  // namespace detail
}  // namespace pybind11
