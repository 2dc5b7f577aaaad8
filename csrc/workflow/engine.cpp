#include "workflow/engine.h"

#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/parallel.h"
#include "core/thread_exit_internal.h"

namespace hy::workflow {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// Workers of the arena the calling thread is running a workflow instance in (for Engine::spawn).
thread_local tbb::task_arena* t_arena = nullptr;

// Worker threads that runs abandoned (stuck in a task that could not be stopped): they never come back
// to oneTBB's pool, so later runs ask for that many more.
std::atomic<int> g_abandoned_threads{0};

// The arenas of runs that left threads behind (never freed, see ~Engine). oneTBB keeps counting such an
// arena's demand for workers while a stuck worker sits in it and nothing else visits it, and then hands
// idle workers to it instead of to a new run's arena (a later run hung with no worker once a few runs
// had abandoned threads). A no-op task in each of them before a run starts makes a worker visit it,
// find it out of work, and so drop that demand.
std::mutex g_left_behind_mu;
std::vector<tbb::task_arena*> g_left_behind;

void remember_left_behind(tbb::task_arena* arena) {
  std::lock_guard<std::mutex> lock(g_left_behind_mu);
  g_left_behind.push_back(arena);
}

void release_demand_of_left_behind() {
  std::lock_guard<std::mutex> lock(g_left_behind_mu);
  for (tbb::task_arena* arena : g_left_behind) arena->enqueue([] {});
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string format_seconds(double s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

int trace_thread_id() {
  static std::atomic<int> next{0};
  thread_local int id = next++;
  return id;
}

// oneTBB shares one pool of worker threads between all arenas, sized to the hardware by default.
// Workflow tasks spend much of their time waiting (for the GIL, for MPI, in a kernel's own arena), so
// the workflow arena gets workers of its own on top of the kernels' pool.
void ensure_workers(int workflow_threads) {
  // Never destroyed at exit: oneTBB may already be torn down by then (a raw pointer, on purpose).
  static std::mutex mu;
  static tbb::global_control* control = nullptr;
  static int current = 0;
  std::lock_guard<std::mutex> lock(mu);
  int want = workflow_threads + get_num_threads() + 1 + g_abandoned_threads.load();
  if (want <= current) return;
  delete control;
  control = new tbb::global_control(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(want));
  current = want;
}

class ArenaSubTask final : public Engine::SubTask {
 public:
  explicit ArenaSubTask(tbb::task_arena* arena) : arena_(arena) {}
  ~ArenaSubTask() override {
    try {
      join();
    } catch (...) {
    }
  }
  void start(std::function<void()> fn) {
    arena_->execute([&] {
      group_->run([this, fn = std::move(fn)] {
        struct Scope {  // restores t_arena and marks the sub-task done on every way out
          ArenaSubTask* self;
          tbb::task_arena* saved = t_arena;
          explicit Scope(ArenaSubTask* s) : self(s) { t_arena = s->arena_; }
          ~Scope() {
            t_arena = saved;
            self->done_ = true;
          }
        } scope(this);
        try {
          fn();
        }
        HY_PARK_ON_THREAD_EXIT
        catch (...) {
          error_ = std::current_exception();  // rethrown by wait(), on the thread that waits
        }
      });
    });
  }
  void wait() override {
    join();
    if (error_) std::rethrow_exception(error_);
  }
  bool done() const override { return done_; }

 private:
  void join() {
    if (joined_) return;
    arena_->execute([&] { group_->wait(); });  // the waiting thread runs other arena work meanwhile
    joined_ = true;
  }
  tbb::task_arena* arena_;
  // Behind a pointer: task_group's own destructor may throw, which a virtual noexcept one can't hold.
  std::unique_ptr<tbb::task_group> group_ = std::make_unique<tbb::task_group>();
  std::exception_ptr error_;
  std::atomic<bool> done_{false};
  bool joined_ = false;
};

class InlineSubTask final : public Engine::SubTask {
 public:
  explicit InlineSubTask(const std::function<void()>& fn) {
    try {
      fn();
    }
    HY_LET_THREAD_EXIT_THROUGH
    catch (...) {
      error_ = std::current_exception();
    }
  }
  void wait() override {
    if (error_) std::rethrow_exception(error_);
  }
  bool done() const override { return true; }

 private:
  std::exception_ptr error_;
};

}  // namespace

void validate(const GraphSpec& g) {
  const int nt = static_cast<int>(g.tasks.size()), nc = static_cast<int>(g.channels.size());
  for (const ChannelSpec& c : g.channels) {
    HY_CHECK(c.capacity >= 1 && c.capacity <= kMaxCount, ValueError, "channel '", c.name,
             "': capacity must be in [1, 2**62], got ", c.capacity);
    HY_CHECK(c.delay == 0 || c.delay == 1, ValueError, "channel '", c.name, "': delay must be 0 or 1, got ", c.delay);
  }
  for (int t = 0; t < nt; ++t) {
    const TaskSpec& ts = g.tasks[static_cast<size_t>(t)];
    HY_CHECK(ts.every >= 1 && ts.every <= kMaxCount, ValueError, "task '", ts.name,
             "': every must be in [1, 2**62], got ", ts.every);
    HY_CHECK(ts.offset >= 0 && ts.offset <= kMaxCount, ValueError, "task '", ts.name,
             "': offset must be in [0, 2**62], got ", ts.offset);
    HY_CHECK(ts.retries >= 0 && ts.retries <= kMaxCount, ValueError, "task '", ts.name,
             "': retries must be in [0, 2**62], got ", ts.retries);
    HY_CHECK(ts.timeout_s >= 0 && std::isfinite(ts.timeout_s), ValueError, "task '", ts.name,
             "': timeout must be a finite number of seconds >= 0 (0: none), got ", ts.timeout_s);
    for (const InputSpec& in : ts.inputs) {
      if (in.kind == InputSpec::Task) {
        HY_CHECK(in.index >= 0 && in.index < t, ValueError, "task '", ts.name,
                 "': a task input must be a task declared before it (got index ", in.index, ")");
      } else {
        HY_CHECK(in.index >= 0 && in.index < nc, ValueError, "task '", ts.name, "': channel index ", in.index,
                 " out of range");
      }
    }
    for (int c : ts.outputs)
      HY_CHECK(c >= 0 && c < nc, ValueError, "task '", ts.name, "': output channel index ", c, " out of range");
  }
  // A producer declared at or after one of a channel's consumers would make that consumer wait for a
  // later task of the same step: such a channel must deliver with one step of delay.
  for (int c = 0; c < nc; ++c) {
    int first_consumer = nt, last_producer = -1;
    for (int t = 0; t < nt; ++t) {
      const TaskSpec& ts = g.tasks[static_cast<size_t>(t)];
      for (const InputSpec& in : ts.inputs)
        if (in.kind == InputSpec::Channel && in.index == c) first_consumer = std::min(first_consumer, t);
      for (int o : ts.outputs)
        if (o == c) last_producer = std::max(last_producer, t);
    }
    const ChannelSpec& cs = g.channels[static_cast<size_t>(c)];
    HY_CHECK(cs.delay == 1 || last_producer < first_consumer, ValueError, "channel '", cs.name,
             "' is a feedback edge (producer '", last_producer >= 0 ? g.tasks[static_cast<size_t>(last_producer)].name : "",
             "' is declared after consumer '", first_consumer < nt ? g.tasks[static_cast<size_t>(first_consumer)].name : "",
             "'): it needs delay=1");
  }
}

struct Engine::Impl {
  enum class Status : uint8_t { Active, Failed, Cancelled };
  struct TaskRt {
    int64_t next = 0;
    bool running = false;
    Status status = Status::Active;
    TaskStats stats;
    Clock::time_point blocked_since{};
    int blocked_on = -1;  // channel holding this task back, for the producer-wait statistic
    int64_t stop_at = kNever;  // downstream of a failure at this step: stops before resolving it
    // The host call (predicate or body attempt) of the running instance, for timeouts.
    bool in_call = false;
    int64_t call_attempt = 0;
    Clock::time_point call_started{};
    bool timed_out = false;    // the instance exceeded its timeout: it fails, without retries
    bool interrupted = false;  // the host was asked to stop its call
    Clock::time_point interrupted_at{};
    bool abandoned = false;    // given up on: its worker may still be stuck in the host call
  };

  explicit Impl(const GraphSpec& g) : graph(g) {
    const size_t nt = g.tasks.size(), nc = g.channels.size();
    direct_consumers.resize(nt);
    consumer_slots.resize(nt);
    channel_producers.resize(nc);
    std::vector<std::vector<int>> consumers(nc);
    for (size_t t = 0; t < nt; ++t) {
      for (const InputSpec& in : g.tasks[t].inputs) {
        if (in.kind == InputSpec::Task) {
          direct_consumers[static_cast<size_t>(in.index)].push_back(static_cast<int>(t));
        } else {
          auto& cons = consumers[static_cast<size_t>(in.index)];
          consumer_slots[t].push_back({in.index, static_cast<int>(cons.size())});
          cons.push_back(static_cast<int>(t));
        }
      }
      for (int c : g.tasks[t].outputs) channel_producers[static_cast<size_t>(c)].push_back(static_cast<int>(t));
    }
    for (size_t c = 0; c < nc; ++c) channels.emplace_back(g.channels[c], consumers[c]);
    values.resize(nt);
  }

  // ---- static graph
  const GraphSpec& graph;
  std::vector<std::vector<int>> direct_consumers;
  std::vector<std::vector<std::pair<int, int>>> consumer_slots;  // task -> (channel, consumer index)
  std::vector<std::vector<int>> channel_producers;

  // ---- run state, guarded by mu
  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<ChannelQueue> channels;
  std::vector<TaskRt> rt;
  std::vector<std::map<int64_t, Item>> values;  // a task's results still to be read by direct consumers
  std::vector<int64_t> emit_seq;
  Host* host = nullptr;
  RunOptions opts;
  int64_t barrier = kNever;
  int running = 0;  // instances handed to a worker and not finished (abandoned ones excluded)
  std::string abort_error;
  bool run_timed_out = false;
  Clock::time_point run_timed_out_at{};
  RunReport report;
  Clock::time_point t0;
  std::unique_ptr<tbb::task_arena> arena;
  struct Launch {
    int t;
    int64_t s;
    bool ask_predicate;
  };
  std::vector<Launch> ready;  // made ready by pump(), not yet handed to a thread

  const TaskSpec& spec(int t) const { return graph.tasks[static_cast<size_t>(t)]; }
  bool active(int t) const { return rt[static_cast<size_t>(t)].status == Status::Active; }
  double since_start_us(Clock::time_point t) const {
    return std::chrono::duration<double, std::micro>(t - t0).count();
  }

  int64_t slowest_step() const {
    int64_t lo = opts.end_step;
    for (size_t t = 0; t < rt.size(); ++t)
      if (rt[t].status == Status::Active) lo = std::min(lo, rt[t].next);
    return lo;
  }

  bool finished() const {
    if (running > 0) return false;
    for (const TaskRt& r : rt)
      if (r.status == Status::Active && r.next < opts.end_step) return false;
    return true;
  }

  bool at_barrier() const {
    if (running > 0 || barrier == kNever) return false;
    for (const TaskRt& r : rt)
      if (r.status == Status::Active && r.next < barrier) return false;
    return true;
  }

  // Why (t, its next step) cannot start now; empty when it can.
  std::string waiting_for(int t, bool record_block) {
    TaskRt& r = rt[static_cast<size_t>(t)];
    const int64_t s = r.next;
    if (s >= barrier) return "the checkpoint at step " + std::to_string(barrier);
    if (s - slowest_step() >= opts.lookahead) return "the look-ahead window";  // no overflow: s >= slowest
    for (const InputSpec& in : spec(t).inputs) {
      if (in.kind == InputSpec::Task) {
        if (active(in.index) && rt[static_cast<size_t>(in.index)].next <= s)
          return "task '" + spec(in.index).name + "' step " + std::to_string(s);
      } else {
        int64_t need = s - graph.channels[static_cast<size_t>(in.index)].delay;
        for (int p : channel_producers[static_cast<size_t>(in.index)])
          if (active(p) && rt[static_cast<size_t>(p)].next <= need)
            return "task '" + spec(p).name + "' step " + std::to_string(need);
      }
    }
    for (int c : spec(t).outputs) {
      ChannelQueue& q = channels[static_cast<size_t>(c)];
      if (q.spec().policy != Policy::Block) continue;
      for (size_t k = 0; k < q.consumers().size(); ++k) {
        if (!q.attached(static_cast<int>(k)) || q.consumers()[k] == t) continue;
        if (q.available(static_cast<int>(k), s - 1) >= q.spec().capacity) {
          if (record_block && r.blocked_on < 0) {
            r.blocked_on = c;
            r.blocked_since = Clock::now();
          }
          return "space in channel '" + q.spec().name + "' (full until '" + spec(q.consumers()[k]).name + "' reads it)";
        }
      }
    }
    return {};
  }

  // Start every instance that can start; resolve the ones that do not fire on the spot.
  void pump() {
    bool progressed = true;
    while (progressed && abort_error.empty()) {
      progressed = false;
      for (int t = 0; t < static_cast<int>(rt.size()); ++t) {
        TaskRt& r = rt[static_cast<size_t>(t)];
        if (r.status != Status::Active || r.running || r.next >= opts.end_step) continue;
        if (r.next >= r.stop_at) {  // something it depends on failed at this step
          stop_task(t, Status::Cancelled);
          progressed = true;
          continue;
        }
        if (!waiting_for(t, true).empty()) continue;
        if (r.blocked_on >= 0) {
          channels[static_cast<size_t>(r.blocked_on)].stats.producer_wait_s +=
              std::chrono::duration<double>(Clock::now() - r.blocked_since).count();
          r.blocked_on = -1;
        }
        progressed = true;
        start_or_skip(t);
      }
    }
  }

  void start_or_skip(int t) {
    TaskRt& r = rt[static_cast<size_t>(t)];
    const TaskSpec& ts = spec(t);
    const int64_t s = r.next;
    bool on_schedule = s >= ts.offset && (s - ts.offset) % ts.every == 0;
    bool have_direct = true, have_channel_data = false, forced = false, has_channel_inputs = false;
    for (const InputSpec& in : ts.inputs) {
      if (in.kind == InputSpec::Task) {
        auto& v = values[static_cast<size_t>(in.index)];
        have_direct = have_direct && v.count(s) > 0;
      } else if (graph.channels[static_cast<size_t>(in.index)].delay == 0) {
        // Only same-step channels gate firing: a feedback (delayed) input is context the task reads
        // when present; otherwise a loop through it could never start.
        has_channel_inputs = true;
      }
    }
    for (auto [c, k] : consumer_slots[static_cast<size_t>(t)]) {
      ChannelQueue& q = channels[static_cast<size_t>(c)];
      int64_t n = q.available(k, s - q.spec().delay);
      if (q.spec().delay == 0) have_channel_data = have_channel_data || n > 0;
      // A full Block channel makes its consumer read it even off schedule: otherwise its producer
      // would wait for a read that never comes.
      forced = forced || (q.spec().policy == Policy::Block && n >= q.spec().capacity);
    }
    bool have_data = have_direct && (!has_channel_inputs || have_channel_data);
    // A forced read fires even when a task input produced nothing (it arrives as None): otherwise the
    // full channel's producer would wait forever.
    if (!ts.always && !forced && (!have_data || !on_schedule)) {
      ++r.stats.skipped;
      resolve(t);
      return;
    }
    r.running = true;
    r.timed_out = r.interrupted = r.in_call = false;
    ++running;
    // A forced read still asks the predicate: when it says no, the instance drops what it would have
    // read from its block channels (drop_unread), which frees the channel just as well. So an if/else
    // pair of branches on one block channel never deadlocks and never both take an item.
    bool ask_predicate = ts.has_predicate && !ts.always;
    ready.push_back(Launch{t, s, ask_predicate});  // started by launch_all / the worker that made it ready
  }

  // Mark (t, next) done and forget direct results nobody will read any more. Lock held.
  void resolve(int t) {
    TaskRt& r = rt[static_cast<size_t>(t)];
    ++r.next;
    // Every item this consumer could see at the step just resolved has arrived: drop what a later read
    // can no longer deliver, so a Latest channel whose consumer rarely fires holds one item, not many.
    for (auto [c, k] : consumer_slots[static_cast<size_t>(t)]) {
      ChannelQueue& q = channels[static_cast<size_t>(c)];
      q.discard_superseded(k, r.next - 1 - q.spec().delay);
    }
    for (const InputSpec& in : spec(t).inputs) {
      if (in.kind != InputSpec::Task) continue;
      auto& v = values[static_cast<size_t>(in.index)];
      int64_t lowest = kNever;
      for (int d : direct_consumers[static_cast<size_t>(in.index)])
        if (active(d)) lowest = std::min(lowest, rt[static_cast<size_t>(d)].next);
      v.erase(v.begin(), v.lower_bound(lowest));
    }
  }

  void stop_task(int t, Status why) {
    TaskRt& r = rt[static_cast<size_t>(t)];
    if (r.status != Status::Active) return;
    r.status = why;
    if (why == Status::Cancelled) report.cancelled.push_back(t);
    for (auto [c, k] : consumer_slots[static_cast<size_t>(t)]) channels[static_cast<size_t>(c)].detach(k);
    // Its results of earlier steps stay while tasks downstream still finish the steps before the failure;
    // a producer nobody reads directly any more keeps nothing.
    for (const InputSpec& in : spec(t).inputs) {
      if (in.kind != InputSpec::Task) continue;
      const auto& readers = direct_consumers[static_cast<size_t>(in.index)];
      if (std::none_of(readers.begin(), readers.end(), [&](int d) { return active(d); }))
        values[static_cast<size_t>(in.index)].clear();
    }
  }

  // Everything downstream of a failed task stops at the failed step (the steps before it still complete
  // with the data that was produced); unrelated branches go on.
  // A reader through a delayed channel stops one step later than its producer: its step s only needed the
  // producer's step s-1, so whether it completes s must not depend on timing.
  void cancel_dependents(int failed, int64_t step) {
    std::vector<std::pair<int, int64_t>> todo{{failed, step}};
    while (!todo.empty()) {
      auto [t, at] = todo.back();
      todo.pop_back();
      std::vector<std::pair<int, int64_t>> next;
      for (int d : direct_consumers[static_cast<size_t>(t)]) next.push_back({d, at});
      for (int c : spec(t).outputs)
        for (int k : channels[static_cast<size_t>(c)].consumers())
          next.push_back({k, at + graph.channels[static_cast<size_t>(c)].delay});
      for (auto [d, stop] : next) {
        TaskRt& r = rt[static_cast<size_t>(d)];
        if (active(d) && r.stop_at > stop) {
          r.stop_at = stop;
          todo.push_back({d, stop});
        }
      }
    }
  }

  void record(int t, int64_t s, int64_t attempt, Clock::time_point a, Clock::time_point b, TraceEvent::Status st) {
    if (static_cast<int64_t>(report.events.size()) >= opts.max_events) {
      ++report.events_dropped;  // a bounded trace: a long run keeps its first max_events attempts
      return;
    }
    TraceEvent e;
    e.task = t;
    e.step = s;
    e.attempt = attempt;
    e.thread = trace_thread_id();
    e.start_us = since_start_us(a);
    e.end_us = since_start_us(b);
    e.status = st;
    report.events.push_back(e);
  }

  // Hand the instances pump() made ready to the arena. Lock held.
  void launch_all() {
    for (const Launch& l : ready) arena->enqueue([this, l] { execute(l); });
    ready.clear();
  }

  // A worker that just finished an instance keeps one of the newly ready ones for itself: the next step
  // of a chain (simulate -> infer -> simulate) then starts without waking another thread. Lock held.
  std::optional<Launch> launch_all_but_one() {
    if (ready.empty()) return std::nullopt;
    Launch mine = ready.front();
    for (size_t i = 1; i < ready.size(); ++i) arena->enqueue([this, l = ready[i]] { execute(l); });
    ready.clear();
    return mine;
  }

  void execute(Launch l) {
    struct ArenaScope {  // Engine::spawn from this task's body runs on this arena
      explicit ArenaScope(tbb::task_arena* a) : saved(t_arena) { t_arena = a; }
      ~ArenaScope() { t_arena = saved; }
      tbb::task_arena* saved;
    } scope(arena.get());
    std::optional<Launch> next = l;
    while (next) {
      const Launch current = *next;
      bool counted = true;  // `running` still counts `current`
      try {
        next = execute_one(current, counted);
      }
      HY_PARK_ON_THREAD_EXIT
      catch (...) {
        // Nothing may escape an enqueued task (oneTBB would terminate the process): an error of the
        // engine itself stops the run, and run() hands it to the caller as the reason.
        std::string what;
        try {
          what = "internal error in the workflow engine at task '" + spec(current.t).name + "' step " +
                 std::to_string(current.s) + ": " + current_exception_message();
        } catch (...) {
        }
        std::lock_guard<std::mutex> lock(mu);
        if (abort_error.empty()) {
          if (what.empty()) abort_error = "internal error";  // short enough not to allocate
          else abort_error.swap(what);
        }
        if (counted && !rt[static_cast<size_t>(current.t)].abandoned) --running;
        cv.notify_all();
        next.reset();
      }
    }
  }

  // Starts the timeout clock of a host call of t's running instance. Lock held.
  void begin_call(int t, int64_t attempt) {
    TaskRt& r = rt[static_cast<size_t>(t)];
    r.in_call = true;
    r.call_attempt = attempt;
    r.call_started = Clock::now();
  }

  // A worker runs one instance: predicate, inputs, the body with retries, then publishes the result;
  // returns an instance it made ready and runs next itself. `counted` becomes false once `running` no
  // longer counts the instance. After every host call it first checks whether the supervisor abandoned
  // the instance meanwhile (see abandon()): then the instance is over and nothing else may be touched.
  std::optional<Launch> execute_one(const Launch& l, bool& counted) {
    const int t = l.t;
    const int64_t s = l.s;
    const TaskSpec& ts = spec(t);
    TaskRt& r = rt[static_cast<size_t>(t)];
    std::optional<Launch> next;
    TaskOutcome out;
    bool fire = true, said_no = false;
    std::vector<InputValue> inputs;
    int64_t attempts = 0;
    if (l.ask_predicate) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (r.abandoned) return std::nullopt;
        // Cancelled (something upstream failed) after it was scheduled, or the run is stopping.
        if (!active(t) || !abort_error.empty()) fire = false;
        else begin_call(t, 0);
      }
      if (fire) {
        bool raised = false;
        std::string error;
        try {
          fire = host->predicate(t, s);
        }
        HY_LET_THREAD_EXIT_THROUGH
        catch (...) {
          raised = true;
          error = current_exception_message();
        }
        std::lock_guard<std::mutex> lock(mu);
        if (r.abandoned) return std::nullopt;
        r.in_call = false;
        if (r.timed_out || raised) {
          out.ok = false;
          out.error = r.timed_out ? timeout_message(t) : "the `when` predicate raised: " + error;
          attempts = 1;
        } else {
          said_no = !fire;
        }
      }
    }
    if (fire && out.ok) {
      std::lock_guard<std::mutex> lock(mu);
      if (r.abandoned) return std::nullopt;
      if (!active(t) || !abort_error.empty()) {
        fire = false;
      } else {
        for (const InputSpec& in : ts.inputs) {
          InputValue v;
          if (in.kind == InputSpec::Task) {
            auto& produced = values[static_cast<size_t>(in.index)];
            auto it = produced.find(s);
            v.items.push_back(it == produced.end() ? Item() : it->second);
          } else {
            v.is_channel = true;
          }
          inputs.push_back(std::move(v));
        }
        size_t slot = 0;
        for (size_t i = 0; i < ts.inputs.size(); ++i) {
          if (ts.inputs[i].kind != InputSpec::Channel) continue;
          auto [c, k] = consumer_slots[static_cast<size_t>(t)][slot++];
          ChannelQueue& q = channels[static_cast<size_t>(c)];
          inputs[i].items = q.take(k, s - q.spec().delay);
        }
        begin_call(t, 0);
      }
    }
    if (fire && out.ok) {
      for (int64_t attempt = 0;; ++attempt) {
        auto a = Clock::now();
        try {
          out = host->invoke(t, s, attempt, inputs);
        }
        HY_LET_THREAD_EXIT_THROUGH
        catch (...) {
          out = TaskOutcome{};
          out.ok = false;
          out.error = current_exception_message();
        }
        auto b = Clock::now();
        attempts = attempt + 1;
        std::lock_guard<std::mutex> lock(mu);
        if (r.abandoned) return std::nullopt;  // inputs and out are released after the lock
        r.in_call = false;
        if (r.timed_out) {  // whatever the body did after it was told to stop: the step failed
          out.ok = false;
          out.abort = false;
          out.error = timeout_message(t);
        }
        TaskStats& st = r.stats;
        double secs = seconds_between(a, b);
        ++st.calls;
        st.total_s += secs;
        st.max_s = std::max(st.max_s, secs);
        // Never retried: a timed-out attempt (its successor would hang the same way), or any failure
        // once the run is stopping.
        bool last = out.ok || out.abort || r.timed_out || attempt >= ts.retries || !abort_error.empty();
        record(t, s, attempt, a, b,
               out.ok ? TraceEvent::Ok : (last ? TraceEvent::Failed : TraceEvent::Retried));
        if (!out.ok) {
          ++st.failed;
          if (!last) ++st.retries;
        }
        if (last) break;
        begin_call(t, attempt + 1);
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      if (r.abandoned) return std::nullopt;
      r.running = false;
      r.in_call = false;
      if (out.ok && fire && !out.abort) {
        try {
          publish(t, s, out);
        } catch (const std::exception& e) {
          out.ok = false;
          out.error = e.what();
        }
      }
      if (out.abort) {
        if (abort_error.empty()) abort_error = out.error;
      } else if (!fire) {
        ++r.stats.skipped;
        if (said_no) drop_unread(t, s);
        resolve(t);
      } else if (out.ok) {
        resolve(t);
      } else {
        report.failures.push_back(Failure{t, s, attempts, out.error, r.timed_out});
        stop_task(t, Status::Failed);
        cancel_dependents(t, s);
        ++r.next;
      }
      pump();
      next = launch_all_but_one();
    }
    // Drop this instance's references to items before reporting it finished: once `running` is 0, run()
    // may return and Python may shut down, after which the last reference must not be dropped here.
    inputs.clear();
    out = TaskOutcome{};
    std::lock_guard<std::mutex> lock(mu);
    --running;
    counted = false;
    // The supervisor only acts when nothing runs (end, checkpoint barrier, deadlock) or on an abort;
    // waking it after every instance would cost a thread switch per instance.
    if (running == 0 || !abort_error.empty()) cv.notify_all();
    return next;
  }

  // A step whose `when` predicate said no reads nothing, and the items it would have read from its
  // block channels are dropped for this task (the other readers still get them). So two readers of
  // one block channel with opposite predicates split its items: each goes to exactly one branch.
  // Latest and drop_oldest channels keep their newest items for the next step that fires, as they do
  // for a step off the schedule. Lock held.
  void drop_unread(int t, int64_t s) {
    for (auto [c, k] : consumer_slots[static_cast<size_t>(t)]) {
      ChannelQueue& q = channels[static_cast<size_t>(c)];
      if (q.spec().policy == Policy::Block) q.drop(k, s - q.spec().delay);
    }
  }

  // ---- timeouts

  struct Interrupt {
    int t;
    int64_t s, attempt;
    InterruptReason why;
    std::string message;
  };

  std::string timeout_message(int t) const {
    return "task '" + spec(t).name + "' step " + std::to_string(rt[static_cast<size_t>(t)].next) +
           " exceeded its timeout of " + format_seconds(spec(t).timeout_s) + " s";
  }

  // Called by the supervisor at each wake-up, lock held. A call that ran past its task's timeout (or
  // any call, once the run's timeout expired) is asked to stop; one still running abandon_after_s
  // later is abandoned. Returns the calls the host must be asked to stop, without the lock.
  std::vector<Interrupt> check_timeouts(Clock::time_point now) {
    std::vector<Interrupt> stop;
    if (opts.timeout_s > 0 && !run_timed_out && seconds_between(t0, now) >= opts.timeout_s) {
      run_timed_out = true;
      run_timed_out_at = now;
      report.timed_out = true;
      if (abort_error.empty())
        abort_error = "the run exceeded its timeout of " + format_seconds(opts.timeout_s) + " s";
      for (int t = 0; t < static_cast<int>(rt.size()); ++t)
        if (rt[static_cast<size_t>(t)].running && !rt[static_cast<size_t>(t)].abandoned)
          report.running_at_timeout.push_back({t, rt[static_cast<size_t>(t)].next});
    }
    for (int t = 0; t < static_cast<int>(rt.size()); ++t) {
      TaskRt& r = rt[static_cast<size_t>(t)];
      if (!r.running || r.abandoned || !r.in_call) continue;
      if (!r.interrupted) {
        double limit = spec(t).timeout_s;
        bool expired = limit > 0 && seconds_between(r.call_started, now) >= limit;
        if (!expired && !run_timed_out) continue;
        r.timed_out = expired;
        r.interrupted = true;
        r.interrupted_at = now;
        stop.push_back({t, r.next, r.call_attempt, expired ? InterruptReason::TaskTimeout : InterruptReason::RunTimeout,
                        expired ? timeout_message(t) : abort_error});
      } else if (seconds_between(r.interrupted_at, now) >= opts.abandon_after_s) {
        abandon(t, now);
      }
    }
    // After the run's timeout, an instance that is still not finished a little later is given up on even
    // outside a host call (say, queued but never picked up by a worker): the run must return.
    if (run_timed_out && seconds_between(run_timed_out_at, now) >= opts.abandon_after_s) {
      for (int t = 0; t < static_cast<int>(rt.size()); ++t)
        if (rt[static_cast<size_t>(t)].running && !rt[static_cast<size_t>(t)].abandoned) abandon(t, now);
    }
    return stop;
  }

  // Asks the host to stop each call, without the engine lock. A host error here is not the run's: the
  // call it was about to stop is abandoned a little later anyway.
  static void send_interrupts(Host& host, const std::vector<Interrupt>& stop) {
    for (const auto& i : stop) {
      try {
        host.interrupt(i.t, i.s, i.attempt, i.why, i.message);
      }
      HY_LET_THREAD_EXIT_THROUGH
      catch (...) {
      }
    }
  }

  // A second Ctrl-C: stop waiting for every running instance. Returns the calls to interrupt.
  std::vector<Interrupt> abandon_all(Clock::time_point now, const std::string& why) {
    std::vector<Interrupt> stop;
    for (int t = 0; t < static_cast<int>(rt.size()); ++t) {
      TaskRt& r = rt[static_cast<size_t>(t)];
      if (!r.running || r.abandoned) continue;
      if (r.in_call) stop.push_back({t, r.next, r.call_attempt, InterruptReason::Abort, why});
      abandon(t, now);
    }
    return stop;
  }

  // Stop waiting for t's running instance: its worker stays in the host call (stuck in C code, or a
  // body that caught the exception meant to stop it) and, if it ever comes back, sees `abandoned` and
  // leaves without touching anything else. A timed-out instance fails as if its body had raised.
  // Lock held.
  void abandon(int t, Clock::time_point now) {
    TaskRt& r = rt[static_cast<size_t>(t)];
    r.abandoned = true;
    --running;
    ++g_abandoned_threads;
    report.abandoned.push_back({t, r.next});
    if (r.timed_out) {
      if (r.in_call) {
        double secs = seconds_between(r.call_started, now);
        ++r.stats.calls;
        ++r.stats.failed;
        r.stats.total_s += secs;
        r.stats.max_s = std::max(r.stats.max_s, secs);
        record(t, r.next, r.call_attempt, r.call_started, now, TraceEvent::Failed);
      }
      report.failures.push_back(Failure{t, r.next, r.call_attempt + 1,
                                        timeout_message(t) + "; its thread did not stop and was abandoned", true});
      stop_task(t, Status::Failed);
      cancel_dependents(t, r.next);
      ++r.next;
      pump();
      launch_all();
    }
    r.in_call = false;
  }

  void publish(int t, int64_t s, TaskOutcome& out) {
    int64_t& seq = emit_seq[static_cast<size_t>(t)];
    auto push = [&](int c, const Item& item) {
      channels[static_cast<size_t>(c)].push(ChannelItem{s, t, seq++, item});
    };
    for (auto& [c, item] : out.emitted) {
      const auto& outs = spec(t).outputs;
      HY_CHECK(std::find(outs.begin(), outs.end(), c) != outs.end(), RuntimeError, "task '", spec(t).name,
               "' emitted to channel ", c, " which is not one of its outputs");
      push(c, item);
    }
    if (out.value) {
      for (int c : spec(t).outputs) push(c, out.value);
      const auto& readers = direct_consumers[static_cast<size_t>(t)];
      if (std::any_of(readers.begin(), readers.end(), [&](int d) { return active(d); }))
        values[static_cast<size_t>(t)][s] = out.value;
    }
  }

  std::string deadlock_report() {
    std::ostringstream os;
    os << "workflow deadlock: no task can run. Waiting:";
    for (int t = 0; t < static_cast<int>(rt.size()); ++t) {
      const TaskRt& r = rt[static_cast<size_t>(t)];
      if (r.status != Status::Active || r.next >= opts.end_step) continue;
      os << "\n  '" << spec(t).name << "' at step " << r.next << " waits for " << waiting_for(t, false);
    }
    return os.str();
  }
};

Engine::Engine(GraphSpec graph) : graph_(std::move(graph)) {
  validate(graph_);
  impl_ = std::make_unique<Impl>(graph_);
}

Engine::~Engine() {
  // Threads a run abandoned may still come back into impl_ (to see that they were abandoned): it must
  // outlive them, and nobody knows when that is.
  if (abandoned_) (void)impl_.release();
}

RunReport Engine::run(Host& host, const RunOptions& opts) {
  Impl& m = *impl_;
  HY_CHECK(!abandoned_, RuntimeError,
           "workflow run: an earlier run of this engine left threads behind; build a new engine");
  HY_CHECK(opts.start_step >= 0 && opts.start_step <= kMaxCount, ValueError,
           "workflow run: the start step must be in [0, 2**62], got ", opts.start_step);
  HY_CHECK(opts.end_step >= opts.start_step && opts.end_step <= kMaxCount, ValueError,
           "workflow run: steps must be in [", opts.start_step, ", 2**62], got ", opts.end_step);
  HY_CHECK(opts.checkpoint_every >= 0 && opts.checkpoint_every <= kMaxCount, ValueError,
           "workflow run: checkpoint_every must be in [0, 2**62], got ", opts.checkpoint_every);
  HY_CHECK(opts.lookahead >= 1 && opts.lookahead <= kMaxCount, ValueError,
           "workflow run: lookahead must be in [1, 2**62], got ", opts.lookahead);
  HY_CHECK(opts.threads >= 0 && opts.threads <= kMaxThreads, ValueError, "workflow run: threads must be in [0, ",
           kMaxThreads, "], got ", opts.threads);
  HY_CHECK(std::isfinite(opts.timeout_s) && opts.timeout_s >= 0, ValueError,
           "workflow run: timeout must be a finite number of seconds >= 0 (0: none), got ", opts.timeout_s);
  HY_CHECK(std::isfinite(opts.abandon_after_s) && opts.abandon_after_s >= 0, ValueError,
           "workflow run: abandon_after_s must be a finite number of seconds >= 0, got ", opts.abandon_after_s);
  HY_CHECK(opts.heartbeat_s > 0 && opts.heartbeat_s <= 3600, ValueError,
           "workflow run: heartbeat_s must be in (0, 3600] seconds, got ", opts.heartbeat_s);
  {
    std::lock_guard<std::mutex> lock(m.mu);
    HY_CHECK(m.host == nullptr, RuntimeError, "workflow run: this engine is already running");
    m.host = &host;
  }
  int threads = opts.threads > 0 ? opts.threads : std::max(2, get_num_threads());
  ensure_workers(threads);
  release_demand_of_left_behind();
  m.arena = std::make_unique<tbb::task_arena>(threads, /*reserved_for_masters=*/0);
  m.opts = opts;
  m.rt.assign(graph_.tasks.size(), Impl::TaskRt{});
  for (auto& r : m.rt) r.next = opts.start_step;
  m.emit_seq.assign(graph_.tasks.size(), 0);
  for (auto& v : m.values) v.clear();
  m.report = RunReport{};
  m.running = 0;
  m.abort_error.clear();
  m.run_timed_out = false;
  m.barrier = kNever;
  if (opts.checkpoint_every > 0) {
    // Written so that nothing overflows: every value is at most 2**62.
    int64_t last = opts.start_step - opts.start_step % opts.checkpoint_every;
    if (opts.end_step - last >= opts.checkpoint_every) m.barrier = last + opts.checkpoint_every;
  }
  m.t0 = Clock::now();

  const auto beat = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opts.heartbeat_s));
  std::unique_lock<std::mutex> lock(m.mu);
  m.pump();
  m.launch_all();
  auto next_beat = Clock::now() + beat;
  // The supervisor: checkpoints at barriers, detects the end and deadlocks, checks timeouts, beats.
  // After an abort it keeps going until no instance it waits for is running (timeouts and a second
  // Ctrl-C still apply then), so it never waits on a body that cannot stop.
  for (;;) {
    if (m.abort_error.empty()) {
      if (m.at_barrier()) {
        int64_t b = m.barrier;
        bool failed = !m.report.failures.empty();
        lock.unlock();
        std::string error;
        try {
          host.checkpoint(b, failed);  // called even after a failure: under MPI the decision is collective
        }
        HY_LET_THREAD_EXIT_THROUGH
        catch (...) {
          error = "checkpoint at step " + std::to_string(b) + " failed: " + current_exception_message();
        }
        lock.lock();
        if (!error.empty()) {
          if (m.abort_error.empty()) m.abort_error = error;
          continue;
        }
        m.barrier = opts.end_step - b >= opts.checkpoint_every ? b + opts.checkpoint_every : kNever;
        m.pump();
        m.launch_all();
        continue;
      }
      if (m.finished()) break;
      if (m.running == 0) m.abort_error = m.deadlock_report();
    }
    if (!m.abort_error.empty() && m.running == 0) break;
    m.cv.wait_until(lock, next_beat);
    auto now = Clock::now();
    std::vector<Impl::Interrupt> stop = m.check_timeouts(now);
    if (now < next_beat) {
      if (!stop.empty()) {
        lock.unlock();
        Impl::send_interrupts(host, stop);
        lock.lock();
      }
      continue;
    }
    next_beat = now + beat;
    const bool aborting = !m.abort_error.empty();
    const int64_t done = m.slowest_step();
    lock.unlock();
    Impl::send_interrupts(host, stop);
    std::string error;
    bool raised = false, stop_now = false;
    try {
      if (aborting) stop_now = host.stop_now();
      else host.heartbeat(done);
    }
    HY_LET_THREAD_EXIT_THROUGH
    catch (...) {
      raised = true;
      error = current_exception_message();
    }
    lock.lock();
    if (raised && !aborting) {
      if (m.abort_error.empty()) m.abort_error = error.empty() ? std::string("the progress callback raised") : error;
    } else if (raised || stop_now) {
      m.report.hard_stopped = true;
      stop = m.abandon_all(Clock::now(), "the run was interrupted again");
      lock.unlock();
      Impl::send_interrupts(host, stop);
      lock.lock();
    }
  }
  // Nothing the engine waits for runs any more. Abandoned workers may still be inside the arena: it
  // stays, with the rest of the engine (see ~Engine).
  const bool left_behind = !m.report.abandoned.empty();
  lock.unlock();
  if (left_behind) remember_left_behind(m.arena.get());
  else m.arena->terminate();

  lock.lock();
  RunReport rep = std::move(m.report);
  rep.aborted = m.abort_error;
  rep.steps_done = m.slowest_step();
  for (auto& r : m.rt) rep.task_stats.push_back(r.stats);
  for (auto& q : m.channels) rep.channel_stats.push_back(q.stats);
  rep.wall_s = std::chrono::duration<double>(Clock::now() - m.t0).count();
  for (auto& q : m.channels) q.stats = ChannelStats{};
  m.host = nullptr;
  if (left_behind) abandoned_ = true;
  return rep;
}

std::vector<ChannelItem> Engine::channel_snapshot(int c) const {
  HY_CHECK(c >= 0 && c < static_cast<int>(impl_->channels.size()), IndexError, "channel index ", c, " out of range");
  return impl_->channels[static_cast<size_t>(c)].snapshot();
}

std::vector<int64_t> Engine::channel_cursors(int c) const {
  HY_CHECK(c >= 0 && c < static_cast<int>(impl_->channels.size()), IndexError, "channel index ", c, " out of range");
  return impl_->channels[static_cast<size_t>(c)].cursors();
}

void Engine::channel_restore(int c, std::vector<ChannelItem> items, const std::vector<int64_t>& cursors) {
  HY_CHECK(c >= 0 && c < static_cast<int>(impl_->channels.size()), IndexError, "channel index ", c, " out of range");
  impl_->channels[static_cast<size_t>(c)].restore(std::move(items), cursors);
}

std::shared_ptr<Engine::SubTask> Engine::spawn(std::function<void()> fn) {
  if (t_arena == nullptr) return std::make_shared<InlineSubTask>(fn);
  auto task = std::make_shared<ArenaSubTask>(t_arena);
  task->start(std::move(fn));
  return task;
}

}  // namespace hy::workflow
