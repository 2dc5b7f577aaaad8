"""ctx.spawn: futures and their results, more sub-tasks than threads, a step ends only after its
sub-tasks, an exception in one fails the task, and spawn outside a run runs inline."""
import threading
import time

import numpy as np
import pytest

import hyflow as hy
from hyflow.workflow import Context, SubTaskFuture, Workflow, WorkflowError
from hyflow.workflow.task_state import TaskState


def test_spawn_returns_futures_with_the_results():
    blocks = [hy.randn(64, 64, generator=hy.Generator(seed=i)) for i in range(6)]
    wf = Workflow("spawn")

    @wf.task
    def fan_out(ctx):
        futures = [ctx.spawn(hy.matmul, b, b) for b in blocks]          # more sub-tasks than threads
        futures.append(ctx.spawn(lambda x, y=0: x * 10 + y, ctx.step, y=1))  # args and kwargs
        assert all(isinstance(f, SubTaskFuture) for f in futures)
        ctx.state["sums"] = [float(f.result().sum().item()) for f in futures[:-1]]
        ctx.state["last"] = futures[-1].result()

    result = wf.run(steps=2, threads=2)
    expected = [float(hy.matmul(b, b).sum().item()) for b in blocks]
    np.testing.assert_allclose(result.state["fan_out"]["sums"], expected, rtol=1e-5)
    assert result.state["fan_out"]["last"] == 11


def test_a_sub_task_waiting_on_another_does_not_starve_the_arena():
    wf = Workflow("nested")

    @wf.task
    def outer(ctx):
        def inner(n):
            return sum(ctx.spawn(lambda k: k * k, k).result() for k in range(n))
        futures = [ctx.spawn(inner, n) for n in range(1, 5)]
        ctx.state["got"] = [f.result() for f in futures]

    assert wf.run(steps=1, threads=2).state["outer"]["got"] == [0, 1, 5, 14]


def test_a_step_ends_only_after_its_sub_tasks():
    done = []
    lock = threading.Lock()
    wf = Workflow("join")

    @wf.task
    def forgetful(ctx):
        seen = list(done)
        ctx.state.setdefault("seen_at_start", []).append(seen)

        def slow(step):
            time.sleep(0.02)
            with lock:
                done.append(step)
        ctx.spawn(slow, ctx.step)  # never waited for by the body

    @wf.task(inputs=[forgetful])
    def never(ctx, value):
        raise AssertionError("forgetful returns None")

    result = wf.run(steps=3)
    assert result.state["forgetful"]["seen_at_start"] == [[], [0], [0, 1]]
    assert done == [0, 1, 2]


def test_an_exception_in_a_sub_task_fails_the_task():
    wf = Workflow("sub-failure")

    def shard(i):
        if i == 2:
            raise ValueError(f"shard {i} is corrupt")
        return i

    @wf.task
    def load(ctx):
        futures = [ctx.spawn(shard, i) for i in range(4)]
        with pytest.raises(ValueError, match="shard 2 is corrupt"):   # result() re-raises it ...
            futures[2].result()
        return [f.result() for f in (futures[0], futures[1], futures[3])]

    with pytest.raises(WorkflowError) as info:  # ... and the task fails even though the body caught it
        wf.run(steps=2)
    assert info.value.task == "load" and info.value.step == 0
    assert "ValueError: shard 2 is corrupt" in str(info.value)


def test_an_unawaited_failing_sub_task_fails_the_task():
    wf = Workflow("unawaited")

    @wf.task
    def careless(ctx):
        ctx.spawn(lambda: 1 / 0)

    with pytest.raises(WorkflowError, match="ZeroDivisionError") as info:
        wf.run(steps=3)
    assert info.value.step == 0


def test_spawn_outside_a_run_runs_inline():
    wf = Workflow("inline")

    @wf.task
    def body(ctx):
        return ctx.spawn(lambda x: x + 1, 41)

    ctx = Context(wf, wf["body"], TaskState(), hy.Generator(seed=0))
    fut = body(ctx)                 # calling the task directly, as in a unit test
    assert fut.done() and fut.result() == 42
    failing = ctx.spawn(lambda: [][1])
    assert failing.done()
    with pytest.raises(IndexError):
        failing.result()
    with pytest.raises(TypeError, match="callable"):
        ctx.spawn(42)
