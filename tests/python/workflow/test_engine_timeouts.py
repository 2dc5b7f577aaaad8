"""Task and run timeouts (issue 15: a task that hung or busy-looped could not be stopped): a Python body
is stopped by a TimeoutError raised in its thread, a body stuck in C code is abandoned, the run raises
WorkflowTimeoutError naming the task, the step and the limit, and a checkpoint written before stays valid.
Bodies that cannot be stopped at all run in child processes, so their threads do not outlive the test."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

from hyflow.workflow import Workflow, WorkflowError, WorkflowTimeoutError, load_workflow
from hyflow.workflow.checkpoint import load_checkpoint


def busy_loop():
    while True:
        pass


def hanging_graph(timeout=0.3, hang_at=2, retries=0):
    wf = Workflow("hangs")

    @wf.task
    def steady(ctx):
        ctx.state["last"] = ctx.step

    @wf.task(timeout=timeout, retries=retries)
    def stuck(ctx):
        ctx.state.setdefault("steps", []).append(ctx.step)
        if ctx.step == hang_at:
            busy_loop()
        return ctx.step

    @wf.task(inputs=[stuck])
    def after(ctx, value):
        ctx.state["last"] = ctx.step

    return wf


def test_a_python_busy_loop_is_stopped_by_its_task_timeout():
    began = time.monotonic()
    with pytest.raises(WorkflowTimeoutError) as info:
        hanging_graph(retries=2).run(steps=6, lookahead=1)
    assert time.monotonic() - began < 5
    err = info.value
    assert isinstance(err, WorkflowError)
    assert (err.task, err.step, err.timeout, err.attempts) == ("stuck", 2, 0.3, 1)  # timeouts are not retried
    assert str(err).startswith("workflow 'hangs': task 'stuck' timed out at step 2 (timeout=0.3 s):\n"
                               "task 'stuck' step 2 exceeded its timeout of 0.3 s")
    assert err.abandoned == []  # the TimeoutError stopped the loop: no thread left behind
    assert err.cancelled == ["after"]
    state = err.result.state
    assert state["stuck"]["steps"] == [0, 1, 2] and state["after"]["last"] == 1
    assert state["steady"]["last"] == 5  # the unrelated task ran to the end
    assert [e["status"] for e in err.result.events if e["task"] == "stuck"] == ["ok", "ok", "failed"]


def test_bodies_within_their_timeout_are_untouched():
    wf = Workflow("in-time")

    @wf.task(timeout=2)
    def sleepy(ctx):
        time.sleep(0.05)
        ctx.state["n"] = ctx.state.get("n", 0) + 1

    result = wf.run(steps=6, timeout=60)
    assert result.state["sleepy"]["n"] == 6 and result.stats["tasks"]["sleepy"]["failed"] == 0


def test_the_run_timeout_stops_the_run_and_names_what_was_running():
    wf = Workflow("slow-run")

    @wf.task
    def spin(ctx):
        if ctx.step == 1:
            busy_loop()

    began = time.monotonic()
    with pytest.raises(WorkflowTimeoutError) as info:
        wf.run(steps=100, timeout=0.4)
    assert 0.4 <= time.monotonic() - began < 5
    err = info.value
    assert (err.task, err.step, err.timeout, err.abandoned) == ("spin", 1, 0.4, [])
    assert str(err) == "workflow 'slow-run' stopped: it ran past its timeout of 0.4 s; running then: task 'spin' step 1"


def test_a_checkpoint_written_before_a_timeout_stays_valid(tmp_path):
    with pytest.raises(WorkflowTimeoutError):
        hanging_graph(hang_at=5).run(steps=8, checkpoint_every=2, checkpoint_dir=tmp_path, lookahead=1)
    step, payload = load_checkpoint(tmp_path)
    assert step == 4 and payload["tasks"]["stuck"]["steps"] == [0, 1, 2, 3]
    resumed = hanging_graph(hang_at=-1).run(steps=8, checkpoint_every=2, checkpoint_dir=tmp_path, resume=True)
    straight = hanging_graph(hang_at=-1).run(steps=8)
    assert resumed.state == straight.state


def test_timeouts_from_yaml():
    pytest.importorskip("yaml")
    wf, run_kwargs = load_workflow("name: y\ntasks:\n  t: {fn: 'os.path:join', timeout: 2.5}\n"
                                   "run: {steps: 3, timeout: 60}\n")
    assert wf["t"].timeout == 2.5 and run_kwargs == {"steps": 3, "timeout": 60.0}
    assert wf.describe()["tasks"][0]["timeout"] == 2.5
    assert "timeout 2.5 s" in wf.to_dot()


UNSTOPPABLE = textwrap.dedent("""
    import sys, time
    from hyflow.workflow import Workflow, WorkflowTimeoutError
    how, limit = sys.argv[1], sys.argv[2]

    def body(ctx):
        if how == "sleep":                   # stuck in C code: no exception can reach it
            time.sleep(1e9)
        while True:                          # a body that swallows the TimeoutError
            try:                             # (the whole inner loop: it cannot escape between tries)
                while True:
                    sum(range(100))
            except Exception:
                pass

    wf = Workflow("unstoppable")
    wf.task(lambda ctx: ctx.state.update(last=ctx.step), name="steady")
    wf.task(body, name="stuck", timeout=0.3 if limit == "task" else None)
    began = time.monotonic()
    try:
        wf.run(steps=5, timeout=0.3 if limit == "run" else None)
    except WorkflowTimeoutError as e:
        print(f"{time.monotonic() - began:.1f}|{e.task}|{e.step}|{e.abandoned}|{e.result.state['steady']}")
        print(str(e).splitlines()[-1])
""")


@pytest.mark.parametrize("how", ["sleep", "swallow"])
@pytest.mark.parametrize("limit", ["task", "run"])
def test_a_body_that_cannot_be_stopped_is_abandoned_and_the_run_returns(how, limit):
    done = subprocess.run([sys.executable, "-c", UNSTOPPABLE, how, limit], capture_output=True, text=True,
                          timeout=60, env=os.environ.copy())
    # the process also exits cleanly, with the abandoned thread still stuck
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}"
    first, last = done.stdout.splitlines()
    seconds, task, step, abandoned, steady = first.split("|")
    assert float(seconds) < 5 and (task, step) == ("stuck", "0")
    assert abandoned == "[{'task': 'stuck', 'step': 0}]"
    if limit == "task":
        assert steady == "{'last': 4}"  # the other task finished the run
        assert last == "task 'stuck' step 0 exceeded its timeout of 0.3 s; its thread did not stop and was abandoned"
    else:
        assert last.endswith("abandoned (their threads did not stop): task 'stuck' step 0")


REPEATED = textwrap.dedent("""
    import time
    from hyflow.workflow import Workflow, WorkflowTimeoutError

    wf = Workflow("again")
    wf.task(lambda ctx: time.sleep(1e9), name="stuck", timeout=0.2)
    for run in range(6):
        try:
            wf.run(steps=2, threads=2)
        except WorkflowTimeoutError as e:
            print(run, e.abandoned, flush=True)
""")


def test_runs_after_abandoned_threads_still_get_workers():
    # Each run leaves a stuck worker in its arena; oneTBB kept giving idle workers to those arenas, and
    # the fourth run waited forever for one.
    done = subprocess.run([sys.executable, "-c", REPEATED], capture_output=True, text=True, timeout=90,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [f"{run} [{{'task': 'stuck', 'step': 0}}]" for run in range(6)]
