#include "compiler/kernel_launch.h"

#include <string>
#include <utility>

#include "core/error.h"
#include "core/parallel.h"

namespace hy::compiler {
namespace {

std::string dims_text(const std::vector<int64_t>& d) {
  std::string s = "(";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + (d.size() == 1 ? ",)" : ")");
}

template <typename Dims>
bool same_dims(const Dims& a, const std::vector<int64_t>& b) {
  if (static_cast<size_t>(a.size()) != b.size()) return false;
  for (size_t i = 0; i < b.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

}  // namespace

FusedKernel::FusedKernel(uintptr_t address, int64_t numel, std::vector<DType> dtypes,
                         std::vector<std::vector<int64_t>> sizes, std::vector<std::vector<int64_t>> strides,
                         std::vector<int64_t> meta, int64_t grain)
    : fn_(reinterpret_cast<KernelFn>(address)), numel_(numel), grain_(grain), dtypes_(std::move(dtypes)),
      sizes_(std::move(sizes)), strides_(std::move(strides)), meta_(std::move(meta)) {
  HY_CHECK(address != 0, ValueError, "FusedKernel: address must be a non-null function address");
  HY_CHECK(numel >= 0, ValueError, "FusedKernel: numel must be >= 0, got ", numel);
  HY_CHECK(grain >= 1, ValueError, "FusedKernel: grain must be >= 1, got ", grain);
  HY_CHECK(!dtypes_.empty(), ValueError, "FusedKernel: dtypes must name at least one operand");
  HY_CHECK(sizes_.size() == dtypes_.size() && strides_.size() == dtypes_.size(), ValueError,
           "FusedKernel: dtypes, sizes and strides must have one entry per operand, got ", dtypes_.size(), ", ",
           sizes_.size(), " and ", strides_.size());
  for (size_t i = 0; i < sizes_.size(); ++i)
    HY_CHECK(sizes_[i].size() == strides_[i].size(), ValueError, "FusedKernel: operand ", i, ": sizes ",
             dims_text(sizes_[i]), " and strides ", dims_text(strides_[i]), " differ in length");
}

void FusedKernel::check(const std::vector<Tensor>& operands) const {
  HY_CHECK(operands.size() == dtypes_.size(), ValueError, "fused kernel: operands must hold ", dtypes_.size(),
           " tensors, got ", operands.size());
  for (size_t i = 0; i < operands.size(); ++i) {
    const Tensor& t = operands[i];
    HY_CHECK(t.defined(), ValueError, "fused kernel: operands[", i, "] is an undefined tensor");
    HY_CHECK(t.device().type == DeviceType::DeviceType_CPU, ValueError, "fused kernel: operands[", i,
             "] must be on the CPU, got ", t.describe());
    HY_CHECK(t.dtype() == dtypes_[i], TypeError, "fused kernel: operands[", i, "] must have dtype ",
             dtype_name(dtypes_[i]), ", got ", t.describe());
    HY_CHECK(same_dims(t.shape(), sizes_[i]), ValueError, "fused kernel: operands[", i, "] must have sizes ",
             dims_text(sizes_[i]), ", got ", t.describe());
    HY_CHECK(same_dims(t.strides(), strides_[i]), ValueError, "fused kernel: operands[", i,
             "] must have strides ", dims_text(strides_[i]), " (the layout the kernel was generated for)");
  }
}

void FusedKernel::run(const std::vector<Tensor>& operands) const {
  check(operands);
  if (numel_ == 0) return;
  std::vector<char*> ptrs(operands.size());
  for (size_t i = 0; i < operands.size(); ++i) ptrs[i] = static_cast<char*>(operands[i].raw_data());
  char** p = ptrs.data();
  const int64_t* meta = meta_.empty() ? nullptr : meta_.data();
  KernelFn fn = fn_;
  // parallel_for runs inline below the grain or inside another parallel region, and otherwise splits
  // statically into one chunk per pool thread (hy.set_num_threads): each chunk is a contiguous range of
  // the flat iteration space, so every thread streams through its own part of memory.
  parallel_for(0, numel_, grain_, [fn, p, meta](int64_t b, int64_t e) { fn(b, e, p, meta); });
}

}  // namespace hy::compiler
