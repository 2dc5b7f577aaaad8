// A reference-counted block of memory that one or more tensors view. The owner of the bytes is
// type-erased (`std::shared_ptr<void>`): our own aligned allocation, a NumPy array, or a DLPack
// producer's tensor. Whoever holds the last reference frees it through the owner's deleter.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace hy {

/// Alignment of every allocation hyflow makes (one cache line, a full AVX-512 vector).
constexpr int64_t kAllocAlignment = 64;

/// Memory shared by tensors and their views.
class StorageImpl {
 public:
  /// Adopt memory owned by `owner` (freed when the last reference drops).
  StorageImpl(void* data, int64_t nbytes, Device device, std::shared_ptr<void> owner, bool writable = true)
      : data_(data), nbytes_(nbytes), device_(device), owner_(std::move(owner)), writable_(writable) {}

  /// A fresh, 64-byte aligned, uninitialized CPU allocation of `nbytes`.
  static std::shared_ptr<StorageImpl> allocate_cpu(int64_t nbytes);

  void* data() const { return data_; }
  int64_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool writable() const { return writable_; }

  /// Bumped by every in-place write, shared by all views: autograd uses it to detect that a tensor
  /// saved for backward was modified.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_;
  int64_t nbytes_;
  Device device_;
  std::shared_ptr<void> owner_;
  bool writable_;
  std::atomic<uint64_t> version_{0};
};

}  // namespace hy
