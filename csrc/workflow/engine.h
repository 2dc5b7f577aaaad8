// The workflow scheduler: runs the instances (task, step) of a GraphSpec on a oneTBB task arena.
//
// An instance (t, s) becomes ready when (t, s-1) is resolved, the tasks it reads directly have
// resolved step s, the producers of its input channels have resolved step s - delay, and (for a
// producer of a Block channel) that channel is not full. Ready instances run concurrently, so a
// simulation can run ahead of a slower trainer up to the channel's capacity and the look-ahead window.
// What each instance receives depends only on steps, never on timing: a run is deterministic, which is
// what lets a resumed run end with the same result as an uninterrupted one.
//
// The host (the Python bindings) runs task bodies and predicates, writes checkpoints and is called
// back for progress; the engine owns scheduling, channels, retries, failure propagation and the trace.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "workflow/channel_queue.h"
#include "workflow/graph_spec.h"

namespace hy::workflow {

/// One input of a task invocation: the producer's value (direct input), or a channel's items.
struct InputValue {
  bool is_channel = false;
  std::vector<Item> items;  // direct: exactly one; channel: what the policy delivers (maybe empty)
};

struct TaskOutcome {
  bool ok = true;
  bool abort = false;  // stop the whole run now (e.g. KeyboardInterrupt); `error` says why
  Item value;          // null: no output this step
  std::vector<std::pair<int, Item>> emitted;  // (channel index, item) pushed explicitly
  std::string error;   // the formatted error when !ok
};

/// Why the engine asks the host to stop a call that is still running.
enum class InterruptReason : uint8_t {
  TaskTimeout,  // the call ran past its task's timeout: the instance fails
  RunTimeout,   // the run's timeout expired: the run stops
  Abort,        // a second Ctrl-C: the run stops without waiting
};

class Host {
 public:
  virtual ~Host() = default;
  virtual bool predicate(int task, int64_t step) = 0;
  virtual TaskOutcome invoke(int task, int64_t step, int64_t attempt, std::vector<InputValue>& inputs) = 0;
  /// Called on the supervising thread with every worker idle: all instances of steps < next_step are
  /// resolved and none later has started. `failed`: a task of this process has failed (the host then
  /// writes nothing, but may still take part in a collective decision). May throw (the run then stops).
  virtual void checkpoint(int64_t next_step, bool failed) = 0;
  /// Called on the supervising thread about every `heartbeat_s` with the count of fully resolved steps.
  /// May throw (e.g. KeyboardInterrupt), which stops the run.
  virtual void heartbeat(int64_t steps_done) = 0;
  /// Called on the supervising thread (no engine lock held) when the predicate or body attempt
  /// `attempt` of (task, step) must stop: ask it to (Python: raise an exception in its thread). The call
  /// may have returned meanwhile; the host then does nothing. `message` says why. Must not block.
  virtual void interrupt(int task, int64_t step, int64_t attempt, InterruptReason why, const std::string& message) = 0;
  /// Polled on the supervising thread about every `heartbeat_s` while the run waits for running
  /// instances after an abort. True (a second Ctrl-C) abandons them and returns at once.
  virtual bool stop_now() = 0;
};

struct RunOptions {
  int64_t start_step = 0;
  int64_t end_step = 0;         // exclusive
  int64_t checkpoint_every = 0; // 0: never
  int threads = 0;              // 0: hyflow's thread count, at least 2
  int64_t lookahead = 16;       // max steps between the slowest and fastest task
  double heartbeat_s = 0.1;
  int64_t max_events = 1000000;  // trace events kept; later attempts are only counted
  double timeout_s = 0.0;        // the whole run's wall-clock limit in seconds; 0: none
  /// After the host was asked to stop a call, how long the engine waits for it before abandoning its
  /// thread (a thread stuck in C code cannot be stopped).
  double abandon_after_s = 1.0;
};

/// One attempt of one instance, for the trace and the statistics.
struct TraceEvent {
  int task = 0;
  int64_t step = 0;
  int64_t attempt = 0;
  int thread = 0;
  double start_us = 0, end_us = 0;
  enum Status : uint8_t { Ok, Failed, Retried, Cancelled } status = Ok;
};

struct TaskStats {
  int64_t calls = 0, skipped = 0, failed = 0, retries = 0;
  double total_s = 0, max_s = 0;
};

struct Failure {
  int task = 0;
  int64_t step = 0;
  int64_t attempts = 0;
  std::string error;
  bool timed_out = false;  // it exceeded the task's timeout (never retried)
};

/// An instance the engine stopped waiting for: its worker thread may still be inside the host call.
struct Abandoned {
  int task = 0;
  int64_t step = 0;
};

struct RunReport {
  int64_t steps_done = 0;  // every task resolved steps < steps_done
  std::vector<Failure> failures;
  std::vector<int> cancelled;  // tasks stopped because something they depend on failed
  std::vector<TaskStats> task_stats;
  std::vector<ChannelStats> channel_stats;
  std::vector<TraceEvent> events;
  int64_t events_dropped = 0;
  double wall_s = 0;
  std::string aborted;  // non-empty: the run stopped early because of this error
  bool timed_out = false;             // the run-level timeout stopped it
  std::vector<Abandoned> running_at_timeout;  // what was running when it did
  bool hard_stopped = false;          // stop_now() was true: the run returned without waiting
  std::vector<Abandoned> abandoned;   // instances left running in their threads
};

class Engine {
 public:
  explicit Engine(GraphSpec graph);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const GraphSpec& graph() const { return graph_; }

  /// Run steps [start_step, end_step). Blocks the calling thread, which supervises (heartbeats,
  /// checkpoints, deadlock detection, timeouts); task bodies run on the arena's workers. When the report
  /// lists abandoned instances, their threads may still call into `host` later: the host must then
  /// outlive them (the bindings leak it), and this engine refuses to run again.
  RunReport run(Host& host, const RunOptions& opts);

  /// Channel contents for checkpoints (only while the engine is idle or inside Host::checkpoint).
  std::vector<ChannelItem> channel_snapshot(int c) const;
  std::vector<int64_t> channel_cursors(int c) const;
  void channel_restore(int c, std::vector<ChannelItem> items, const std::vector<int64_t>& cursors);

  /// Run `fn` concurrently on the engine's arena (a sub-task). The returned handle's wait() helps run
  /// other work while it waits, so waiting from inside a task cannot starve the arena.
  class SubTask;
  static std::shared_ptr<SubTask> spawn(std::function<void()> fn);

 private:
  struct Impl;
  GraphSpec graph_;
  std::unique_ptr<Impl> impl_;
  bool abandoned_ = false;  // a run left threads behind that still use impl_: never freed
};

class Engine::SubTask {
 public:
  virtual ~SubTask() = default;
  virtual void wait() = 0;
  virtual bool done() const = 0;
};

}  // namespace hy::workflow
