// Tensor.__getitem__ / __setitem__ with NumPy's rules.
//
//   t[1, 2:5, None, ...]     basic indexing: a view (select / slice / unsqueeze)
//   t[[0, 2], :, idx]        advanced indexing: a copy (the `index` op), written with `index_put_`
//   t[t > 0] = 0             a bool mask selects the positions it marks (masked_fill_ for scalars)
//
// An index is parsed into items, basic items are applied as views from left to right, and the advanced
// ones (integer tensors/arrays/lists, bool masks as their nonzero() coordinates, and Python ints once
// any advanced index is present) are broadcast together. As in NumPy, the broadcast dims replace the
// indexed dims in place when the advanced indices are adjacent, and go first when they are separated.
#include <pybind11/numpy.h>

#include <algorithm>

#include "bindings/pyconvert.h"
#include "core/error.h"
#include "core/shape_util.h"
#include "hyflow/ops/creation.h"
#include "hyflow/ops/indexing.h"
#include "hyflow/ops/tensor.h"
#include "kernels/device_copy.h"

namespace py = pybind11;

namespace hy {
Tensor from_numpy(py::handle obj);  // bind_interop.cpp
py::dtype numpy_dtype(DType t);     // bind_interop.cpp

namespace {

enum class IndexKind { IndexKind_Int, IndexKind_Slice, IndexKind_None, IndexKind_Ellipsis, IndexKind_Bool,
                       IndexKind_Tensor, IndexKind_Mask };

/// One entry of an index tuple.
struct IndexItem {
  IndexKind kind;
  int64_t value = 0;                          // Int: the index; Bool: 0 or 1
  Py_ssize_t start = 0, stop = 0, step = 1;   // Slice, as PySlice_Unpack gives them
  Tensor tensor;                              // Tensor: int64 indices; Mask: a bool mask
};

py::module_& numpy() {
  static py::module_* np = new py::module_(py::module_::import("numpy"));  // leaked: outlives interpreter teardown
  return *np;
}

// `t` on `device` (a copy when it lives elsewhere): index tensors built from Python lists and NumPy
// arrays, masks and assigned values live on the CPU and join a tensor of another device this way.
Tensor on_device_of(const Tensor& t, const Tensor& self) {
  return t.device() == self.device() ? t : tensor_to_device(t, self.device(), false);
}

int64_t int_of_0d(const Tensor& t0) {
  const Tensor t = t0.device().is_cpu() ? t0 : tensor_to_device(t0, kCPU, false);  // a device scalar: read it
  switch (t.dtype()) {
    case DType::Int32: return *t.data<int32_t>();
    case DType::Int64: return *t.data<int64_t>();
    default: return *t.data<bool>();
  }
}

IndexItem item_from_tensor(const Tensor& t) {
  if (t.dtype() == DType::Bool) {
    if (t.dim() == 0) return IndexItem{IndexKind::IndexKind_Bool, int_of_0d(t)};
    return IndexItem{IndexKind::IndexKind_Mask, 0, 0, 0, 1, t};
  }
  HY_CHECK(dtype_is_integral(t.dtype()), IndexError, "tensors used as indices must be integer or bool tensors, got ",
           t.describe());
  if (t.dim() == 0) return IndexItem{IndexKind::IndexKind_Int, int_of_0d(t)};  // a 0-d tensor is an int
  return IndexItem{IndexKind::IndexKind_Tensor, 0, 0, 0, 1, ops::to_dtype(t, DType::Int64, false)};
}

// A NumPy array (or anything np.asarray accepts, such as nested lists) as an index tensor or mask.
IndexItem item_from_array(py::handle obj) {
  py::array arr;
  try {
    arr = numpy().attr("asarray")(obj);
  } catch (py::error_already_set& e) {
    throw IndexError(str("could not convert ", std::string(py::str(py::type::of(obj).attr("__name__"))),
                         " to an index array: ", e.what()));
  }
  char kind = arr.dtype().kind();
  if (arr.size() == 0 && kind == 'f') kind = 'i';  // [] is an empty integer index, as in NumPy
  HY_CHECK(kind == 'b' || kind == 'i' || kind == 'u', IndexError, "arrays used as indices must be of integer or "
           "boolean type, got ", std::string(py::str(arr.dtype())), " from ",
           std::string(py::str(py::type::of(obj).attr("__name__"))));
  const char* want = kind == 'b' ? "bool" : "int64";
  // A contiguous, writable array hyflow can view without copying (from_numpy refuses read-only memory).
  py::array conv = numpy().attr("asarray")(arr, want, "C");  // (ascontiguousarray would make 0-d arrays 1-d)
  if (!conv.writeable()) conv = conv.attr("copy")();
  return item_from_tensor(from_numpy(conv));
}

// A flat list of Python ints straight into an int64 tensor: the common t[[0, 2, 5]] without NumPy.
bool int_list_fast(py::handle obj, IndexItem& out) {
  if (!PyList_Check(obj.ptr())) return false;
  auto list = py::reinterpret_borrow<py::list>(obj);
  const int64_t n = static_cast<int64_t>(list.size());
  if (n == 0) return false;
  for (py::handle x : list)
    if (!PyLong_CheckExact(x.ptr())) return false;
  Tensor t = Tensor::empty({n}, DType::Int64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    int overflow = 0;
    p[i] = PyLong_AsLongLongAndOverflow(list[static_cast<size_t>(i)].ptr(), &overflow);
    HY_CHECK(!overflow, IndexError, "index ", std::string(py::str(list[static_cast<size_t>(i)])), " does not fit in int64");
  }
  out = IndexItem{IndexKind::IndexKind_Tensor, 0, 0, 0, 1, t};
  return true;
}

IndexItem parse_item(py::handle h) {
  PyObject* o = h.ptr();
  if (PyLong_CheckExact(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    HY_CHECK(!overflow, IndexError, "index ", std::string(py::str(h)), " does not fit in int64");
    return IndexItem{IndexKind::IndexKind_Int, v};
  }
  if (PySlice_Check(o)) {
    IndexItem it{IndexKind::IndexKind_Slice};
    if (PySlice_Unpack(o, &it.start, &it.stop, &it.step) < 0) throw py::error_already_set();
    HY_CHECK(it.step > 0, ValueError, "slice step must be positive, got ", it.step,
             " (negative steps are not supported, as in torch: t.flip(dim) reverses a dim, as a copy)");
    return it;
  }
  if (o == Py_None) return IndexItem{IndexKind::IndexKind_None};
  if (o == Py_Ellipsis) return IndexItem{IndexKind::IndexKind_Ellipsis};
  if (PyBool_Check(o)) return IndexItem{IndexKind::IndexKind_Bool, o == Py_True};
  if (py::isinstance<TensorImpl>(h)) return item_from_tensor(h.cast<Tensor>());
  if (py::isinstance<py::array>(h)) {
    auto arr = py::reinterpret_borrow<py::array>(h);
    if (arr.ndim() == 0 && arr.dtype().kind() != 'b') return parse_item(arr.attr("item")());
    return item_from_array(h);
  }
  if (PyList_Check(o) || PyTuple_Check(o)) {
    IndexItem it;
    if (int_list_fast(h, it)) return it;
    return item_from_array(h);
  }
  if (PyObject_IsInstance(o, numpy().attr("bool_").ptr()) == 1) return IndexItem{IndexKind::IndexKind_Bool, h.cast<bool>()};
  if (PyIndex_Check(o)) {  // NumPy integer scalars and other int-likes
    py::object v = py::reinterpret_steal<py::object>(PyNumber_Index(o));
    if (!v) throw py::error_already_set();
    return parse_item(v);
  }
  throw IndexError(str("only integers, slices (`:`), ellipsis (`...`), None and integer or boolean tensors/arrays "
                       "are valid indices, got ", std::string(py::str(py::type::of(h).attr("__name__")))));
}

std::vector<IndexItem> parse_index(py::handle index) {
  std::vector<IndexItem> items;
  if (PyTuple_Check(index.ptr())) {
    for (py::handle h : py::reinterpret_borrow<py::tuple>(index)) items.push_back(parse_item(h));
  } else {
    items.push_back(parse_item(index));
  }
  return items;
}

/// The outcome of applying an index: basic items folded into a view; advanced ones still to apply.
struct IndexPlan {
  Tensor view;                    // self after ints, slices, None and Ellipsis (a view)
  std::vector<int64_t> adv_dims;  // dims of `view` the advanced indices address, ascending
  std::vector<Tensor> adv;        // their int64 index tensors (not yet broadcast)
  Shape adv_shape;                // the indices broadcast together
};

void check_index_bounds(const Tensor& idx, int64_t size, int64_t dim) {
  // An index tensor on a device is checked by the kernel (the same IndexError, worded as the index op
  // words it), not read back here.
  if (!idx.device().is_cpu()) return;
  Tensor c = ops::contiguous(idx);
  const int64_t* p = c.data<int64_t>();
  for (int64_t i = 0, n = c.numel(); i < n; ++i)
    HY_CHECK(p[i] >= -size && p[i] < size, IndexError, "index ", p[i], " is out of bounds for dimension ", dim,
             " with size ", size);
}

Tensor scalar_index(int64_t v) {
  Tensor t = Tensor::empty({}, DType::Int64);
  *t.data<int64_t>() = v;
  return t;
}

IndexPlan plan_index(const Tensor& self, const std::vector<IndexItem>& items) {
  int64_t consumed = 0, ellipses = 0;
  bool advanced = false;
  for (const IndexItem& it : items) {
    switch (it.kind) {
      case IndexKind::IndexKind_Int:
      case IndexKind::IndexKind_Slice:
      case IndexKind::IndexKind_Tensor: ++consumed; break;
      case IndexKind::IndexKind_Mask: consumed += it.tensor.dim(); break;
      case IndexKind::IndexKind_Ellipsis: ++ellipses; break;
      default: break;
    }
    advanced |= it.kind == IndexKind::IndexKind_Tensor || it.kind == IndexKind::IndexKind_Mask ||
                it.kind == IndexKind::IndexKind_Bool;
  }
  HY_CHECK(ellipses <= 1, IndexError, "an index can only have a single ellipsis ('...')");
  HY_CHECK(consumed <= self.dim(), IndexError, "too many indices for tensor of dimension ", self.dim(), " (",
           consumed, " indexed)");

  IndexPlan plan;
  Tensor v = self;
  int64_t d = 0;   // dim of v the next item applies to
  int64_t sd = 0;  // the same dim numbered in self, for error messages
  std::vector<std::pair<Tensor, int64_t>> checks;  // index tensors and the dim of self they address
  auto add_advanced = [&](int64_t dim, Tensor idx) {
    plan.adv_dims.push_back(dim);
    plan.adv.push_back(std::move(idx));
  };
  for (const IndexItem& it : items) {
    switch (it.kind) {
      case IndexKind::IndexKind_Int: {
        int64_t size = self.shape()[sd];
        HY_CHECK(it.value >= -size && it.value < size, IndexError, "index ", it.value,
                 " is out of bounds for dimension ", sd, " with size ", size);
        if (advanced) {  // NumPy: an int next to an advanced index is a 0-d advanced index
          add_advanced(d++, scalar_index(it.value));
        } else {
          v = ops::select(v, d, it.value);
        }
        ++sd;
        break;
      }
      case IndexKind::IndexKind_Slice:
        v = ops::slice(v, d++, it.start, it.stop, it.step);
        ++sd;
        break;
      case IndexKind::IndexKind_None: v = ops::unsqueeze(v, d++); break;
      case IndexKind::IndexKind_Ellipsis:
        d += self.dim() - consumed;
        sd += self.dim() - consumed;
        break;
      case IndexKind::IndexKind_Bool:  // a 0-d mask: a new dim of size 1 (True) or 0 (False)
        v = ops::unsqueeze(v, d);
        add_advanced(d++, ops::zeros(DimVector{it.value ? 1 : 0}, DType::Int64, std::nullopt));
        break;
      case IndexKind::IndexKind_Tensor:
        checks.push_back({it.tensor, sd});
        add_advanced(d++, it.tensor);
        ++sd;
        break;
      case IndexKind::IndexKind_Mask: {
        const Tensor& m = it.tensor;
        const int64_t k = m.dim();
        Shape covered(v.shape().begin() + d, v.shape().begin() + d + k);
        HY_CHECK(m.shape() == covered, IndexError, "boolean index of shape ", m.shape(),
                 " does not match the indexed tensor's shape ", covered, " at dimension ", sd);
        Tensor nz = ops::nonzero(m);
        for (int64_t j = 0; j < k; ++j) add_advanced(d++, ops::select(nz, 1, j));
        sd += k;
        break;
      }
    }
  }
  plan.view = v;
  for (size_t j = 0; j < plan.adv.size(); ++j) {
    if (j == 0) {
      plan.adv_shape = plan.adv[0].shape();
      continue;
    }
    try {
      plan.adv_shape = broadcast_shapes(plan.adv_shape, plan.adv[j].shape());
    } catch (const ValueError&) {
      std::string shapes;
      for (const Tensor& t : plan.adv) shapes += str(" ", t.shape());
      throw IndexError(str("shape mismatch: indexing tensors could not be broadcast together with shapes", shapes));
    }
  }
  // Checked here, with self's dim numbers, rather than in the kernel; as in NumPy, an empty broadcast
  // selects nothing and checks nothing.
  if (!plan.adv.empty() && shape_numel(plan.adv_shape) > 0)
    for (const auto& [idx, dim] : checks) check_index_bounds(idx, self.shape()[dim], dim);
  for (Tensor& t : plan.adv) t = on_device_of(t, self);
  return plan;
}

bool adjacent(const std::vector<int64_t>& dims) {
  for (size_t j = 1; j < dims.size(); ++j)
    if (dims[j] != dims[j - 1] + 1) return false;
  return true;
}

// The permutation of plan.view that brings the advanced dims first (in order), the others after.
DimVector advanced_first(const IndexPlan& plan) {
  DimVector perm(plan.adv_dims.begin(), plan.adv_dims.end());
  for (int64_t i = 0; i < plan.view.dim(); ++i)
    if (std::find(plan.adv_dims.begin(), plan.adv_dims.end(), i) == plan.adv_dims.end()) perm.push_back(i);
  return perm;
}

bool is_identity(const DimVector& perm) {
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != static_cast<int64_t>(i)) return false;
  return true;
}

// Where the advanced dims start in the result: in place when adjacent, else at the front.
int64_t advanced_position(const IndexPlan& plan) {
  return adjacent(plan.adv_dims) ? plan.adv_dims.front() : 0;
}

// The permutation taking a tensor laid out as (B..., rest...) to (rest[:p]..., B..., rest[p:]...).
DimVector move_block(int64_t nb, int64_t nrest, int64_t p) {
  DimVector perm;
  for (int64_t i = 0; i < p; ++i) perm.push_back(nb + i);
  for (int64_t i = 0; i < nb; ++i) perm.push_back(i);
  for (int64_t i = p; i < nrest; ++i) perm.push_back(nb + i);
  return perm;
}

DimVector inverse(const DimVector& perm) {
  DimVector inv(perm.size(), 0);
  for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = static_cast<int64_t>(i);
  return inv;
}

Tensor permuted(const Tensor& t, const DimVector& perm) { return is_identity(perm) ? t : ops::permute(t, perm); }

Tensor getitem(const Tensor& self, py::handle index) {
  if (PyLong_CheckExact(index.ptr())) {  // t[i]: the hot path, a single select
    IndexItem it = parse_item(index);
    HY_CHECK(self.dim() > 0, IndexError, "invalid index of a 0-d tensor; use tensor.item() or tensor[()]");
    HY_CHECK(it.value >= -self.shape()[0] && it.value < self.shape()[0], IndexError, "index ", it.value,
             " is out of bounds for dimension 0 with size ", self.shape()[0]);
    return ops::select(self, 0, it.value);
  }
  std::vector<IndexItem> items = parse_index(index);
  if (items.size() == 1 && items[0].kind == IndexKind::IndexKind_Mask && items[0].tensor.dim() == self.dim()) {
    HY_CHECK(items[0].tensor.shape() == self.shape(), IndexError, "boolean index of shape ", items[0].tensor.shape(),
             " does not match the indexed tensor's shape ", self.shape(), " at dimension 0");
    return ops::masked_select(self, on_device_of(items[0].tensor, self));
  }
  IndexPlan plan = plan_index(self, items);
  if (plan.adv.empty()) {
    // A new view even for t[()] and t[...], as NumPy gives: never the caller's own handle.
    return plan.view.impl() == self.impl() ? ops::select(ops::unsqueeze(self, 0), 0, 0) : plan.view;
  }
  DimVector perm = advanced_first(plan);
  Tensor result = ops::index(permuted(plan.view, perm), plan.adv);
  const int64_t nb = static_cast<int64_t>(plan.adv_shape.size());
  const int64_t nrest = plan.view.dim() - static_cast<int64_t>(plan.adv.size());
  return permuted(result, move_block(nb, nrest, advanced_position(plan)));
}

// The value of an assignment as a tensor of `dtype`: tensors are converted (copy_ semantics), Python
// numbers and array-likes (lists, NumPy arrays) are read through NumPy.
Tensor value_tensor(py::handle value, DType dtype) {
  if (py::isinstance<TensorImpl>(value)) return ops::to_dtype(value.cast<Tensor>(), dtype, false);
  if (is_python_number(value)) {
    Tensor t = Tensor::empty({}, dtype);
    ops::fill_(t, scalar_from_python(value));
    return t;
  }
  DType via = dtype == DType::BFloat16 ? DType::Float32 : dtype;
  py::array arr = numpy().attr("array")(value, numpy_dtype(via));  // a fresh writable copy
  Tensor t = from_numpy(arr);
  return via == dtype ? t : ops::to_dtype(t, dtype, false);
}

// NumPy drops leading size-1 dims of a value with more dims than its target (a[0] = ones((1, 3))).
Tensor fit_value(const Tensor& value, const Shape& target) {
  Tensor v = value;
  while (v.dim() > static_cast<int64_t>(target.size()) && v.shape()[0] == 1) v = ops::select(v, 0, 0);
  bool ok = v.dim() <= static_cast<int64_t>(target.size());
  for (int64_t i = 1; ok && i <= v.dim(); ++i) {
    int64_t a = v.shape()[v.dim() - i], b = target[target.size() - i];
    ok = a == b || a == 1;
  }
  HY_CHECK(ok, ValueError, "could not broadcast the value of shape ", value.shape(), " into the indexed shape ", target);
  return v;
}

void setitem(const Tensor& self, py::handle index, py::handle value) {
  std::vector<IndexItem> items = parse_index(index);
  const bool scalar = is_python_number(value);
  if (scalar && items.size() == 1 && items[0].kind == IndexKind::IndexKind_Mask) {  // t[mask] = 0
    const Tensor& m = items[0].tensor;
    HY_CHECK(m.dim() <= self.dim(), IndexError, "too many indices for tensor of dimension ", self.dim(), " (",
             m.dim(), " indexed)");
    Shape covered(self.shape().begin(), self.shape().begin() + m.dim());
    HY_CHECK(m.shape() == covered, IndexError, "boolean index of shape ", m.shape(),
             " does not match the indexed tensor's shape ", covered, " at dimension 0");
    DimVector shape = m.shape();
    while (static_cast<int64_t>(shape.size()) < self.dim()) shape.push_back(1);
    ops::masked_fill_(self, ops::reshape(on_device_of(m, self), shape), scalar_from_python(value));
    return;
  }
  IndexPlan plan = plan_index(self, items);
  if (plan.adv.empty()) {
    if (scalar) {
      ops::fill_(plan.view, scalar_from_python(value));
    } else {
      ops::copy_(plan.view, on_device_of(fit_value(value_tensor(value, self.dtype()), plan.view.shape()), self));
    }
    return;
  }
  DimVector perm = advanced_first(plan);
  Tensor target_view = permuted(plan.view, perm);
  // The value is laid out like getitem's result; bring it to the index op's (B..., rest...) layout.
  const int64_t nb = static_cast<int64_t>(plan.adv_shape.size());
  const int64_t nrest = plan.view.dim() - static_cast<int64_t>(plan.adv.size());
  const int64_t p = advanced_position(plan);
  Shape result_shape;
  for (int64_t i = 0; i < p; ++i) result_shape.push_back(target_view.shape()[plan.adv.size() + i]);
  for (int64_t x : plan.adv_shape) result_shape.push_back(x);
  for (int64_t i = p; i < nrest; ++i) result_shape.push_back(target_view.shape()[plan.adv.size() + i]);
  Tensor v = on_device_of(fit_value(value_tensor(value, self.dtype()), result_shape), self);
  v = ops::expand(v, result_shape);
  v = permuted(v, inverse(move_block(nb, nrest, p)));
  ops::index_put_(target_view, plan.adv, v, false);
}

}  // namespace

void bind_indexing(py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& cls) {
  cls.def("__getitem__", [](const Tensor& self, py::handle index) { return getitem(self, index); }, py::arg("index"),
          "NumPy-style indexing: ints, slices, None, ..., bool masks and integer index tensors/arrays/lists.");
  cls.def("__setitem__", [](const Tensor& self, py::handle index, py::handle value) { setitem(self, index, value); },
          py::arg("index"), py::arg("value"),
          "Assign through an index: writes through views for basic indexing, scatters for advanced indexing.");
}

}  // namespace hy
