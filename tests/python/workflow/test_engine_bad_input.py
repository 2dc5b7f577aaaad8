"""Every argument check of Workflow, channel, task and run raises a clear exception naming the argument,
at declaration (or at the start of run), never at some later step."""
import pytest

from hyflow.workflow import Workflow


def base():
    wf = Workflow("checks")
    ch = wf.channel("ch")

    @wf.task(outputs=[ch])
    def make(ctx):
        return 1

    return wf, ch, make


def take_one(ctx, x):
    pass


@pytest.mark.parametrize("args,kwargs,error,message", [
    (("",), {}, ValueError, "non-empty string"),
    ((3,), {}, ValueError, "non-empty string"),
    (("wf",), {"seed": -1}, ValueError, "seed must be >= 0"),
    (("wf",), {"seed": 1.5}, TypeError, "seed must be an int"),
    (("wf",), {"seed": True}, TypeError, "seed must be an int"),
])
def test_workflow_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        Workflow(*args, **kwargs)


@pytest.mark.parametrize("args,kwargs,error,message", [
    (("c2",), {"capacity": 0}, ValueError, "channel 'c2' capacity must be >= 1, got 0"),
    (("c2",), {"capacity": -3}, ValueError, "channel 'c2' capacity must be >= 1"),
    (("c2",), {"capacity": "8"}, TypeError, "channel 'c2' capacity must be an int"),
    (("c2",), {"capacity": True}, TypeError, "channel 'c2' capacity must be an int"),
    (("c2",), {"policy": "newest"}, ValueError, r"channel 'c2' policy must be one of .*'drop_oldest'.*'newest'"),
    (("c2",), {"policy": None}, ValueError, "channel 'c2' policy"),
    (("c2",), {"delay": 2}, ValueError, "channel 'c2' delay must be 0, 1 or None"),
    (("ch",), {}, ValueError, "already has a task or channel named 'ch'"),
    (("make",), {}, ValueError, "already has a task or channel named 'make'"),
    (("bad name",), {}, ValueError, "identifiers"),
    (("",), {}, ValueError, "identifiers"),
    ((None,), {}, ValueError, "identifiers"),
])
def test_channel_arguments(args, kwargs, error, message):
    wf, _, _ = base()
    with pytest.raises(error, match=message):
        wf.channel(*args, **kwargs)


def test_task_arguments():
    wf, ch, make = base()
    other, other_ch, other_make = base()

    def check(error, message, fn=take_one, **kwargs):
        kwargs.setdefault("name", "t")
        with pytest.raises(error, match=message):
            wf.task(fn, **kwargs)

    check(TypeError, "must be callable", fn=42)
    check(ValueError, "already has a task or channel named 'make'", name="make")
    check(ValueError, "already has a task or channel named 'ch'", name="ch", inputs=[ch])
    check(ValueError, "identifiers", name="two words", inputs=[ch])
    check(ValueError, r"task 't' input 'nope' is not a declared task or channel .*declare it first", inputs=["nope"])
    check(TypeError, "task 't' input must be a Task or Channel of this workflow", inputs=[other_ch])
    check(TypeError, "task 't' input must be a Task or Channel of this workflow", inputs=[other_make])
    check(TypeError, "task 't' input must be a Task or Channel", inputs=[5])
    check(TypeError, "inputs must be a list", inputs=5)
    check(TypeError, "task 't' output must be a Channel of this workflow", fn=lambda ctx: 1, outputs=[make])
    check(TypeError, "task 't' output must be a Channel of this workflow", fn=lambda ctx: 1, outputs=[other_ch])
    check(ValueError, "task 't': an output channel is listed twice", fn=lambda ctx: 1, outputs=[ch, "ch"])
    check(ValueError, "task 't' every must be >= 1, got 0", inputs=[ch], every=0)
    check(TypeError, "task 't' every must be an int", inputs=[ch], every=2.0)
    check(ValueError, "task 't' offset must be >= 0", inputs=[ch], offset=-1)
    check(ValueError, "task 't' retries must be >= 0", inputs=[ch], retries=-1)
    check(TypeError, "task 't': when must be a callable", inputs=[ch], when=True)
    check(TypeError, "task 't' ranks must be", inputs=[ch], ranks=1.5)
    check(ValueError, "task 't' ranks: 'x' is not a rank range", inputs=[ch], ranks="x")
    check(ValueError, "task 't' ranks: an empty rank list", inputs=[ch], ranks=[])
    check(ValueError, "task 't' ranks: rank .* lists a rank twice", inputs=[ch], ranks=[0, 0])
    check(TypeError, "task 't' ranks: rank lists hold ints", inputs=[ch], ranks=[0, "1"])
    # arity: fn(ctx, *one argument per input)
    check(TypeError, r"task 't': take_one\(ctx, x\) cannot be called as fn\(ctx\) — it has 0 input", fn=take_one)
    check(TypeError, r"cannot be called as fn\(ctx, input, input\) — it has 2 input", inputs=[ch, make])
    check(TypeError, r"task 't': .*cannot be called as fn\(ctx\)", fn=lambda: None)
    assert [t.name for t in wf.tasks] == ["make"]  # nothing half-declared was kept


def test_flexible_signatures_are_accepted():
    wf, ch, make = base()
    wf.task(lambda ctx, *inputs: None, name="star", inputs=[ch, make])
    wf.task(lambda ctx, a, b=None: None, name="default", inputs=[ch])
    wf.task(print, name="builtin", inputs=[ch])  # signature unknown: trusted
    assert [t.name for t in wf.tasks] == ["make", "star", "default", "builtin"]


@pytest.mark.parametrize("kwargs,error,message", [
    ({"steps": -1}, ValueError, r"run: steps must be an int >= 0 and <= 2\*\*62, got -1"),
    ({"steps": "10"}, (TypeError, ValueError), "steps must be an int"),
    ({"steps": 2.0}, (TypeError, ValueError), "steps must be an int"),
    ({"steps": 5, "checkpoint_every": 2}, ValueError, "checkpoint_every needs a checkpoint_dir"),
    ({"steps": 5, "checkpoint_every": 0, "checkpoint_dir": "x"}, ValueError, "checkpoint_every must be an int >= 1"),
    ({"steps": 5, "resume": True}, ValueError, "resume=True needs the checkpoint_dir"),
    ({"steps": 5, "threads": 0}, ValueError, "threads must be an int >= 1"),
    ({"steps": 5, "lookahead": 0}, ValueError, "lookahead must be an int >= 1"),
    ({"steps": 5, "lookahead": 1.5}, ValueError, "lookahead must be an int"),
    ({"steps": 5, "checkpoint_every": 2, "checkpoint_dir": 3}, TypeError, "checkpoint_dir must be a path"),
    ({"steps": 5, "checkpoint_every": 2, "checkpoint_dir": "x", "keep_checkpoints": 0}, ValueError,
     "keep_checkpoints must be an int >= 1"),
    ({"steps": 5, "progress": "yes"}, TypeError, "progress must be True, False or None"),
    ({"steps": 5, "checkpoint_evry": 2}, TypeError, "checkpoint_evry"),
])
def test_run_arguments(kwargs, error, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wf, _, _ = base()
    calls = []
    wf.task(lambda ctx, items: calls.append(ctx.step), name="sink", inputs=["ch"])
    with pytest.raises(error, match=message):
        wf.run(**kwargs)
    assert calls == [] and not (tmp_path / "x").exists()  # refused before anything ran


def test_running_an_empty_workflow_or_tracing_before_a_run():
    wf = Workflow("empty")
    with pytest.raises(ValueError, match="workflow 'empty' has no tasks"):
        wf.run(steps=1)
    with pytest.raises(RuntimeError, match="has not run yet"):
        wf.trace("t.json")
    with pytest.raises(KeyError, match="no task or channel named 'x'"):
        wf["x"]


# ---------------------------------------------------------------------------------------------------
# Out-of-range numbers (issue 15): ints beyond what the engine takes got pybind11's "Unable to cast
# Python instance" or "incompatible function arguments", and threads=10**6 aborted the process later.
# ---------------------------------------------------------------------------------------------------
HUGE = [2**62 + 1, 2**70, 10**5000]


@pytest.mark.parametrize("value", HUGE, ids=["2**62+1", "2**70", "10**5000"])
@pytest.mark.parametrize("argument", ["every", "offset", "retries"])
def test_out_of_range_task_ints_name_their_argument(argument, value):
    wf = Workflow("huge")
    with pytest.raises(ValueError, match=rf"task 't' {argument} must be <= 2\*\*62, got "):
        wf.task(lambda ctx: None, name="t", **{argument: value})
    assert wf.tasks == []


@pytest.mark.parametrize("value", HUGE, ids=["2**62+1", "2**70", "10**5000"])
def test_out_of_range_capacity_names_the_channel(value):
    wf = Workflow("huge")
    with pytest.raises(ValueError, match=r"channel 'c' capacity must be <= 2\*\*62, got "):
        wf.channel("c", capacity=value)


@pytest.mark.parametrize("value", HUGE, ids=["2**62+1", "2**70", "10**5000"])
@pytest.mark.parametrize("argument", ["steps", "lookahead", "checkpoint_every"])
def test_out_of_range_run_ints_name_their_argument(argument, value, tmp_path):
    wf, _, _ = base()
    kwargs = {"steps": 5, argument: value}
    if argument == "checkpoint_every":
        kwargs["checkpoint_dir"] = tmp_path
    with pytest.raises(ValueError, match=rf"run: {argument} must be an int >= \d and <= 2\*\*62, got "):
        wf.run(**kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("threads", [1025, 10**6, 2**70])
def test_threads_beyond_the_limit_are_refused_before_the_engine_sees_them(threads):
    wf, _, _ = base()
    with pytest.raises(ValueError, match=r"run: threads must be an int >= 1 and <= 1024 or None"):
        wf.run(steps=3, threads=threads)
    assert wf.run(steps=3).stats["steps"] == 3  # and the next run is fine


def test_the_limits_are_the_engines():
    import hyflow as hy
    from hyflow import cli
    from hyflow.workflow import graph, spec_yaml
    assert graph.MAX_COUNT == spec_yaml.MAX_COUNT == cli.MAX_COUNT == hy._C._workflow.MAX_COUNT == 2**62
    assert spec_yaml.MAX_THREADS == hy._C._workflow.MAX_THREADS == 1024


def test_the_engine_checks_its_own_arguments():
    """The C++ boundary names the argument too, for callers that skip the Python checks."""
    import hyflow as hy
    Engine = hy._C._workflow.Engine

    def task(**over):
        return [dict({"name": "t", "every": 1, "offset": 0, "has_predicate": False, "retries": 0,
                      "inputs": [], "outputs": []}, **over)]

    with pytest.raises(ValueError, match=r"task 't' every must be in \[1, 4611686018427387904\], got an int outside int64"):
        Engine(task(every=2**70), [])
    with pytest.raises(ValueError, match=r"task 't' retries must be in \[0, 4611686018427387904\], got -1"):
        Engine(task(retries=-1), [])
    with pytest.raises(TypeError, match=r"task 't' offset must be an int, got float"):
        Engine(task(offset=1.5), [])
    with pytest.raises(ValueError, match=r"task 't': timeout must be a finite number of seconds"):
        Engine(task(timeout=float("inf")), [])
    with pytest.raises(ValueError, match=r"channel 'c' capacity must be in \[1, "):
        Engine([], [{"name": "c", "capacity": 2**63, "policy": "block", "delay": 0}])
    engine = Engine(task(), [])
    for kwargs, message in [({"threads": 10**6}, r"run: threads must be in \[0, 1024\], got 1000000"),
                            ({"end": 2**70}, r"run: steps must be in \[0, 4611686018427387904\], got an int outside"),
                            ({"lookahead": 0}, r"run: lookahead must be in \[1, "),
                            ({"checkpoint_every": -1}, r"run: checkpoint_every must be in \[0, "),
                            ({"timeout_s": float("nan")}, r"workflow run: timeout must be a finite number")]:
        args = dict({"driver": None, "start": 0, "end": 3}, **kwargs)
        with pytest.raises(ValueError, match=message):
            engine.run(**args)


@pytest.mark.parametrize("timeout, error, message", [
    (0, ValueError, "positive, finite number of seconds or None, got 0"),
    (-1.5, ValueError, "got -1.5"),
    (float("nan"), ValueError, "got nan"),
    (float("inf"), ValueError, "got inf"),
    (10**400, ValueError, "positive, finite"),
    pytest.param(10**5000, ValueError, "got an int of 16610 bits", id="10**5000"),
    ("5", TypeError, "a number of seconds or None, got str"),
    (True, TypeError, "a number of seconds or None, got bool"),
])
def test_timeouts_must_be_positive_finite_seconds(timeout, error, message):
    wf, _, _ = base()
    with pytest.raises(error, match=rf"task 't' timeout must be .*{message}"):
        wf.task(lambda ctx: None, name="t", timeout=timeout)
    with pytest.raises(error, match=rf"run: timeout must .*{message}"):
        wf.run(steps=2, timeout=timeout)


BROKEN_DRIVER = """
import hyflow as hy

class Driver:
    def __init__(self, answer):
        self.answer = answer
    def predicate(self, task, step):
        return self.answer if callable(self.answer) is False and task == 1 else True
    def invoke(self, task, step, attempt, args):
        return self.answer
    def checkpoint(self, step, failed):
        pass
    def heartbeat(self, done):
        pass
    def timed_out(self, task, step, message):
        pass

tasks = [{"name": "a", "every": 1, "offset": 0, "has_predicate": False, "retries": 1, "inputs": [], "outputs": [0]},
         {"name": "b", "every": 1, "offset": 0, "has_predicate": True, "retries": 0, "inputs": [["channel", 0]],
          "outputs": []}]
channels = [{"name": "c", "capacity": 2, "policy": "block", "delay": 0}]
answers = [None, 42, (), (True,), (True, 1, "xy"), (True, 1, [(0,)]), (True, 1, [(7, 1)]), (True, 1, [("0", 1)]),
           (True, 1, 5), ("yes", 1, []), (False, 3, []), (False, None, None), object()]
for answer in answers:
    report = hy._C._workflow.Engine(tasks, channels).run(Driver(answer), 0, 3, threads=2)
    reason = report["aborted"] or (report["failures"] and report["failures"][0]["error"])
    assert reason, (answer, report)
print("OK", len(answers))
"""


def test_a_broken_driver_is_reported_and_never_takes_the_process_down():
    """Whatever the host callbacks return or raise, the engine's threads turn it into a failure or an
    abort that run() reports: nothing escapes a worker thread (oneTBB would terminate the process)."""
    import os
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", BROKEN_DRIVER], capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())
    assert done.returncode == 0 and done.stdout.strip() == "OK 13", f"{done.stdout}\n{done.stderr[-3000:]}"
