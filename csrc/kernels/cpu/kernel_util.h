// Small helpers every CPU kernel family uses: output allocation/validation for `out=` and in-place
// variants, dtype casts, and argument checks with messages that name the op.
#pragma once
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "core/scalar.h"
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

// Argument checks that do not depend on the device, shared by the CPU kernels and the CUDA backend's glue
// (csrc/cuda/), so both raise the same errors with the same words.

/// The reductions' dim wrapping: IndexError prefixed with "op: ".
int64_t reduce_wrap_dim(int64_t dim, int64_t ndim, const char* op);
/// Which dims a reduction combines: None or [] means all, negative dims wrap, a dim listed twice raises
/// ValueError, one out of range IndexError.
std::vector<bool> reduce_dim_mask(const Tensor& self, const std::optional<DimVector>& dim, const char* op);

/// The dims of a DFT (fft.cpp), wrapped: at least one (ValueError), each in range (IndexError), none twice
/// (ValueError); messages prefixed with "op: ".
DimVector fft_dims(const Tensor& t, const DimVector& dim, const char* op);
/// The factor a DFT's result is multiplied by: 1 for normalization 0, 1/sqrt(n) for 1, 1/n for 2 (n the
/// signal's element count; 1 when it is 0); any other normalization is a ValueError.
double fft_norm_scale(int64_t normalization, int64_t signal_numel, const char* op);

/// One operand of a product, named for messages.
struct NamedOperand {
  const char* name;
  const Tensor& tensor;
};
/// The one dtype all operands of a product must share, as in PyTorch: promoting inside a product (int32 @
/// float32, a float64 batch into a float32 layer) would silently hide a bug, so mixed dtypes raise
/// RuntimeError; bool has no meaningful product (TypeError).
DType linalg_dtype(const char* op, std::initializer_list<NamedOperand> operands);
/// ValueError unless the inner dims k1 and k2 of a product agree.
void check_inner(const char* op, const Tensor& self, const Tensor& other, int64_t k1, int64_t k2);
/// ValueError unless `t` has `rank` dims.
void check_rank(const char* op, const Tensor& t, int64_t rank, const char* arg);

/// arange's checks and size: its dtype and element count, having refused a zero, non-finite or
/// wrong-signed step, too many elements, and ends the dtype cannot hold.
struct ArangePlan {
  DType dtype;
  int64_t n;
  bool all_int;  // start, end and step are all Python ints
};
ArangePlan arange_plan(const Scalar& start, const Scalar& end, const Scalar& step, std::optional<DType> dtype);

}  // namespace hy::cpu
