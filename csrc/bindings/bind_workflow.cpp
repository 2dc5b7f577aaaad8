// Bindings for csrc/workflow: hyflow._C._workflow, wrapped by python/hyflow/workflow. The engine runs
// with the GIL released; task bodies, predicates, checkpoints and heartbeats take it back through
// PyHost. Python objects travel through the engine as Items whose deleter takes the GIL, so any
// worker thread may drop the last reference. Every way a worker enters Python parks the thread if
// Python ends it at shutdown (see core/thread_exit_internal.h).
#include <optional>

#include "bindings/pyconvert.h"
#include "core/thread_exit_internal.h"
#include "workflow/engine.h"

namespace py = pybind11;

namespace hy {
namespace {

using workflow::Item;

// Takes the GIL on a workflow worker. The first time on each thread it also keeps that thread's Python
// thread state alive afterwards: pybind11 would otherwise create and destroy one on every call, which
// costs more than a small task body.
struct WorkerGil {
  std::optional<py::gil_scoped_acquire> gil;
  WorkerGil() {
    try {
      gil.emplace();
    }
    HY_PARK_ON_THREAD_EXIT
    thread_local bool kept = false;
    if (!kept) {
      gil->inc_ref();
      kept = true;
    }
  }
};

// fn(*args) with the GIL held: the new reference, or nullptr with the Python error set. Nothing with a
// destructor may sit between the call and the handler (see core/thread_exit_internal.h).
PyObject* call_python(PyObject* fn, PyObject* args) {
  PyObject* result = nullptr;
  try {
    result = PyObject_Call(fn, args, nullptr);
  }
  HY_PARK_ON_THREAD_EXIT
  return result;
}

Item to_item(py::object o) {
  if (o.is_none()) return nullptr;
  return Item(new py::object(std::move(o)), [](void* p) {
    WorkerGil gil;
    auto* holder = static_cast<py::object*>(p);
    PyObject* object = holder->release().ptr();
    delete holder;
    try {
      Py_XDECREF(object);  // a __del__ may hand the GIL over and want it back
    }
    HY_PARK_ON_THREAD_EXIT
  });
}

// driver.<method>(*args) through call_python; raises error_already_set.
py::object call_method(const py::object& driver, const char* method, const py::tuple& args) {
  py::object fn = driver.attr(method);
  PyObject* result = call_python(fn.ptr(), args.ptr());
  if (result == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(result);
}

py::object from_item(const Item& item) {
  if (!item) return py::none();
  return *static_cast<py::object*>(item.get());
}

// An int argument or graph field checked here too (Python checks first): a value outside int64 would
// otherwise fail in pybind11 with "Unable to cast Python instance", which names nothing.
int64_t checked_int(py::handle value, const std::string& what, int64_t lo, int64_t hi) {
  if (!PyLong_Check(value.ptr()) || PyBool_Check(value.ptr()))
    throw TypeError(what + " must be an int, got " + std::string(Py_TYPE(value.ptr())->tp_name));
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (overflow != 0 || v < lo || v > hi)
    throw ValueError(what + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                     (overflow != 0 ? std::string("an int outside int64") : std::to_string(v)));
  return v;
}

// Calls back into the Python driver (python/hyflow/workflow/run.py), which catches the task's own
// exceptions and reports them as (ok=False, error text); anything escaping here is a driver bug or a
// KeyboardInterrupt and stops the run.
//
// It also knows which thread runs each task's current call, so that interrupt() can raise an
// exception in exactly that call (PyThreadState_SetAsyncExc), which stops a body looping in Python.
class PyHost final : public workflow::Host {
 public:
  PyHost(py::object driver, size_t n_tasks) : driver_(std::move(driver)), calls_(n_tasks) {}

  bool predicate(int task, int64_t step) override {
    WorkerGil gil;
    CallScope call(*this, task, step, 0);
    try {
      return call_method(driver_, "predicate", py::make_tuple(task, step)).cast<bool>();
    } catch (py::error_already_set& e) {
      throw RuntimeError(e.what());
    }
  }

  workflow::TaskOutcome invoke(int task, int64_t step, int64_t attempt,
                               std::vector<workflow::InputValue>& inputs) override {
    WorkerGil gil;
    CallScope call(*this, task, step, attempt);
    workflow::TaskOutcome out;
    try {
      py::list args;
      for (const auto& in : inputs) {
        if (in.is_channel) {
          py::list items;
          for (const Item& i : in.items) items.append(from_item(i));
          args.append(items);
        } else {
          args.append(from_item(in.items.at(0)));
        }
      }
      py::tuple r = call_method(driver_, "invoke", py::make_tuple(task, step, attempt, args));
      out.ok = r[0].cast<bool>();
      if (out.ok) {
        out.value = to_item(py::reinterpret_borrow<py::object>(r[1]));
        // Converting (checked) casts: a driver bug must become an error, never a bad memory read.
        for (py::handle pair : py::list(r[2])) {
          py::tuple pr(py::reinterpret_borrow<py::object>(pair));
          HY_CHECK(pr.size() == 2, RuntimeError, "workflow driver: emitted items are (channel, value) pairs");
          out.emitted.emplace_back(pr[0].cast<int>(), to_item(py::reinterpret_borrow<py::object>(pr[1])));
        }
      } else {
        out.error = r[1].cast<std::string>();
      }
    } catch (py::error_already_set& e) {
      out.ok = false;
      // KeyboardInterrupt, SystemExit or a driver bug: stop, don't retry. Unless the engine asked this
      // call to stop: then the exception is its own, which surfaced outside the body's try.
      out.abort = !call.interrupted();
      out.error = e.what();
    }
    return out;
  }

  void checkpoint(int64_t next_step, bool failed) override {
    WorkerGil gil;
    try {
      driver_.attr("checkpoint")(next_step, failed);
    } catch (py::error_already_set& e) {
      throw RuntimeError(e.what());
    }
  }

  void heartbeat(int64_t steps_done) override {
    WorkerGil gil;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      driver_.attr("heartbeat")(steps_done);
    } catch (py::error_already_set& e) {
      throw RuntimeError(e.what());
    }
  }

  void interrupt(int task, int64_t step, int64_t attempt, workflow::InterruptReason why,
                 const std::string& message) override {
    WorkerGil gil;
    if (why == workflow::InterruptReason::TaskTimeout) {
      try {
        driver_.attr("timed_out")(task, step, message);  // final: no retry, tell the MPI peers
      } catch (py::error_already_set& e) {
        e.discard_as_unraisable("hyflow.workflow: reporting a timeout");
      }
    }
    Call& c = calls_.at(static_cast<size_t>(task));
    if (!c.active || c.step != step || c.attempt != attempt || c.interrupted) return;  // it returned
    // While a body waits for its sub-tasks, its thread may run another instance nested inside the wait:
    // an exception raised now would hit that one. The waiting call is abandoned a little later instead.
    if (!c.innermost) return;
    c.interrupted = true;
    PyObject* type = why == workflow::InterruptReason::Abort ? PyExc_KeyboardInterrupt : PyExc_TimeoutError;
    PyThreadState_SetAsyncExc(c.thread, type);
  }

  bool stop_now() override {
    WorkerGil gil;
    if (PyErr_CheckSignals() == 0) return false;
    PyErr_Clear();  // the caller raises KeyboardInterrupt itself, from the run's report
    return true;
  }

 private:
  struct Call {
    unsigned long thread = 0;
    int64_t step = -1, attempt = -1;
    bool active = false, interrupted = false;
    bool innermost = false;  // no other call runs nested inside it on its thread
  };

  // Marks a task's call as running on this thread (GIL held). A stop request the call did not get to
  // see is withdrawn when another call starts nested inside it and when it ends, so that it cannot hit
  // a different call on the same thread.
  class CallScope {
   public:
    CallScope(PyHost& host, int task, int64_t step, int64_t attempt)
        : call_(host.calls_.at(static_cast<size_t>(task))), outer_(t_current) {
      if (outer_ != nullptr) {
        if (outer_->interrupted) PyThreadState_SetAsyncExc(outer_->thread, nullptr);
        outer_->innermost = false;
      }
      call_ = Call{PyThread_get_thread_ident(), step, attempt, true, false, true};
      t_current = &call_;
    }
    ~CallScope() {
      if (call_.interrupted) PyThreadState_SetAsyncExc(call_.thread, nullptr);
      call_.active = call_.innermost = false;
      t_current = outer_;
      if (outer_ != nullptr) outer_->innermost = true;
    }
    bool interrupted() const { return call_.interrupted; }

   private:
    static thread_local Call* t_current;  // the innermost call on this thread
    Call& call_;
    Call* outer_;
  };

  py::object driver_;
  std::vector<Call> calls_;  // one per task; read and written with the GIL held
};

thread_local PyHost::Call* PyHost::CallScope::t_current = nullptr;

workflow::Policy policy_from(const std::string& s) {
  if (s == "block") return workflow::Policy::Block;
  if (s == "latest") return workflow::Policy::Latest;
  if (s == "drop_oldest") return workflow::Policy::DropOldest;
  throw ValueError("channel policy must be 'block', 'latest' or 'drop_oldest', got '" + s + "'");
}

workflow::GraphSpec graph_from(py::list tasks, py::list channels) {
  using workflow::kMaxCount;
  workflow::GraphSpec g;
  for (py::handle h : channels) {
    py::dict d = py::reinterpret_borrow<py::dict>(h);
    workflow::ChannelSpec c;
    c.name = d["name"].cast<std::string>();
    const std::string what = "channel '" + c.name + "' ";
    c.capacity = checked_int(d["capacity"], what + "capacity", 1, kMaxCount);
    c.policy = policy_from(d["policy"].cast<std::string>());
    c.delay = static_cast<int>(checked_int(d["delay"], what + "delay", 0, 1));
    g.channels.push_back(std::move(c));
  }
  for (py::handle h : tasks) {
    py::dict d = py::reinterpret_borrow<py::dict>(h);
    workflow::TaskSpec t;
    t.name = d["name"].cast<std::string>();
    const std::string what = "task '" + t.name + "' ";
    t.every = checked_int(d["every"], what + "every", 1, kMaxCount);
    t.offset = checked_int(d["offset"], what + "offset", 0, kMaxCount);
    t.has_predicate = d["has_predicate"].cast<bool>();
    t.retries = checked_int(d["retries"], what + "retries", 0, kMaxCount);
    if (d.contains("timeout") && !d["timeout"].is_none()) t.timeout_s = d["timeout"].cast<double>();
    t.always = d.contains("always") && d["always"].cast<bool>();
    for (py::handle in : py::reinterpret_borrow<py::list>(d["inputs"])) {
      auto pr = in.cast<std::pair<std::string, int>>();
      HY_CHECK(pr.first == "task" || pr.first == "channel", ValueError, "input kind must be 'task' or 'channel'");
      t.inputs.push_back({pr.first == "task" ? workflow::InputSpec::Task : workflow::InputSpec::Channel, pr.second});
    }
    t.outputs = d["outputs"].cast<std::vector<int>>();
    g.tasks.push_back(std::move(t));
  }
  return g;
}

const char* status_name(workflow::TraceEvent::Status s) {
  switch (s) {
    case workflow::TraceEvent::Ok: return "ok";
    case workflow::TraceEvent::Failed: return "failed";
    case workflow::TraceEvent::Retried: return "retried";
    case workflow::TraceEvent::Cancelled: return "cancelled";
  }
  return "?";
}

py::dict report_to_python(const workflow::Engine& engine, const workflow::RunReport& r) {
  const auto& g = engine.graph();
  py::dict out;
  out["steps_done"] = r.steps_done;
  out["wall_s"] = r.wall_s;
  out["aborted"] = r.aborted;
  py::list failures;
  for (const auto& f : r.failures)
    failures.append(py::dict(py::arg("task") = g.tasks[static_cast<size_t>(f.task)].name, py::arg("step") = f.step,
                             py::arg("attempts") = f.attempts, py::arg("error") = f.error,
                             py::arg("timeout") = f.timed_out));
  out["failures"] = failures;
  auto instances = [&](const std::vector<workflow::Abandoned>& list) {
    py::list l;
    for (const auto& a : list)
      l.append(py::dict(py::arg("task") = g.tasks[static_cast<size_t>(a.task)].name, py::arg("step") = a.step));
    return l;
  };
  out["timed_out"] = r.timed_out;
  out["running_at_timeout"] = instances(r.running_at_timeout);
  out["hard_stopped"] = r.hard_stopped;
  out["abandoned"] = instances(r.abandoned);
  py::list cancelled;
  for (int t : r.cancelled) cancelled.append(g.tasks[static_cast<size_t>(t)].name);
  out["cancelled"] = cancelled;
  py::dict tasks;
  for (size_t t = 0; t < r.task_stats.size(); ++t) {
    const auto& s = r.task_stats[t];
    tasks[py::str(g.tasks[t].name)] = py::dict(
        py::arg("calls") = s.calls, py::arg("skipped") = s.skipped, py::arg("failed") = s.failed,
        py::arg("retries") = s.retries, py::arg("total_s") = s.total_s,
        py::arg("mean_ms") = s.calls ? 1e3 * s.total_s / static_cast<double>(s.calls) : 0.0,
        py::arg("max_ms") = 1e3 * s.max_s);
  }
  out["tasks"] = tasks;
  py::dict channels;
  for (size_t c = 0; c < r.channel_stats.size(); ++c) {
    const auto& s = r.channel_stats[c];
    channels[py::str(g.channels[c].name)] = py::dict(
        py::arg("pushed") = s.pushed, py::arg("consumed") = s.consumed, py::arg("dropped") = s.dropped,
        py::arg("max_depth") = s.max_depth, py::arg("producer_wait_s") = s.producer_wait_s);
  }
  out["channels"] = channels;
  py::list events;
  for (const auto& e : r.events)
    events.append(py::dict(py::arg("task") = g.tasks[static_cast<size_t>(e.task)].name, py::arg("step") = e.step,
                           py::arg("attempt") = e.attempt, py::arg("thread") = e.thread,
                           py::arg("start_us") = e.start_us, py::arg("end_us") = e.end_us,
                           py::arg("status") = status_name(e.status)));
  out["events"] = events;
  out["events_dropped"] = r.events_dropped;
  return out;
}

}  // namespace

void bind_workflow(py::module_& m) {
  using workflow::Engine;
  py::module_ w = m.def_submodule("_workflow", "The workflow engine (private: use hyflow.workflow)");
  w.attr("MAX_COUNT") = workflow::kMaxCount;
  w.attr("MAX_THREADS") = workflow::kMaxThreads;

  py::class_<Engine::SubTask, std::shared_ptr<Engine::SubTask>>(w, "SubTask",
      "A sub-task's handle. Dropping it waits for the sub-task, with the GIL released.")
      .def("wait", &Engine::SubTask::wait, py::call_guard<py::gil_scoped_release>())
      .def("done", &Engine::SubTask::done);

  py::class_<Engine>(w, "Engine")
      .def(py::init([](py::list tasks, py::list channels) { return new Engine(graph_from(tasks, channels)); }),
           py::arg("tasks"), py::arg("channels"))
      .def("run", [](Engine& e, py::object driver, py::object start, py::object end, py::object checkpoint_every,
                     py::object threads, py::object lookahead, double heartbeat_s, double timeout_s,
                     double abandon_after_s) {
             using workflow::kMaxCount;
             workflow::RunOptions o;
             o.start_step = checked_int(start, "run: start", 0, kMaxCount);
             o.end_step = checked_int(end, "run: steps", 0, kMaxCount);
             o.checkpoint_every = checked_int(checkpoint_every, "run: checkpoint_every", 0, kMaxCount);
             o.threads = static_cast<int>(checked_int(threads, "run: threads", 0, workflow::kMaxThreads));
             o.lookahead = checked_int(lookahead, "run: lookahead", 1, kMaxCount);
             o.heartbeat_s = heartbeat_s;
             o.timeout_s = timeout_s;
             o.abandon_after_s = abandon_after_s;
             auto host = std::make_shared<PyHost>(driver, e.graph().tasks.size());
             workflow::RunReport r;
             {
               py::gil_scoped_release nogil;
               r = e.run(*host, o);
             }
             // An abandoned thread may still come back into the host (and its driver) one day: they
             // must outlive it, so they are never freed.
             if (!r.abandoned.empty()) new std::shared_ptr<PyHost>(host);
             return report_to_python(e, r);
           },
           py::arg("driver"), py::arg("start"), py::arg("end"), py::arg("checkpoint_every") = 0,
           py::arg("threads") = 0, py::arg("lookahead") = 16, py::arg("heartbeat_s") = 0.1,
           py::arg("timeout_s") = 0.0, py::arg("abandon_after_s") = 1.0)
      .def("channel_snapshot", [](const Engine& e, int c) {
             py::list out;
             for (const auto& it : e.channel_snapshot(c))
               out.append(py::make_tuple(it.step, it.producer, it.seq, from_item(it.item)));
             return out;
           }, py::arg("channel"))
      .def("channel_cursors", &Engine::channel_cursors, py::arg("channel"))
      .def("channel_restore", [](Engine& e, int c, py::list items, std::vector<int64_t> cursors) {
             std::vector<workflow::ChannelItem> v;
             for (py::handle h : items) {
               py::tuple t = py::reinterpret_borrow<py::tuple>(h);
               HY_CHECK(t.size() == 4, ValueError, "channel_restore: items are (step, producer, seq, value)");
               v.push_back({t[0].cast<int64_t>(), t[1].cast<int>(), t[2].cast<int64_t>(),
                            to_item(py::reinterpret_borrow<py::object>(t[3]))});
             }
             e.channel_restore(c, std::move(v), cursors);
           }, py::arg("channel"), py::arg("items"), py::arg("cursors"));

  w.def("spawn", [](py::function fn) {
    Item holder = to_item(fn);  // released under the GIL whichever thread drops it
    std::shared_ptr<Engine::SubTask> task;
    {
      py::gil_scoped_release nogil;
      std::shared_ptr<Engine::SubTask> inner = Engine::spawn([holder] {
        WorkerGil gil;
        try {
          call_method(from_item(holder), "__call__", py::tuple());
        } catch (py::error_already_set& e) {
          throw RuntimeError(e.what());  // the driver wraps fn and keeps its exception itself
        }
      });
      // Python drops the handle with the GIL held; joining the sub-task must not hold it, or a sub-task
      // still waiting for the GIL could never finish.
      Engine::SubTask* raw = inner.get();
      task = std::shared_ptr<Engine::SubTask>(raw, [inner](Engine::SubTask*) mutable {
        py::gil_scoped_release nogil;
        inner.reset();
      });
    }
    return task;
  }, py::arg("fn"), "Run fn() as a sub-task on the running workflow's arena (inline outside a run).");
}

}  // namespace hy
