// Running one generated elementwise kernel (python/hyflow/compiler/codegen/) over hyflow's thread pool.
//
// The code generator emits, per fusion group, a C function with this ABI (docs/compiler.md, "Codegen"):
//
//   extern "C" void k(int64_t begin, int64_t end, char** ptrs, const int64_t* meta);
//
// computing flat elements [begin, end) of the group's iteration space; ptrs holds one data pointer per
// tensor operand (inputs first, then outputs), meta the kernel's run-time integers (may be empty). Sizes,
// strides and dtypes are baked into the source, so a launch checks that the tensors it is given are
// exactly what the source was generated for: a wrong count, an undefined tensor, another dtype, size or
// stride raises (never a crash), then the range runs with the GIL released.
//
//   compiler::FusedKernel k(address, numel, {Float32, Float32}, {{1024}, {1024}}, {{1}, {1}}, {}, grain);
//   k.run({x, out}, {});
//
// A kernel generated with symbolic sizes (docs/compiler.md, "Symbolic sizes") reads them from `meta`, given
// per call: set_runtime_sizes() names, per operand dim, the meta slot holding its size and stride (-1: the
// constant given at construction), and the slots of the work-item count and the grain. The checks then
// compare each operand with this call's values, so a kernel never runs over memory it was not given.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace hy::compiler {

/// The ABI of a generated kernel.
using KernelFn = void (*)(int64_t begin, int64_t end, char** ptrs, const int64_t* meta);

/// One loaded kernel plus the operand layout it was generated for.
class FusedKernel {
 public:
  /// `address`: the function's address (non-zero); `numel`: elements of the iteration space (>= 0);
  /// per operand its dtype, sizes and strides; `grain`: elements below which the range runs inline.
  /// Throws ValueError on inconsistent arguments.
  FusedKernel(uintptr_t address, int64_t numel, std::vector<DType> dtypes, std::vector<std::vector<int64_t>> sizes,
              std::vector<std::vector<int64_t>> strides, std::vector<int64_t> meta, int64_t grain);

  /// Check `operands` against the layout, then run the kernel over [0, numel) on the pool (chunks of at
  /// least `grain` elements; inline when smaller or when called from inside a parallel region).
  /// The caller releases the GIL around it (the bindings do).
  /// `meta`: this call's run-time integers when set_runtime_sizes() was called (else ignored: the meta
  /// given at construction is used).
  void run(const std::vector<Tensor>& operands, const std::vector<int64_t>& meta) const;
  /// The checks of run() alone.
  void check(const std::vector<Tensor>& operands, const std::vector<int64_t>& meta) const;
  /// Make sizes, strides, work items and grain run-time values (see the header comment). Throws ValueError
  /// when the slot lists do not match the operands' ranks.
  void set_runtime_sizes(std::vector<std::vector<int64_t>> size_slots, std::vector<std::vector<int64_t>> stride_slots,
                         int64_t numel_slot, int64_t grain_slot);

  int64_t numel() const { return numel_; }
  int64_t grain() const { return grain_; }
  size_t num_operands() const { return dtypes_.size(); }

 private:
  KernelFn fn_;
  int64_t numel_, grain_;
  std::vector<DType> dtypes_;
  std::vector<std::vector<int64_t>> sizes_, strides_;
  std::vector<int64_t> meta_;
  bool runtime_ = false;
  std::vector<std::vector<int64_t>> size_slots_, stride_slots_;
  int64_t numel_slot_ = -1, grain_slot_ = -1;
};

}  // namespace hy::compiler
