#include "workflow/channel_queue.h"

#include <algorithm>

#include "core/error.h"

namespace hy::workflow {

namespace {
bool before(const ChannelItem& a, const ChannelItem& b) {
  if (a.step != b.step) return a.step < b.step;
  if (a.producer != b.producer) return a.producer < b.producer;
  return a.seq < b.seq;
}
}  // namespace

ChannelQueue::ChannelQueue(const ChannelSpec& spec, std::vector<int> consumers)
    : spec_(spec), consumers_(std::move(consumers)), cursor_(consumers_.size(), 0),
      attached_(consumers_.size(), true) {}

void ChannelQueue::push(ChannelItem item) {
  // Producers of the same step finish in any order; inserting in key order keeps what a consumer
  // sees independent of timing. Usually the new item belongs at the back.
  auto pos = std::upper_bound(items_.begin(), items_.end(), item, before);
  int64_t global = base_ + (pos - items_.begin());
  for (size_t k = 0; k < cursor_.size(); ++k) {
    // A consumer can only have read items of steps the producer has already finished, so a new item
    // never lands before a cursor; the check keeps that invariant honest.
    HY_CHECK(global >= cursor_[k] || !attached_[k], RuntimeError, "workflow channel '", spec_.name,
             "': an item of step ", item.step, " arrived after its consumer had read past that step");
  }
  items_.insert(pos, std::move(item));
  ++stats.pushed;
  int64_t depth = 0;
  for (size_t k = 0; k < cursor_.size(); ++k)
    if (attached_[k]) depth = std::max(depth, end() - cursor_[k]);
  stats.max_depth = std::max(stats.max_depth, depth);
  if (consumers_.empty() || std::none_of(attached_.begin(), attached_.end(), [](bool a) { return a; })) trim();
}

int64_t ChannelQueue::available(int k, int64_t max_step) const {
  if (!attached_[k]) return 0;  // a stopped consumer's cursor may lie behind the trimmed front
  int64_t n = 0;
  for (int64_t i = cursor_[k] - base_; i < static_cast<int64_t>(items_.size()); ++i) {
    if (items_[static_cast<size_t>(i)].step > max_step) break;
    ++n;
  }
  return n;
}

std::vector<Item> ChannelQueue::take(int k, int64_t max_step) {
  int64_t n = available(k, max_step);
  int64_t keep = n;
  if (spec_.policy == Policy::Latest) keep = std::min<int64_t>(n, 1);
  if (spec_.policy == Policy::DropOldest) keep = std::min<int64_t>(n, spec_.capacity);
  std::vector<Item> out;
  out.reserve(static_cast<size_t>(keep));
  int64_t first = cursor_[k] - base_ + (n - keep);
  for (int64_t i = 0; i < keep; ++i) out.push_back(items_[static_cast<size_t>(first + i)].item);
  stats.consumed += keep;
  stats.dropped += n - keep;
  cursor_[k] += n;
  trim();
  return out;
}

void ChannelQueue::discard_superseded(int k, int64_t max_step) {
  if (spec_.policy == Policy::Block || !attached_[k]) return;
  int64_t n = available(k, max_step);
  int64_t keep = spec_.policy == Policy::Latest ? std::min<int64_t>(n, 1) : std::min<int64_t>(n, spec_.capacity);
  if (n == keep) return;
  cursor_[k] += n - keep;
  stats.dropped += n - keep;
  trim();
}

void ChannelQueue::drop(int k, int64_t max_step) {
  int64_t n = available(k, max_step);
  cursor_[k] += n;
  stats.dropped += n;
  trim();
}

void ChannelQueue::detach(int k) {
  attached_[k] = false;
  trim();
}

void ChannelQueue::trim() {
  int64_t lowest = end();
  for (size_t k = 0; k < cursor_.size(); ++k)
    if (attached_[k]) lowest = std::min(lowest, cursor_[k]);
  while (base_ < lowest) {
    items_.pop_front();
    ++base_;
  }
}

std::vector<ChannelItem> ChannelQueue::snapshot() const { return {items_.begin(), items_.end()}; }

std::vector<int64_t> ChannelQueue::cursors() const {
  std::vector<int64_t> out;
  for (size_t k = 0; k < cursor_.size(); ++k) out.push_back(attached_[k] ? cursor_[k] - base_ : -1);
  return out;
}

void ChannelQueue::restore(std::vector<ChannelItem> items, const std::vector<int64_t>& cursors) {
  HY_CHECK(cursors.size() == cursor_.size(), ValueError, "workflow channel '", spec_.name, "': checkpoint has ",
           cursors.size(), " consumer cursors, the graph has ", cursor_.size(), " consumers");
  std::sort(items.begin(), items.end(), before);
  items_.assign(items.begin(), items.end());
  base_ = 0;
  for (size_t k = 0; k < cursors.size(); ++k) {
    HY_CHECK(cursors[k] >= -1 && cursors[k] <= static_cast<int64_t>(items_.size()), ValueError,
             "workflow channel '", spec_.name, "': checkpoint cursor ", cursors[k], " is out of range");
    cursor_[k] = cursors[k] < 0 ? end() : cursors[k];
  }
  trim();
}

}  // namespace hy::workflow
