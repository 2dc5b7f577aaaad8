// The workflow engine's channel contents (csrc/workflow/channel_queue.cpp): what each consumer reads
// must depend only on item steps, never on the order producers pushed them in.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/error.h"
#include "workflow/channel_queue.h"

namespace hy::workflow {
namespace {

Item value(int v) { return std::make_shared<int>(v); }
int as_int(const Item& i) { return *static_cast<int*>(i.get()); }

std::vector<int> ints(const std::vector<Item>& items) {
  std::vector<int> out;
  for (const Item& i : items) out.push_back(as_int(i));
  return out;
}

ChannelSpec spec(Policy p, int64_t capacity) {
  ChannelSpec s;
  s.name = "c";
  s.capacity = capacity;
  s.policy = p;
  return s;
}

TEST(ChannelQueue, ItemsAreReadInStepProducerOrderWhateverThePushOrder) {
  ChannelQueue q(spec(Policy::Block, 8), {5});
  q.push({1, 2, 0, value(12)});
  q.push({0, 3, 0, value(3)});
  q.push({1, 1, 0, value(11)});
  q.push({0, 1, 0, value(1)});
  EXPECT_EQ(q.available(0, 0), 2);
  EXPECT_EQ(ints(q.take(0, 0)), (std::vector<int>{1, 3}));  // step 0 only, producer order
  EXPECT_EQ(ints(q.take(0, 1)), (std::vector<int>{11, 12}));
  EXPECT_EQ(q.available(0, 10), 0);
  EXPECT_EQ(q.stats.pushed, 4);
  EXPECT_EQ(q.stats.consumed, 4);
}

TEST(ChannelQueue, PoliciesDecideWhatAReadDelivers) {
  ChannelQueue latest(spec(Policy::Latest, 3), {0});
  ChannelQueue oldest(spec(Policy::DropOldest, 2), {0});
  for (int s = 0; s < 5; ++s) {
    latest.push({s, 0, 0, value(s)});
    oldest.push({s, 0, 0, value(s)});
  }
  EXPECT_EQ(ints(latest.take(0, 4)), (std::vector<int>{4}));
  EXPECT_EQ(latest.stats.dropped, 4);
  EXPECT_EQ(ints(oldest.take(0, 4)), (std::vector<int>{3, 4}));
  EXPECT_EQ(oldest.stats.dropped, 3);
}

TEST(ChannelQueue, EveryConsumerReadsEveryItemAndItemsAreFreedAfterTheLast) {
  ChannelQueue q(spec(Policy::Block, 8), {0, 1});
  Item first = value(7);
  std::weak_ptr<void> watch = first;
  q.push({0, 0, 0, std::move(first)});
  EXPECT_EQ(ints(q.take(0, 0)), (std::vector<int>{7}));
  EXPECT_FALSE(watch.expired());  // consumer 1 has not read it yet
  EXPECT_EQ(ints(q.take(1, 0)), (std::vector<int>{7}));
  EXPECT_TRUE(watch.expired());
}

TEST(ChannelQueue, SupersededItemsOfASkippingConsumerAreDropped) {
  ChannelQueue q(spec(Policy::Latest, 1), {0});
  std::vector<std::weak_ptr<void>> watch;
  for (int s = 0; s < 4; ++s) {
    Item v = value(s);
    watch.push_back(v);
    q.push({s, 0, 0, std::move(v)});
  }
  q.discard_superseded(0, 2);  // steps <= 2 are in: only step 2 can still be delivered among them
  EXPECT_TRUE(watch[0].expired());
  EXPECT_TRUE(watch[1].expired());
  EXPECT_EQ(ints(q.take(0, 3)), (std::vector<int>{3}));
}

TEST(ChannelQueue, ADetachedConsumerReadsNothingAndHoldsNothing) {
  ChannelQueue q(spec(Policy::Block, 8), {0, 1});
  q.push({0, 0, 0, value(1)});
  (void)q.take(1, 0);
  q.detach(0);
  EXPECT_EQ(q.available(0, 10), 0);
  EXPECT_TRUE(q.take(0, 10).empty());
  EXPECT_TRUE(q.snapshot().empty());
}

TEST(ChannelQueue, SnapshotAndRestoreKeepItemsAndCursors) {
  ChannelQueue q(spec(Policy::Block, 8), {0, 1});
  for (int s = 0; s < 3; ++s) q.push({s, 0, s, value(s)});
  (void)q.take(0, 1);  // consumer 0 has read steps 0 and 1
  auto items = q.snapshot();
  auto cursors = q.cursors();
  ChannelQueue back(spec(Policy::Block, 8), {0, 1});
  back.restore(items, cursors);
  EXPECT_EQ(ints(back.take(0, 10)), (std::vector<int>{2}));
  EXPECT_EQ(ints(back.take(1, 10)), (std::vector<int>{0, 1, 2}));
  EXPECT_THROW(back.restore(items, {0}), hy::ValueError);  // a cursor per consumer
}

}  // namespace
}  // namespace hy::workflow
