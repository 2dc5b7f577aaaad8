// Shared by every Communicator backend: argument checks (so each backend rejects bad input with the
// same message) and staging of tensors through contiguous wire buffers (non-contiguous inputs and
// outputs, float16/bfloat16 reductions computed in float32).
#pragma once
#include <string>
#include <vector>

#include "distributed/communicator.h"

namespace hy::dist {

/// AVG needs a floating dtype (TypeError otherwise).
void check_reduce_dtype(const char* op, DType d, ReduceOp r);
/// 0 <= root < size (ValueError otherwise); `what` names the argument ("src", "dst", "root").
void check_rank(const char* op, const char* what, int root, int size);
/// ts.size() == n and every tensor has like's dtype and numel (ValueError/TypeError otherwise).
void check_list(const char* op, const char* arg, const std::vector<Tensor>& ts, size_t n, const Tensor& like);
/// a and b share a dtype (TypeError) and b.numel() == factor * a.numel() (ValueError).
void check_pair(const char* op, const Tensor& a, const char* an, const Tensor& b, const char* bn, int64_t factor);
/// Every tensor of the list shares the first one's dtype (TypeError).
void check_same_dtype(const char* op, const char* arg, const std::vector<Tensor>& ts);
/// Element counts travel as C int in MPI-3 calls.
void check_count(const char* op, int64_t n);

/// The dtype a reduction runs in: float32 for float16/bfloat16 (exact staging), else the dtype itself.
DType reduce_wire_dtype(DType d);
/// t as a contiguous tensor of dtype `wire` (t itself when it already is one).
Tensor stage_in(const Tensor& t, DType wire);
/// The contiguous buffer a result for `out` is received into: out itself when it is contiguous and of
/// dtype `wire`, else a fresh buffer.
Tensor stage_out(const Tensor& out, DType wire);
/// Write a staged result back into out (no-op when staged is out).
void unstage(const Tensor& out, const Tensor& staged);
/// Elements [i*n, (i+1)*n) of a contiguous tensor, viewed with `shape`.
Tensor flat_chunk(const Tensor& flat, int64_t i, int64_t n, const Shape& shape);
/// The tensors of ts one after another in a fresh 1-D buffer of dtype wire.
Tensor pack(const std::vector<Tensor>& ts, DType wire);
/// The inverse of pack: successive chunks of flat into outs.
void unpack(const std::vector<Tensor>& outs, const Tensor& flat);
/// t /= n in place; t is a contiguous float32 or float64 tensor.
void divide_inplace(const Tensor& t, int64_t n);
/// acc[i] <- op(acc[i], in[i]) for n elements of dtype wire (bool, int32, int64, float32 or float64);
/// AVG accumulates like SUM (the caller divides at the end).
void reduce_into(void* acc, const void* in, int64_t n, DType wire, ReduceOp op);
/// True when the installed interrupt check (set_interrupt_check) asks a waiting operation to stop.
bool interrupt_requested();
/// Mark every output written (and reject read-only ones before any communication starts).
void note_writes(const std::vector<Tensor>& ts);

}  // namespace hy::dist
