// Small helpers every CPU kernel family uses: output allocation/validation for `out=` and in-place
// variants, dtype casts, and argument checks with messages that name the op.
#pragma once
#include <optional>
#include <string>

#include "core/shape_util.h"
#include "core/tensor.h"

namespace hy::cpu {

/// The tensor an op writes to: `out` when given (checked: same shape, a dtype the result may be cast
/// into), else a fresh tensor of `shape`/`dtype` laid out like `like` (see empty_like_layout).
Tensor prepare_out(const std::optional<Tensor>& out, const Shape& shape, DType dtype, const char* op,
                   const Tensor& like = Tensor());
/// A fresh tensor of `shape`/`dtype`. When `like` has that shape and is a dense permutation of a
/// contiguous layout (a transposed matrix, a permuted image batch), the result gets the same dim
/// order, so elementwise ops on it stream through memory like NumPy does; otherwise it is row-major.
Tensor empty_like_layout(const Shape& shape, DType dtype, const Tensor& like);
/// `t` itself when it already has dtype `d`, else a converted contiguous (row-major) copy.
Tensor cast_to(const Tensor& t, DType d);
/// Like cast_to, but a converted copy of a dense permuted tensor keeps its dim order (for elementwise
/// drivers, which iterate in memory order and must not assume row-major inputs).
Tensor cast_keep_layout(const Tensor& t, DType d);
/// `t` itself when contiguous, else a contiguous copy.
Tensor contiguous(const Tensor& t);
/// Write src (broadcast to dst's shape, any dtype) into dst, converting element types.
void copy_into(const Tensor& dst, const Tensor& src);
/// Throws TypeError "op 'name' expects a floating-point input, got int64 ..." unless floating.
void check_floating(const Tensor& t, const char* op, const char* arg = "input");
/// Throws ValueError unless t is defined.
void check_defined(const Tensor& t, const char* op, const char* arg);

}  // namespace hy::cpu
