#include "workflow/engine.h"

#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/parallel.h"

namespace hy::workflow {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// Workers of the arena the calling thread is running a workflow instance in (for Engine::spawn).
thread_local tbb::task_arena* t_arena = nullptr;

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
  int want = workflow_threads + get_num_threads() + 1;
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
        tbb::task_arena* saved = t_arena;
        t_arena = arena_;
        try {
          fn();
        } catch (...) {
          error_ = std::current_exception();
        }
        t_arena = saved;
        done_ = true;
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
    } catch (...) {
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
    HY_CHECK(c.capacity >= 1, ValueError, "channel '", c.name, "': capacity must be >= 1, got ", c.capacity);
    HY_CHECK(c.delay == 0 || c.delay == 1, ValueError, "channel '", c.name, "': delay must be 0 or 1, got ", c.delay);
  }
  for (int t = 0; t < nt; ++t) {
    const TaskSpec& ts = g.tasks[static_cast<size_t>(t)];
    HY_CHECK(ts.every >= 1, ValueError, "task '", ts.name, "': every must be >= 1, got ", ts.every);
    HY_CHECK(ts.offset >= 0, ValueError, "task '", ts.name, "': offset must be >= 0, got ", ts.offset);
    HY_CHECK(ts.retries >= 0, ValueError, "task '", ts.name, "': retries must be >= 0, got ", ts.retries);
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
  int running = 0;
  std::string abort_error;
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
    if (s >= slowest_step() + opts.lookahead) return "the look-ahead window";
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
    ++running;
    bool ask_predicate = ts.has_predicate && !forced && !ts.always;
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

  void record(int t, int64_t s, int attempt, Clock::time_point a, Clock::time_point b, TraceEvent::Status st) {
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
    while (next) next = execute_one(next->t, next->s, next->ask_predicate);
  }

  // A worker runs one instance: predicate, inputs, the body with retries, then publishes the result;
  // returns an instance it made ready and runs next itself.
  std::optional<Launch> execute_one(int t, int64_t s, bool ask_predicate) {
    const TaskSpec& ts = spec(t);
    std::optional<Launch> next;
    TaskOutcome out;
    bool fire = true;
    std::vector<InputValue> inputs;
    int attempts = 0;
    if (ask_predicate) {
      try {
        fire = host->predicate(t, s);
      } catch (const std::exception& e) {
        out.ok = false;
        out.error = std::string("the `when` predicate raised: ") + e.what();
        attempts = 1;
      }
    }
    if (fire && out.ok) {
      {
        std::lock_guard<std::mutex> lock(mu);
        // Cancelled (something upstream failed) after it was scheduled, or the run is stopping.
        if (!active(t) || !abort_error.empty()) fire = false;
      }
    }
    if (fire && out.ok) {
      {
        std::lock_guard<std::mutex> lock(mu);
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
      }
      for (int attempt = 0; attempt <= ts.retries; ++attempt) {
        auto a = Clock::now();
        try {
          out = host->invoke(t, s, attempt, inputs);
        } catch (const std::exception& e) {
          out = TaskOutcome{};
          out.ok = false;
          out.error = e.what();
        }
        auto b = Clock::now();
        attempts = attempt + 1;
        std::lock_guard<std::mutex> lock(mu);
        TaskStats& st = rt[static_cast<size_t>(t)].stats;
        double secs = std::chrono::duration<double>(b - a).count();
        ++st.calls;
        st.total_s += secs;
        st.max_s = std::max(st.max_s, secs);
        bool last = out.ok || out.abort || attempt == ts.retries;
        record(t, s, attempt, a, b,
               out.ok ? TraceEvent::Ok : (last ? TraceEvent::Failed : TraceEvent::Retried));
        if (!out.ok) {
          ++st.failed;
          if (!last) ++st.retries;
        }
        if (last) break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      TaskRt& r = rt[static_cast<size_t>(t)];
      r.running = false;
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
        resolve(t);
      } else if (out.ok) {
        resolve(t);
      } else {
        report.failures.push_back(Failure{t, s, attempts, out.error});
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
    // The supervisor only acts when nothing runs (end, checkpoint barrier, deadlock) or on an abort;
    // waking it after every instance would cost a thread switch per instance.
    if (running == 0 || !abort_error.empty()) cv.notify_all();
    return next;
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

Engine::~Engine() = default;

RunReport Engine::run(Host& host, const RunOptions& opts) {
  Impl& m = *impl_;
  HY_CHECK(opts.end_step >= opts.start_step, ValueError, "workflow run: steps must be >= the start step ",
           opts.start_step, ", got ", opts.end_step);
  HY_CHECK(opts.start_step >= 0, ValueError, "workflow run: start step must be >= 0");
  HY_CHECK(opts.checkpoint_every >= 0, ValueError, "workflow run: checkpoint_every must be >= 0");
  HY_CHECK(opts.lookahead >= 1, ValueError, "workflow run: lookahead must be >= 1, got ", opts.lookahead);
  HY_CHECK(opts.threads >= 0, ValueError, "workflow run: threads must be >= 0, got ", opts.threads);
  {
    std::lock_guard<std::mutex> lock(m.mu);
    HY_CHECK(m.host == nullptr, RuntimeError, "workflow run: this engine is already running");
    m.host = &host;
  }
  int threads = opts.threads > 0 ? opts.threads : std::max(2, get_num_threads());
  ensure_workers(threads);
  m.arena = std::make_unique<tbb::task_arena>(threads, /*reserved_for_masters=*/0);
  m.opts = opts;
  m.rt.assign(graph_.tasks.size(), Impl::TaskRt{});
  for (auto& r : m.rt) r.next = opts.start_step;
  m.emit_seq.assign(graph_.tasks.size(), 0);
  for (auto& v : m.values) v.clear();
  m.report = RunReport{};
  m.running = 0;
  m.abort_error.clear();
  m.barrier = kNever;
  if (opts.checkpoint_every > 0) {
    int64_t b = (opts.start_step / opts.checkpoint_every + 1) * opts.checkpoint_every;
    if (b <= opts.end_step) m.barrier = b;
  }
  m.t0 = Clock::now();

  std::unique_lock<std::mutex> lock(m.mu);
  m.pump();
  m.launch_all();
  auto next_beat = Clock::now();
  while (m.abort_error.empty()) {
    if (m.at_barrier()) {
      int64_t b = m.barrier;
      bool failed = !m.report.failures.empty();
      lock.unlock();
      try {
        host.checkpoint(b, failed);  // called even after a failure: under MPI the decision is collective
      } catch (const std::exception& e) {
        lock.lock();
        m.abort_error = std::string("checkpoint at step ") + std::to_string(b) + " failed: " + e.what();
        break;
      }
      lock.lock();
      m.barrier = b + opts.checkpoint_every <= opts.end_step ? b + opts.checkpoint_every : kNever;
      m.pump();
      m.launch_all();
      continue;
    }
    if (m.finished()) break;
    if (m.running == 0) {
      m.abort_error = m.deadlock_report();
      break;
    }
    m.cv.wait_until(lock, next_beat + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(opts.heartbeat_s)));
    if (Clock::now() >= next_beat) {
      int64_t done = m.slowest_step();
      lock.unlock();
      try {
        host.heartbeat(done);
      } catch (const std::exception& e) {
        lock.lock();
        m.abort_error = e.what();
        break;
      }
      lock.lock();
      next_beat = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(opts.heartbeat_s));
    }
  }
  // After an abort, let the instances already running finish before the run returns.
  m.cv.wait(lock, [&] { return m.running == 0; });
  lock.unlock();
  m.arena->terminate();

  lock.lock();
  RunReport rep = std::move(m.report);
  rep.aborted = m.abort_error;
  rep.steps_done = m.slowest_step();
  for (auto& r : m.rt) rep.task_stats.push_back(r.stats);
  for (auto& q : m.channels) rep.channel_stats.push_back(q.stats);
  rep.wall_s = std::chrono::duration<double>(Clock::now() - m.t0).count();
  for (auto& q : m.channels) q.stats = ChannelStats{};
  m.host = nullptr;
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
