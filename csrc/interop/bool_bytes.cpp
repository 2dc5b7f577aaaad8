#include "interop/bool_bytes.h"

#include "core/error.h"

namespace hy {

int64_t first_bad_bool_byte(const uint8_t* data, const DimVector& shape, const DimVector& strides) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  for (int64_t n : shape)
    if (n == 0) return -1;
  // Walk the elements in row-major order with an odometer over the dims; `off` follows the strides.
  DimVector idx(nd, 0);
  int64_t off = 0;
  for (int64_t i = 0;; ++i) {
    if (data[off] > 1) return i;
    int64_t d = nd - 1;
    for (; d >= 0; --d) {
      off += strides[d];
      if (++idx[d] < shape[d]) break;
      off -= strides[d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0) return -1;
  }
}

void check_bool_bytes(const uint8_t* data, const DimVector& shape, const DimVector& strides, const char* op) {
  int64_t at = first_bad_bool_byte(data, shape, strides);
  HY_CHECK(at < 0, ValueError, op, ": the bool memory holds a byte other than 0 and 1 (element ", at,
           " in row-major order), which hyflow's kernels would read inconsistently; normalise it first ",
           "(NumPy: a.view(numpy.uint8) != 0) or let hyflow.tensor / hyflow.as_tensor copy and normalise it");
}

}  // namespace hy
