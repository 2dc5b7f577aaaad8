#include <atomic>
#include <climits>

#include "distributed/staging_internal.h"
#include "core/shape_util.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::dist {

namespace {
std::atomic<InterruptCheck> g_interrupt_check{nullptr};
}  // namespace

void set_interrupt_check(InterruptCheck fn) { g_interrupt_check.store(fn); }

bool interrupt_requested() {
  InterruptCheck check = g_interrupt_check.load();
  return check != nullptr && check();
}

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::ReduceOp_Sum: return "sum";
    case ReduceOp::ReduceOp_Prod: return "prod";
    case ReduceOp::ReduceOp_Min: return "min";
    case ReduceOp::ReduceOp_Max: return "max";
    case ReduceOp::ReduceOp_Avg: return "avg";
  }
  return "?";
}

void check_reduce_dtype(const char* op, DType d, ReduceOp r) {
  HY_CHECK(r != ReduceOp::ReduceOp_Avg || dtype_is_floating(d), TypeError, op,
           ": ReduceOp.AVG needs a floating-point tensor, got ", dtype_name(d));
}

void check_rank(const char* op, const char* what, int root, int size) {
  HY_CHECK(root >= 0 && root < size, ValueError, op, ": ", what, "=", root,
           " is not a rank of this group of size ", size);
}

void check_list(const char* op, const char* arg, const std::vector<Tensor>& ts, size_t n, const Tensor& like) {
  HY_CHECK(ts.size() == n, ValueError, op, ": ", arg, " must hold ", n, " tensors (one per rank), got ",
           ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    HY_CHECK(ts[i].defined(), ValueError, op, ": ", arg, "[", i, "] is undefined");
    HY_CHECK(ts[i].dtype() == like.dtype(), TypeError, op, ": ", arg, "[", i, "] is ", ts[i].describe(),
             " but the tensor is ", like.describe(), " (dtypes must match)");
    HY_CHECK(ts[i].numel() == like.numel(), ValueError, op, ": ", arg, "[", i, "] is ", ts[i].describe(),
             " but the tensor is ", like.describe(), " (element counts must match)");
  }
}

void check_pair(const char* op, const Tensor& a, const char* an, const Tensor& b, const char* bn, int64_t factor) {
  HY_CHECK(a.dtype() == b.dtype(), TypeError, op, ": ", an, " is ", a.describe(), " but ", bn, " is ",
           b.describe(), " (dtypes must match)");
  HY_CHECK(b.numel() == factor * a.numel(), ValueError, op, ": ", bn, " must have ", factor, " x ", a.numel(),
           " elements (", an, " is ", a.describe(), "), got ", b.describe());
}

void check_same_dtype(const char* op, const char* arg, const std::vector<Tensor>& ts) {
  for (size_t i = 0; i < ts.size(); ++i) {
    HY_CHECK(ts[i].defined(), ValueError, op, ": ", arg, "[", i, "] is undefined");
    HY_CHECK(ts[i].dtype() == ts[0].dtype(), TypeError, op, ": ", arg, "[", i, "] is ", ts[i].describe(),
             " but ", arg, "[0] is ", ts[0].describe());
  }
}

void check_count(const char* op, int64_t n) {
  HY_CHECK(n <= INT_MAX, ValueError, op, ": ", n, " elements exceed the 2^31-1 elements one MPI call carries; "
           "split the tensor");
}

DType reduce_wire_dtype(DType d) {
  return (d == DType::Float16 || d == DType::BFloat16) ? DType::Float32 : d;
}

// The staged buffers go to MPI as host pointers: a device tensor would be read by the CPU (a crash, or
// garbage with a CUDA-aware MPI's different rules). CUDA tensors travel over NCCL (docs/cuda.md).
static void check_host(const Tensor& t) {
  HY_CHECK(t.device().is_cpu(), ValueError, "this communicator exchanges CPU tensors, got ", t.describe(), " on ",
           device_str(t.device()), "; use init(backend='nccl') for CUDA tensors, or move it with .cpu()");
}

Tensor stage_in(const Tensor& t, DType wire) {
  check_host(t);
  if (t.dtype() == wire) return cpu::contiguous(t);
  return cpu::cast_to(t, wire);
}

Tensor stage_out(const Tensor& out, DType wire) {
  check_host(out);
  if (out.is_contiguous() && out.dtype() == wire) return out;
  return Tensor::empty(out.shape(), wire);
}

void unstage(const Tensor& out, const Tensor& staged) {
  if (staged.impl() == out.impl()) return;
  if (staged.shape() == out.shape()) return cpu::copy_into(out, staged);
  cpu::copy_into(out, Tensor::make_view(staged, out.shape(), contiguous_strides(out.shape()), staged.offset()));
}

Tensor flat_chunk(const Tensor& flat, int64_t i, int64_t n, const Shape& shape) {
  return Tensor::make_view(flat, shape, contiguous_strides(shape), flat.offset() + i * n);
}

Tensor pack(const std::vector<Tensor>& ts, DType wire) {
  int64_t total = 0;
  for (const Tensor& t : ts) {
    check_host(t);
    total += t.numel();
  }
  Tensor flat = Tensor::empty(Shape{total}, wire);
  int64_t at = 0;
  for (const Tensor& t : ts) {
    if (t.numel() > 0) cpu::copy_into(Tensor::make_view(flat, t.shape(), contiguous_strides(t.shape()), at), t);
    at += t.numel();
  }
  return flat;
}

void unpack(const std::vector<Tensor>& outs, const Tensor& flat) {
  int64_t at = flat.offset();
  for (const Tensor& o : outs) check_host(o);
  for (const Tensor& o : outs) {
    if (o.numel() > 0) cpu::copy_into(o, Tensor::make_view(flat, o.shape(), contiguous_strides(o.shape()), at));
    at += o.numel();
  }
}

void divide_inplace(const Tensor& t, int64_t n) {
  if (t.dtype() == DType::Float32) {
    float* p = t.data<float>();
    // Division, not multiplication by the inverse, keeps the average of equal values exact.
    for (int64_t i = 0; i < t.numel(); ++i) p[i] /= static_cast<float>(n);
  } else {
    double* p = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] /= static_cast<double>(n);
  }
}

namespace {
template <typename T>
void reduce_typed(T* a, const T* b, int64_t n, ReduceOp op) {
  switch (op) {
    case ReduceOp::ReduceOp_Sum:
    case ReduceOp::ReduceOp_Avg:
      for (int64_t i = 0; i < n; ++i) a[i] = a[i] + b[i];
      break;
    case ReduceOp::ReduceOp_Prod:
      for (int64_t i = 0; i < n; ++i) a[i] = a[i] * b[i];
      break;
    case ReduceOp::ReduceOp_Min:
      for (int64_t i = 0; i < n; ++i) a[i] = b[i] < a[i] ? b[i] : a[i];
      break;
    case ReduceOp::ReduceOp_Max:
      for (int64_t i = 0; i < n; ++i) a[i] = b[i] > a[i] ? b[i] : a[i];
      break;
  }
}
}  // namespace

void reduce_into(void* acc, const void* in, int64_t n, DType wire, ReduceOp op) {
  switch (wire) {
    case DType::Bool: {  // sum/max = any, prod/min = all (as the MPI backend's MPI_LOR/MPI_LAND)
      bool* a = static_cast<bool*>(acc);
      const bool* b = static_cast<const bool*>(in);
      bool any = op == ReduceOp::ReduceOp_Sum || op == ReduceOp::ReduceOp_Max;
      for (int64_t i = 0; i < n; ++i) a[i] = any ? (a[i] || b[i]) : (a[i] && b[i]);
      return;
    }
    case DType::Int32: return reduce_typed(static_cast<int32_t*>(acc), static_cast<const int32_t*>(in), n, op);
    case DType::Int64: return reduce_typed(static_cast<int64_t*>(acc), static_cast<const int64_t*>(in), n, op);
    case DType::Float32: return reduce_typed(static_cast<float*>(acc), static_cast<const float*>(in), n, op);
    case DType::Float64: return reduce_typed(static_cast<double*>(acc), static_cast<const double*>(in), n, op);
    default: throw RuntimeError(str("reduce_into: no reduction on wire dtype ", dtype_name(wire)));
  }
}

void note_writes(const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts) t.note_write();
}

}  // namespace hy::dist
