// Overlap tests for in-place and out= writes (see memory_overlap.h). The common answers come from shapes
// and strides alone; only a written as_strided layout the stride tests cannot decide walks its elements.
#include "core/memory_overlap.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <utility>

namespace hy {
namespace {

// [lo, hi): the addresses a tensor's elements occupy (empty for numel() == 0).
struct AddressRange {
  uintptr_t lo, hi;
  bool intersects(const AddressRange& o) const { return lo < o.hi && o.lo < hi; }
};

AddressRange address_range(const Tensor& t) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(t.raw_data());
  if (t.numel() == 0) return {base, base};
  int64_t lo = 0, hi = 0;  // elements below and above the first one
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t span = (t.shape()[d] - 1) * t.strides()[d];  // inside the storage: make_view checked it
    (span < 0 ? lo : hi) += span;
  }
  const int64_t item = t.itemsize();
  return {base + static_cast<uintptr_t>(lo * item), base + static_cast<uintptr_t>((hi + 1) * item)};
}

AddressRange storage_range(const Tensor& t) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(t.storage()->data());
  return {base, base + static_cast<uintptr_t>(t.storage()->nbytes())};
}

// Exact test for layouts the stride rules cannot decide (three or more dims of an as_strided view
// that collide together): mark every element's offset. One pass over elements the op is about to
// write anyway, and only for such hand-made layouts.
bool offsets_collide(const DimVector& strides, const DimVector& sizes, int64_t reach) {
  std::vector<bool> seen(static_cast<size_t>(reach) + 1, false);
  DimVector idx(strides.size(), 0);
  int64_t off = 0;
  while (true) {
    if (seen[static_cast<size_t>(off)]) return true;
    seen[static_cast<size_t>(off)] = true;
    size_t d = 0;
    for (; d < strides.size(); ++d) {  // odometer over the dims
      if (++idx[d] < sizes[d]) {
        off += strides[d];
        break;
      }
      off -= strides[d] * (sizes[d] - 1);
      idx[d] = 0;
    }
    if (d == strides.size()) return false;
  }
}

}  // namespace

bool has_internal_overlap(const Tensor& t) {
  if (t.numel() <= 1 || t.is_contiguous()) return false;
  DimVector sizes, strides;  // the dims that move (size > 1), |stride|: a sign only mirrors a dim
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.shape()[d] == 1) continue;
    if (t.strides()[d] == 0) return true;
    sizes.push_back(t.shape()[d]);
    strides.push_back(t.strides()[d] < 0 ? -t.strides()[d] : t.strides()[d]);
  }
  const size_t n = sizes.size();
  // Two dims alone collide when i * sa == j * sb has a solution inside both sizes; the smallest is
  // (i, j) = (sb / g, sa / g), g = gcd(sa, sb). Catches equal strides and as_strided((3, 3), (1, 1)).
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = a + 1; b < n; ++b) {
      const int64_t g = std::gcd(strides[a], strides[b]);
      if (strides[b] / g < sizes[a] && strides[a] / g < sizes[b]) return true;
    }
  }
  // No collision is certain when, smallest stride first, each stride steps over everything the dims
  // inside it reach: every dense, transposed or sliced layout.
  DimVector order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return strides[x] < strides[y]; });
  int64_t reach = 0;
  bool separated = true;
  for (int64_t d : order) {
    separated = separated && strides[d] > reach;
    reach += (sizes[d] - 1) * strides[d];
  }
  return !separated && offsets_collide(strides, sizes, reach);
}

void check_written_layout(const char* op, const char* arg, const Tensor& t) {
  if (!t.defined() || !has_internal_overlap(t)) return;
  throw RuntimeError(str(op, ": ", arg, " (", t.describe(), ", strides ", t.strides(),
                         ") has more than one element referring to the same memory location (an expand, "
                         "broadcast_to or as_strided view), so writing it is ambiguous; call .clone() or "
                         ".contiguous() on it first and write to that"));
}

bool same_elements(const Tensor& a, const Tensor& b) {
  if (a.impl() == b.impl()) return true;
  if (a.raw_data() != b.raw_data() || a.dtype() != b.dtype() || b.dim() > a.dim()) return false;
  const int64_t lead = a.dim() - b.dim();
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (a.shape()[d] == 1) continue;  // one index: the stride never moves
    if (d < lead || b.shape()[d - lead] != a.shape()[d]) return false;  // broadcast: stride 0
    if (b.strides()[d - lead] != a.strides()[d]) return false;
  }
  return true;
}

bool input_needs_copy(const Tensor& written, const Tensor& input, bool exact_alias_ok) {
  if (!written.defined() || !input.defined()) return false;
  // Separate allocations first. Two storages can still hold one buffer (a NumPy array imported twice,
  // once transposed), so compare their addresses, not only their identity.
  if (!written.shares_storage(input) && !storage_range(written).intersects(storage_range(input))) return false;
  // Intersecting ranges is conservative (x[0::2] and x[1::2] share no element): a copy too many costs
  // time, never a wrong result.
  if (!address_range(written).intersects(address_range(input))) return false;
  return !(exact_alias_ok && same_elements(written, input));
}

bool input_needs_copy(const std::vector<Tensor>& written, const std::vector<Tensor>& input, bool exact_alias_ok) {
  // Written tensors by first address, with the running maximum of their ends: an input range [lo, hi)
  // can only meet entries that start below hi, and the scan stops once no earlier entry reaches lo.
  struct Entry {
    AddressRange range;
    size_t index;
  };
  std::vector<Entry> by_address;
  by_address.reserve(written.size());
  for (size_t i = 0; i < written.size(); ++i)
    if (written[i].defined() && written[i].numel() > 0) by_address.push_back({address_range(written[i]), i});
  std::sort(by_address.begin(), by_address.end(),
            [](const Entry& x, const Entry& y) { return x.range.lo < y.range.lo; });
  std::vector<uintptr_t> reach(by_address.size());
  for (size_t k = 0; k < by_address.size(); ++k)
    reach[k] = std::max(k ? reach[k - 1] : 0, by_address[k].range.hi);
  for (size_t j = 0; j < input.size(); ++j) {
    if (!input[j].defined() || input[j].numel() == 0) continue;
    const AddressRange r = address_range(input[j]);
    auto end = std::lower_bound(by_address.begin(), by_address.end(), r.hi,
                                [](const Entry& e, uintptr_t hi) { return e.range.lo < hi; });
    for (size_t k = static_cast<size_t>(end - by_address.begin()); k-- > 0 && reach[k] > r.lo;) {
      const Entry& e = by_address[k];
      if (e.range.intersects(r) && !(exact_alias_ok && e.index == j && same_elements(written[e.index], input[j])))
        return true;
    }
  }
  return false;
}

}  // namespace hy
