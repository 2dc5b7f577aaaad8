// A vector of int64 with inline room for small ranks, so shapes and strides of the tensors that
// dominate real programs (rank <= 6) never touch the heap. Interface is a subset of std::vector.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <vector>

namespace hy {

/// Shape/stride storage: inline up to 6 entries, heap beyond.
class DimVector {
 public:
  static constexpr size_t kInline = 6;
  DimVector() = default;
  explicit DimVector(size_t n, int64_t v = 0) { resize(n, v); }
  DimVector(std::initializer_list<int64_t> il) { assign(il.begin(), il.end()); }
  template <typename It, typename = decltype(*std::declval<It>())>
  DimVector(It b, It e) { assign(b, e); }
  DimVector(const std::vector<int64_t>& v) { assign(v.begin(), v.end()); }  // NOLINT
  DimVector(const DimVector& o) { assign(o.begin(), o.end()); }
  DimVector(DimVector&& o) noexcept { move_from(std::move(o)); }
  DimVector& operator=(const DimVector& o) { if (this != &o) assign(o.begin(), o.end()); return *this; }
  DimVector& operator=(DimVector&& o) noexcept { if (this != &o) move_from(std::move(o)); return *this; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t* data() { return heap_ ? heap_.get() : inline_; }
  const int64_t* data() const { return heap_ ? heap_.get() : inline_; }
  int64_t* begin() { return data(); }
  int64_t* end() { return data() + size_; }
  const int64_t* begin() const { return data(); }
  const int64_t* end() const { return data() + size_; }
  int64_t& operator[](size_t i) { return data()[i]; }
  int64_t operator[](size_t i) const { return data()[i]; }
  int64_t& back() { return data()[size_ - 1]; }
  int64_t back() const { return data()[size_ - 1]; }
  int64_t& front() { return data()[0]; }
  int64_t front() const { return data()[0]; }

  void reserve(size_t n) {
    if (n <= capacity()) return;
    std::unique_ptr<int64_t[]> h(new int64_t[n]);
    std::memcpy(h.get(), data(), size_ * sizeof(int64_t));
    heap_ = std::move(h);
    cap_ = n;
  }
  void resize(size_t n, int64_t v = 0) {
    reserve(n);
    for (size_t i = size_; i < n; ++i) data()[i] = v;
    size_ = n;
  }
  void push_back(int64_t v) {
    if (size_ == capacity()) reserve(capacity() * 2);
    data()[size_++] = v;
  }
  void pop_back() { --size_; }
  void clear() { size_ = 0; }
  int64_t* insert(int64_t* pos, int64_t v) {
    size_t idx = static_cast<size_t>(pos - begin());
    push_back(0);
    int64_t* d = data();
    std::memmove(d + idx + 1, d + idx, (size_ - 1 - idx) * sizeof(int64_t));
    d[idx] = v;
    return d + idx;
  }
  int64_t* erase(int64_t* pos) {
    size_t idx = static_cast<size_t>(pos - begin());
    int64_t* d = data();
    std::memmove(d + idx, d + idx + 1, (size_ - idx - 1) * sizeof(int64_t));
    --size_;
    return d + idx;
  }
  template <typename It>
  void assign(It b, It e) {
    size_ = 0;
    reserve(static_cast<size_t>(std::distance(b, e)));
    for (; b != e; ++b) data()[size_++] = static_cast<int64_t>(*b);
  }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(begin(), end()); }

  friend bool operator==(const DimVector& a, const DimVector& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const DimVector& a, const DimVector& b) { return !(a == b); }

 private:
  size_t capacity() const { return heap_ ? cap_ : kInline; }
  void move_from(DimVector&& o) {
    if (o.heap_) {
      heap_ = std::move(o.heap_);
      cap_ = o.cap_;
      size_ = o.size_;
    } else {
      heap_.reset();
      size_ = o.size_;
      std::memcpy(inline_, o.inline_, size_ * sizeof(int64_t));
    }
    o.size_ = 0;
  }
  int64_t inline_[kInline];
  std::unique_ptr<int64_t[]> heap_;
  size_t size_ = 0;
  size_t cap_ = 0;
};

/// Prints as (2, 3) like a Python tuple, so error messages read naturally.
inline std::ostream& operator<<(std::ostream& os, const DimVector& v) {
  os << '(';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  if (v.size() == 1) os << ',';
  return os << ')';
}

using Shape = DimVector;
using Strides = DimVector;

}  // namespace hy
