#include "compiler/gemm_epilogue.h"

#include <utility>

#include "core/error.h"
#include "hyflow/ops/linalg.h"

namespace hy::compiler {
namespace {

GemmEpilogue::Op parse_op(const std::string& op) {
  if (op == "mm") return GemmEpilogue::Op::mm;
  if (op == "matmul") return GemmEpilogue::Op::matmul;
  if (op == "addmm") return GemmEpilogue::Op::addmm;
  throw ValueError(str("GemmEpilogue: op must be 'mm', 'matmul' or 'addmm', got '", op, "'"));
}

}  // namespace

GemmEpilogue::GemmEpilogue(const std::string& op, Scalar beta, Scalar alpha, FusedKernel epilogue, int64_t slot)
    : op_(parse_op(op)), beta_(beta), alpha_(alpha), epilogue_(std::move(epilogue)), slot_(slot) {
  HY_CHECK(slot >= 0 && static_cast<size_t>(slot) < epilogue_.num_operands(), ValueError,
           "GemmEpilogue: slot must be in [0, ", epilogue_.num_operands(), "), got ", slot);
}

void GemmEpilogue::check_counts(const std::vector<Tensor>& gemm_args, const std::vector<Tensor>& operands) const {
  const size_t want = op_ == Op::addmm ? 3 : 2;
  HY_CHECK(gemm_args.size() == want, ValueError, "GemmEpilogue: gemm_args must hold ", want, " tensors, got ",
           gemm_args.size());
  HY_CHECK(operands.size() + 1 == epilogue_.num_operands(), ValueError, "GemmEpilogue: operands must hold ",
           epilogue_.num_operands() - 1, " tensors (the epilogue's operands without the product), got ",
           operands.size());
}

Tensor GemmEpilogue::run(const std::vector<Tensor>& gemm_args, std::vector<Tensor> operands,
                         const std::vector<int64_t>& meta) const {
  check_counts(gemm_args, operands);
  Tensor product;
  switch (op_) {
    case Op::mm: product = ops::mm(gemm_args[0], gemm_args[1]); break;
    case Op::matmul: product = ops::matmul(gemm_args[0], gemm_args[1]); break;
    case Op::addmm: product = ops::addmm(gemm_args[0], gemm_args[1], gemm_args[2], beta_, alpha_); break;
  }
  operands.insert(operands.begin() + slot_, product);
  // Checks every operand (the product's dtype, sizes, strides included, against this call's sizes in `meta`
  // for an epilogue with symbolic sizes) first.
  epilogue_.run(operands, meta);
  return product;
}

}  // namespace hy::compiler
