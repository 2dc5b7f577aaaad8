// A GEMM followed by its generated elementwise epilogue, as one call (python/hyflow/compiler/codegen/
// plan.py finds them: mm / matmul / addmm whose result feeds a compiled elementwise group of its shape).
//
// The GEMM runs through the op's own front function (hy::ops::mm / matmul / addmm), i.e. eager's kernel
// and the same BLAS with the same work split, so its result is eager's bit for bit; the epilogue
// (bias add, activation, scale, residual add, ...) then runs over the product right after, in the same
// call with the GIL released, while the product is still in cache (an MLP layer's 128 x 512 float product
// is 256 KiB). The product is returned: the graph may read it elsewhere (the compiled backward saves it).
//
//   compiler::GemmEpilogue g(GemmEpilogue::Op::addmm, beta, alpha, epilogue_kernel, /*slot=*/0);
//   Tensor product = g.run({bias, x, w_t}, {/* epilogue operands without the product */}, /*meta=*/{});
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/kernel_launch.h"
#include "core/scalar.h"
#include "core/tensor.h"

namespace hy::compiler {

class GemmEpilogue {
 public:
  enum class Op { mm, matmul, addmm };

  /// `op`: "mm", "matmul" or "addmm" (ValueError otherwise); `beta`/`alpha`: addmm's coefficients;
  /// `epilogue`: the generated kernel; `slot`: where the product goes among the epilogue's operands.
  GemmEpilogue(const std::string& op, Scalar beta, Scalar alpha, FusedKernel epilogue, int64_t slot);

  /// Run the GEMM on `gemm_args` (mm/matmul: 2 tensors; addmm: self, mat1, mat2), insert the product at
  /// `slot` in `operands` (the epilogue's other operands: inputs, then outputs), run the epilogue (its
  /// launcher checks every operand's layout first). Returns the product. `meta`: this call's run-time
  /// sizes when the epilogue was generated with symbolic sizes (FusedKernel::set_runtime_sizes), else empty.
  Tensor run(const std::vector<Tensor>& gemm_args, std::vector<Tensor> operands,
             const std::vector<int64_t>& meta = {}) const;

  /// Arguments checks of run() that do not need the product (count of GEMM args and operands).
  void check_counts(const std::vector<Tensor>& gemm_args, const std::vector<Tensor>& operands) const;

 private:
  Op op_;
  Scalar beta_, alpha_;
  FusedKernel epilogue_;
  int64_t slot_;
};

}  // namespace hy::compiler
