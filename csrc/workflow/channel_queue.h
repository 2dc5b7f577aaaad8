// The contents of one channel during a run: items sorted by (step, producer, seq) and one read cursor
// per consumer task. Every consumer receives every item (fan-out); an item is freed once all active
// consumers have read past it. Not thread-safe: the engine calls it under its lock.
#pragma once
#include <deque>
#include <vector>

#include "workflow/graph_spec.h"

namespace hy::workflow {

struct ChannelStats {
  int64_t pushed = 0, consumed = 0, dropped = 0, max_depth = 0;
  double producer_wait_s = 0.0;  // time producers spent ready but held back by a full channel
};

class ChannelQueue {
 public:
  ChannelQueue(const ChannelSpec& spec, std::vector<int> consumers);

  const ChannelSpec& spec() const { return spec_; }
  const std::vector<int>& consumers() const { return consumers_; }

  /// Insert in (step, producer, seq) order.
  void push(ChannelItem item);
  /// Unread items for consumer `k` (an index into consumers()) with step <= max_step.
  int64_t available(int k, int64_t max_step) const;
  /// Read those items, applying the channel's policy (Latest keeps the last, DropOldest the last
  /// `capacity`); the rest count as dropped.
  std::vector<Item> take(int k, int64_t max_step);
  /// For Latest/DropOldest: skip the unread items of steps <= max_step that no later read can deliver
  /// (all but the newest 1 / `capacity`), so a consumer that does not fire does not keep them alive.
  void discard_superseded(int k, int64_t max_step);
  /// Skip consumer `k`'s unread items of steps <= max_step without delivering them (counted as
  /// dropped): a step whose predicate said no.
  void drop(int k, int64_t max_step);
  /// A consumer that stopped (failed or cancelled) no longer holds items back.
  void detach(int k);
  bool attached(int k) const { return attached_[k]; }

  /// Everything still unread by some consumer, and each consumer's cursor, for a checkpoint.
  std::vector<ChannelItem> snapshot() const;
  std::vector<int64_t> cursors() const;
  /// Replace the contents from a checkpoint. `cursors` are in the same numbering as snapshot()'s
  /// items (0 = the first of them).
  void restore(std::vector<ChannelItem> items, const std::vector<int64_t>& cursors);

  ChannelStats stats;

 private:
  void trim();  // drop items every attached consumer has read
  int64_t end() const { return base_ + static_cast<int64_t>(items_.size()); }

  ChannelSpec spec_;
  std::vector<int> consumers_;
  std::vector<int64_t> cursor_;  // global positions
  std::vector<bool> attached_;
  std::deque<ChannelItem> items_;
  int64_t base_ = 0;  // global position of items_.front()
};

}  // namespace hy::workflow
