// Bool memory adopted from another library (a NumPy array viewed as bool, a DLPack producer) may hold
// bytes other than 0 and 1. hyflow's kernels read a bool byte as either `!= 0` or as the integer itself
// (sum adds it), so such bytes give inconsistent results (`t.sum()` of a byte 2 counts 2, `t.all()` says
// True, `logical_not` gives 254). Importers that share memory refuse them; copying importers normalise.
//
//   int64_t at = first_bad_bool_byte(ptr, shape, strides);   // -1 when every byte is 0 or 1
#pragma once
#include <cstdint>

#include "core/dim_vector.h"

namespace hy {

/// Row-major index of the first element whose byte is neither 0 nor 1, or -1. `strides` in elements
/// (bytes, since a bool is one byte), non-negative; a tensor with a zero-size dim has no elements.
int64_t first_bad_bool_byte(const uint8_t* data, const DimVector& shape, const DimVector& strides);

/// Throws ValueError naming `op` and the first bad element unless first_bad_bool_byte finds none.
void check_bool_bytes(const uint8_t* data, const DimVector& shape, const DimVector& strides, const char* op);

}  // namespace hy
