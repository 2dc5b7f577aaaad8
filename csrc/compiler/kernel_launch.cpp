#include "compiler/kernel_launch.h"

#include <algorithm>
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

void FusedKernel::set_runtime_sizes(std::vector<std::vector<int64_t>> size_slots,
                                    std::vector<std::vector<int64_t>> stride_slots, int64_t numel_slot,
                                    int64_t grain_slot) {
  HY_CHECK(size_slots.size() == dtypes_.size() && stride_slots.size() == dtypes_.size(), ValueError,
           "FusedKernel.set_runtime_sizes: size_slots and stride_slots need one entry per operand (",
           dtypes_.size(), "), got ", size_slots.size(), " and ", stride_slots.size());
  for (size_t i = 0; i < dtypes_.size(); ++i)
    HY_CHECK(size_slots[i].size() == sizes_[i].size() && stride_slots[i].size() == sizes_[i].size(), ValueError,
             "FusedKernel.set_runtime_sizes: operand ", i, " has ", sizes_[i].size(), " dims");
  size_slots_ = std::move(size_slots);
  stride_slots_ = std::move(stride_slots);
  numel_slot_ = numel_slot;
  grain_slot_ = grain_slot;
  runtime_ = true;
}

namespace {

// The value of a size/stride: meta[slot] for a run-time one, else the constant.
int64_t slot_value(int64_t constant, int64_t slot, const std::vector<int64_t>& meta) {
  return slot < 0 ? constant : meta[static_cast<size_t>(slot)];
}

int64_t max_slot(const std::vector<std::vector<int64_t>>& slots) {
  int64_t m = -1;
  for (const auto& v : slots)
    for (int64_t s : v) m = s > m ? s : m;
  return m;
}

}  // namespace

void FusedKernel::check(const std::vector<Tensor>& operands, const std::vector<int64_t>& meta) const {
  HY_CHECK(operands.size() == dtypes_.size(), ValueError, "fused kernel: operands must hold ", dtypes_.size(),
           " tensors, got ", operands.size());
  if (runtime_) {
    int64_t need = std::max({max_slot(size_slots_), max_slot(stride_slots_), numel_slot_, grain_slot_});
    HY_CHECK(need < static_cast<int64_t>(meta.size()), ValueError, "fused kernel: meta must hold at least ",
             need + 1, " run-time sizes, got ", meta.size());
  }
  for (size_t i = 0; i < operands.size(); ++i) {
    const Tensor& t = operands[i];
    HY_CHECK(t.defined(), ValueError, "fused kernel: operands[", i, "] is an undefined tensor");
    HY_CHECK(t.device().type == DeviceType::DeviceType_CPU, ValueError, "fused kernel: operands[", i,
             "] must be on the CPU, got ", t.describe());
    HY_CHECK(t.dtype() == dtypes_[i], TypeError, "fused kernel: operands[", i, "] must have dtype ",
             dtype_name(dtypes_[i]), ", got ", t.describe());
    if (!runtime_) {
      HY_CHECK(same_dims(t.shape(), sizes_[i]), ValueError, "fused kernel: operands[", i, "] must have sizes ",
               dims_text(sizes_[i]), ", got ", t.describe());
      HY_CHECK(same_dims(t.strides(), strides_[i]), ValueError, "fused kernel: operands[", i,
               "] must have strides ", dims_text(strides_[i]), " (the layout the kernel was generated for)");
      continue;
    }
    std::vector<int64_t> sizes(sizes_[i].size()), strides(sizes_[i].size());
    for (size_t d = 0; d < sizes.size(); ++d) {
      sizes[d] = slot_value(sizes_[i][d], size_slots_[i][d], meta);
      strides[d] = slot_value(strides_[i][d], stride_slots_[i][d], meta);
    }
    HY_CHECK(same_dims(t.shape(), sizes), ValueError, "fused kernel: operands[", i, "] must have sizes ",
             dims_text(sizes), " in this call, got ", t.describe());
    HY_CHECK(same_dims(t.strides(), strides), ValueError, "fused kernel: operands[", i, "] must have strides ",
             dims_text(strides), " in this call (the layout the kernel was generated for)");
  }
}

void FusedKernel::run(const std::vector<Tensor>& operands, const std::vector<int64_t>& meta_in) const {
  check(operands, meta_in);
  const std::vector<int64_t>& meta_vec = runtime_ ? meta_in : meta_;
  const int64_t numel = runtime_ ? slot_value(numel_, numel_slot_, meta_vec) : numel_;
  const int64_t grain = runtime_ ? std::max<int64_t>(1, slot_value(grain_, grain_slot_, meta_vec)) : grain_;
  if (numel == 0) return;
  std::vector<char*> ptrs(operands.size());
  for (size_t i = 0; i < operands.size(); ++i) ptrs[i] = static_cast<char*>(operands[i].raw_data());
  char** p = ptrs.data();
  const int64_t* meta = meta_vec.empty() ? nullptr : meta_vec.data();
  KernelFn fn = fn_;
  // parallel_for runs inline below the grain or inside another parallel region, and otherwise splits
  // statically into one chunk per pool thread (hy.set_num_threads): each chunk is a contiguous range of
  // the flat iteration space, so every thread streams through its own part of memory.
  parallel_for(0, numel, grain, [fn, p, meta](int64_t b, int64_t e) { fn(b, e, p, meta); });
}

}  // namespace hy::compiler
