// The declared shape of a workflow as the C++ engine sees it: tasks, channels and the edges between
// them, all by index. python/hyflow/workflow/graph.py builds one from the user's declarations.
//
//   GraphSpec g;
//   g.channels.push_back({"states", /*capacity=*/8, Policy::Block, /*delay=*/0});
//   g.tasks.push_back({"simulate", 1, 0, false, 0, {}, {0}});             // every step, pushes to "states"
//   g.tasks.push_back({"train", 10, 0, false, 2, {{InputSpec::Channel, 0}}, {}});
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hy::workflow {

/// The largest step count, `every`, `offset`, `capacity`, `lookahead`, `checkpoint_every` and `retries`
/// the engine accepts: the sum of any two stays inside int64, so step arithmetic cannot overflow.
constexpr int64_t kMaxCount = int64_t{1} << 62;
/// The most threads one run's arena may have (a million made oneTBB abort the process).
constexpr int kMaxThreads = 1024;

/// What a channel does when its consumer has not caught up.
enum class Policy : uint8_t {
  Block,       // producers wait (backpressure); the consumer receives every item, in order
  Latest,      // the consumer receives only the newest item; older ones are dropped
  DropOldest,  // the consumer receives at most `capacity` newest items; older ones are dropped
};

struct ChannelSpec {
  std::string name;
  int64_t capacity = 1;
  Policy policy = Policy::Block;
  /// 0: a consumer at step s sees items pushed at steps <= s; 1: only steps < s (a feedback edge).
  int delay = 0;
};

struct InputSpec {
  enum Kind : uint8_t { Task, Channel };
  Kind kind = Task;
  int index = 0;  // into GraphSpec::tasks or GraphSpec::channels
};

struct TaskSpec {
  std::string name;
  int64_t every = 1;   // fires at steps s >= offset with (s - offset) % every == 0 ...
  int64_t offset = 0;
  bool has_predicate = false;  // ... and when the host's predicate says so
  int64_t retries = 0;         // extra attempts after a failure
  /// Seconds one attempt (or the predicate) may run before the engine stops it; 0: no limit.
  double timeout_s = 0.0;
  /// Fires at every step whatever its trigger and inputs say (missing direct inputs arrive as null).
  /// The MPI placement layer's send/receive proxies are such tasks: a peer waits for every step.
  bool always = false;
  std::vector<InputSpec> inputs;
  std::vector<int> outputs;  // channel indices this task may push to
};

struct GraphSpec {
  std::vector<TaskSpec> tasks;
  std::vector<ChannelSpec> channels;
};

/// An opaque payload carried by channels and task results. The engine never looks inside; the owner
/// (e.g. the Python bindings) supplies a deleter that is safe to run on any thread.
using Item = std::shared_ptr<void>;

/// An item in a channel, ordered by (step, producer, seq) so that what a consumer receives does not
/// depend on which producer thread finished first.
struct ChannelItem {
  int64_t step = 0;
  int producer = 0;
  int64_t seq = 0;
  Item item;
};

/// Throws ValueError naming the bad field when `g` is not a well-formed graph.
void validate(const GraphSpec& g);

}  // namespace hy::workflow
