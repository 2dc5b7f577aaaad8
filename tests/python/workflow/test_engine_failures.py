"""Retries and failures: attempts and state rollback, the WorkflowError a spent task raises, which tasks
stop with it (direct and channel readers, transitively) and which go on, failing predicates, several
failures at once, deadlocks, and KeyboardInterrupt (from a task, a predicate, or Ctrl-C)."""
import _thread
import os
import signal
import subprocess
import sys
import textwrap
import time
import traceback

import pytest

import hyflow as hy
from hyflow.workflow import Workflow, WorkflowError


def test_a_retried_attempt_starts_from_the_state_of_the_failed_one():
    attempts = []  # (step, attempt, state seen at the start of the attempt)

    wf = Workflow("retry")

    @wf.task(retries=2)
    def flaky(ctx):
        attempts.append((ctx.step, ctx.attempt, dict(ctx.state)))
        ctx.state["count"] = ctx.state.get("count", 0) + 1
        if ctx.step == 1 and ctx.attempt < 2:
            ctx.state["dirty"] = ctx.attempt
            raise RuntimeError(f"attempt {ctx.attempt} broke")

    result = wf.run(steps=3)
    assert [(s, a) for s, a, _ in attempts] == [(0, 0), (1, 0), (1, 1), (1, 2), (2, 0)]
    assert [seen for s, _, seen in attempts if s == 1] == [{"count": 1}] * 3  # rolled back each time
    assert result.state["flaky"] == {"count": 3}
    stats = result.stats["tasks"]["flaky"]
    assert stats["calls"] == 5 and stats["failed"] == 2 and stats["retries"] == 2
    assert [e["status"] for e in result.events if e["step"] == 1] == ["retried", "retried", "ok"]


def test_a_retry_gets_the_same_inputs():
    wf = Workflow("retry-inputs")
    ch = wf.channel("ch", capacity=8)
    got = []

    @wf.task(outputs=[ch])
    def make(ctx):
        return ctx.step

    @wf.task(inputs=[ch, make], retries=1)
    def take(ctx, items, value):
        got.append((ctx.step, ctx.attempt, list(items), value))
        if ctx.attempt == 0 and ctx.step == 2:
            raise ValueError("once")

    wf.run(steps=3)
    assert got == [(0, 0, [0], 0), (1, 0, [1], 1), (2, 0, [2], 2), (2, 1, [2], 2)]


def test_spent_retries_raise_a_workflow_error_naming_task_step_and_cause():
    wf = Workflow("spent")

    def load_batch(step):
        raise FileNotFoundError(f"batch-{step}.npy is missing")

    @wf.task(retries=1)
    def train(ctx):
        if ctx.step == 4:
            load_batch(ctx.step)

    with pytest.raises(WorkflowError) as info:
        wf.run(steps=10)
    err = info.value
    msg = str(err)
    assert "task 'train'" in msg and "step 4" in msg and "2 attempt(s)" in msg
    assert msg == "workflow 'spent': task 'train' failed at step 4 after 2 attempt(s): " \
                  "FileNotFoundError: batch-4.npy is missing"
    assert (err.task, err.step, err.attempts) == ("train", 4, 2)
    assert "load_batch" in err.traceback and "batch-4.npy" in err.traceback
    assert [f["task"] for f in err.failures] == ["train"] and err.cancelled == []
    assert err.result.state["train"] == {} and err.result.stats["tasks"]["train"]["failed"] == 2


def test_workflow_error_chains_the_task_exception_with_its_traceback():
    # Nothing is lost: the user's exception is the WorkflowError's __cause__, traceback intact (a notebook
    # and an uncaught error print it above the WorkflowError), not text pasted into the message.
    wf = Workflow("chained")

    def load_batch(step):
        raise FileNotFoundError(f"batch-{step}.npy is missing")

    @wf.task
    def train(ctx):
        if ctx.step == 1:
            load_batch(ctx.step)

    with pytest.raises(WorkflowError) as info:
        wf.run(steps=3)
    err = info.value
    cause = err.__cause__
    assert isinstance(cause, FileNotFoundError) and str(cause) == "batch-1.npy is missing"
    assert err.__suppress_context__
    frames = [f.name for f in traceback.extract_tb(cause.__traceback__)]
    assert frames[-2:] == ["train", "load_batch"]
    assert "Traceback" not in str(err) and "task 'train'" in str(err) and "step 1" in str(err)
    printed = "".join(traceback.format_exception(err))
    assert "The above exception was the direct cause" in printed and "load_batch" in printed


def test_a_failing_predicate_is_chained_too():
    wf = Workflow("chained-when")

    @wf.task(when=lambda ctx: 1 / 0)
    def never(ctx):
        pass

    with pytest.raises(WorkflowError) as info:
        wf.run(steps=2)
    assert isinstance(info.value.__cause__, ZeroDivisionError) and info.value.task == "never"


def failing_graph():
    """broken fails at step 3. Downstream of it: direct (task input), via_channel (channel), and
    second_hop (reads via_channel's output channel), then third_hop (task input of second_hop).
    bystander and its reader are unrelated and must run to the end."""
    wf = Workflow("propagation")
    out = wf.channel("out", capacity=4)
    relay = wf.channel("relay", capacity=4, policy="latest")
    side = wf.channel("side", capacity=4)

    @wf.task(outputs=[out])
    def broken(ctx):
        ctx.state["last"] = ctx.step
        if ctx.step == 3:
            raise RuntimeError("numerical blow-up")
        return ctx.step

    @wf.task(inputs=[broken])
    def direct(ctx, value):
        ctx.state["last"] = ctx.step

    @wf.task(inputs=[out], outputs=[relay])
    def via_channel(ctx, items):
        ctx.state["last"] = ctx.step
        return items[-1]

    @wf.task(inputs=[relay])
    def second_hop(ctx, item):
        ctx.state["last"] = ctx.step
        return item

    @wf.task(inputs=[second_hop])
    def third_hop(ctx, value):
        ctx.state["last"] = ctx.step

    @wf.task(outputs=[side])
    def bystander(ctx):
        ctx.state["last"] = ctx.step
        return hy.full([2], float(ctx.step))

    @wf.task(inputs=[side], every=2)
    def bystander_reader(ctx, items):
        ctx.state["seen"] = ctx.state.get("seen", 0) + len(items)

    return wf


def test_a_failure_stops_everything_downstream_and_nothing_else():
    # lookahead=1: no reader step is in flight when `broken` fails (that race is tested below)
    with pytest.raises(WorkflowError) as info:
        failing_graph().run(steps=9, lookahead=1)
    err = info.value
    assert err.task == "broken" and err.step == 3
    assert sorted(err.cancelled) == ["direct", "second_hop", "third_hop", "via_channel"]
    assert "stopped because they depend on it" in str(err) and "'third_hop'" in str(err)
    state = err.result.state
    assert state["broken"]["last"] == 3
    for task in ("direct", "via_channel", "second_hop", "third_hop"):
        assert state[task]["last"] == 2, task          # ran up to the step before the failure
    assert state["bystander"]["last"] == 8                # the unrelated branch ran to the last step
    assert state["bystander_reader"]["seen"] == 9
    assert err.result.stats["tasks"]["bystander"]["calls"] == 9


def test_cancelling_readers_that_are_already_scheduled():
    """Readers whose earlier steps are queued or running when their producer fails must neither crash
    the process nor read the failed producer's discarded data. Run in a child process because the
    engine used to segfault here (a cancelled reader read its detached channel cursor)."""
    script = textwrap.dedent("""
        from hyflow.workflow import Workflow, WorkflowError
        wf = Workflow("race")
        ch = wf.channel("ch", capacity=4)

        @wf.task(outputs=[ch])
        def producer(ctx):
            if ctx.step == 3:
                raise RuntimeError("producer broke")
            return ctx.step

        @wf.task(inputs=[producer])
        def direct(ctx, value):
            assert value == ctx.step
            ctx.state.setdefault("steps", []).append(ctx.step)

        @wf.task(inputs=[ch])
        def via_channel(ctx, items):
            ctx.state.setdefault("steps", []).append(ctx.step)

        for i in range(150):
            try:
                wf.run(steps=8)
            except WorkflowError as e:
                for name in ("direct", "via_channel"):
                    steps = e.result.state[name].get("steps")
                    # the producer's steps 0..2 succeeded: their readers get them, whatever the timing
                    assert steps == [0, 1, 2], (i, name, steps, str(e))
            else:
                raise AssertionError("no failure")
        print("OK")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())
    assert done.returncode == 0 and done.stdout.strip() == "OK", \
        f"rc={done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


def test_independent_failures_are_all_reported():
    wf = Workflow("two-failures")

    @wf.task
    def first(ctx):
        if ctx.step == 1:
            raise ValueError("first broke")

    @wf.task
    def second(ctx):
        if ctx.step == 2:
            raise KeyError("second broke")

    with pytest.raises(WorkflowError) as info:
        wf.run(steps=5, lookahead=4)
    err = info.value
    assert sorted((f["task"], f["step"]) for f in err.failures) == [("first", 1), ("second", 2)]
    assert "also failed: task" in str(err)
    assert {f["task"]: f["attempts"] for f in err.failures} == {"first": 1, "second": 1}


def test_a_raising_predicate_fails_its_task():
    wf = Workflow("bad-predicate")

    def warmed_up(ctx):
        if ctx.step == 2:
            raise ZeroDivisionError("predicate divided by zero")
        return True

    @wf.task
    def source(ctx):
        return ctx.step

    @wf.task(inputs=[source], when=warmed_up, retries=3)
    def infer(ctx, value):
        ctx.state["last"] = ctx.step

    @wf.task(inputs=[infer])
    def after(ctx, value):
        pass

    with pytest.raises(WorkflowError) as info:
        wf.run(steps=6, lookahead=1)
    err = info.value
    assert (err.task, err.step) == ("infer", 2)
    assert "`when` predicate raised" in str(err) and "predicate divided by zero" in str(err)
    assert err.cancelled == ["after"]
    assert err.result.state["infer"]["last"] == 1
    assert err.result.state["source"] == {}


def test_a_full_channel_is_read_even_when_a_task_input_never_comes():
    # The reader of a full block channel is forced to read it although its task input produced nothing
    # (it arrives as None); waiting for that input would stop the producer forever.
    wf = Workflow("forced")
    ch = wf.channel("ch", capacity=2)

    @wf.task(outputs=[ch])
    def make(ctx):
        return ctx.step

    @wf.task
    def never(ctx):
        return None

    @wf.task(inputs=[ch, never], every=100)
    def reader(ctx, items, value):
        ctx.state.setdefault("reads", []).append((ctx.step, items, value))

    reads = wf.run(steps=10).state["reader"]["reads"]
    # step 0 is on schedule but lacks the input; from then on every second step fills the channel
    assert reads == [(1, [0, 1], None), (3, [2, 3], None), (5, [4, 5], None), (7, [6, 7], None), (9, [8, 9], None)]


def test_keyboard_interrupt_in_a_task_propagates_as_is():
    wf = Workflow("interrupted")

    @wf.task
    def impatient(ctx):
        ctx.state["last"] = ctx.step
        if ctx.step == 2:
            raise KeyboardInterrupt

    @wf.task(retries=5)
    def other(ctx):
        pass

    with pytest.raises(KeyboardInterrupt):
        wf.run(steps=50, lookahead=1)
    assert wf.last_result.state["impatient"]["last"] == 2
    assert wf.last_result.stats["tasks"]["impatient"]["retries"] == 0


def test_keyboard_interrupt_in_a_predicate_propagates_as_is():
    wf = Workflow("interrupted-predicate")

    def impatient(ctx):
        if ctx.step == 2:
            raise KeyboardInterrupt
        return True

    @wf.task(when=impatient)
    def task(ctx):
        time.sleep(0.001)

    @wf.task
    def other(ctx):
        time.sleep(0.001)

    with pytest.raises(KeyboardInterrupt):
        wf.run(steps=2000)
    assert wf.last_result.stats["tasks"]["other"]["calls"] < 2000  # the run stopped


@pytest.fixture
def sigint_raises():
    """Ctrl-C raises KeyboardInterrupt for the test's duration. A process started in the background
    (`pytest ... &`) inherits SIGINT ignored, and _thread.interrupt_main() then does nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_the_run_with_keyboard_interrupt(sigint_raises):
    wf = Workflow("ctrl-c")

    @wf.task
    def slow(ctx):
        if ctx.step == 3:
            _thread.interrupt_main()  # as if the user pressed Ctrl-C now
        time.sleep(0.005)

    with pytest.raises(KeyboardInterrupt):
        wf.run(steps=2000)
    assert wf.last_result.stats["tasks"]["slow"]["calls"] < 2000


@pytest.mark.parametrize("outcome", ["succeeds", "fails"])
def test_the_process_exits_cleanly_after_a_run(outcome):
    """A process whose last act was a workflow run (ending with a retried channel reader that fails or
    not) exits with its own status."""
    script = textwrap.dedent("""
        import sys
        from hyflow.workflow import Workflow, WorkflowError
        wf = Workflow("exit")
        ch = wf.channel("ch", capacity=4)

        @wf.task(outputs=[ch])
        def make(ctx):
            return ctx.step

        @wf.task(inputs=[ch], every=2, offset=1, retries=1)
        def train(ctx, batch):
            if ctx.step == 3 and sys.argv[1] == "fails":
                raise RuntimeError("diverged")

        try:
            wf.run(steps=8)
        except WorkflowError:
            raise SystemExit(3)
    """)
    codes = [subprocess.run([sys.executable, "-c", script, outcome], capture_output=True, text=True, timeout=120,
                            env=os.environ.copy()) for _ in range(3)]
    expected = 3 if outcome == "fails" else 0
    assert [c.returncode for c in codes] == [expected] * 3, codes[-1].stderr[-2000:]


HUNG = textwrap.dedent("""
    import sys, time
    from hyflow.workflow import Workflow

    def stuck(ctx):
        if ctx.step == 1:
            print("stuck", flush=True)
            if sys.argv[1] == "sleep":
                time.sleep(1e9)              # stuck in C code
            while True:                      # a Python loop that even swallows exceptions
                try:                         # (the whole inner loop: it cannot escape between tries)
                    while True:
                        sum(range(100))
                except BaseException:
                    pass

    wf = Workflow("hung")
    wf.task(lambda ctx: time.sleep(0.01), name="steady")
    wf.task(stuck, name="stuck")
    try:
        wf.run(steps=1000)
    except KeyboardInterrupt as e:
        print(f"KeyboardInterrupt: {e}", flush=True)
        raise SystemExit(130)
""")

YAML_HUNG = "name: hung\npythonpath: .\ntasks:\n  stuck: {fn: 'hung:stuck'}\nrun: {steps: 1000}\n"


@pytest.mark.parametrize("how", ["busy", "sleep", "cli"])
def test_a_second_ctrl_c_stops_at_once_even_with_a_hung_task(how, tmp_path):
    """Issue 15: a hung body could not be stopped, even by repeated SIGINT. The first Ctrl-C stops
    gracefully (waits for running bodies); the second returns at once with KeyboardInterrupt."""
    (tmp_path / "hung.py").write_text(HUNG.split("wf = Workflow")[0])
    (tmp_path / "hung.yaml").write_text(YAML_HUNG)
    argv = [sys.executable, "-m", "hyflow", "run", "hung.yaml", "--no-progress"] if how == "cli" else \
        [sys.executable, "-c", HUNG, how]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                             env=os.environ.copy(), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert child.stdout.readline() == "stuck\n"
        child.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert child.poll() is None  # the first Ctrl-C waits for the running body, which never ends
        child.send_signal(signal.SIGINT)
        began = time.monotonic()
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
        child.wait()
    assert time.monotonic() - began < 5
    assert child.returncode == 130, err[-2000:]
    if how == "cli":
        assert err.strip().endswith("hyflow: interrupted")
    else:
        assert out.strip() == ("KeyboardInterrupt: workflow 'hung' interrupted again: stopped without waiting "
                               "for task 'stuck' step 1")
