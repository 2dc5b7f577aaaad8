"""The engine's ordering rules: a task's steps run in order, task inputs carry the producer's value of the
same step, independent tasks both run, a producer runs ahead of a slow consumer (pipelining), and
`lookahead` bounds how far apart two tasks get. Overlaps are read from the engine's own events."""
import threading

import pytest

import hyflow as hy
from hyflow.workflow import Workflow


def intervals(result, task):
    """{step: (start_us, end_us)} of the successful attempts of `task`, from the engine's events."""
    return {e["step"]: (e["start_us"], e["end_us"]) for e in result.events if e["task"] == task and e["status"] == "ok"}


def test_each_task_runs_its_steps_in_order_and_sees_its_own_state():
    wf = Workflow("order")
    out = wf.channel("out", capacity=4)

    @wf.task(outputs=[out])
    def counter(ctx):
        ctx.state["n"] = ctx.state.get("n", 0) + 1       # sees the previous step's state
        ctx.state.setdefault("steps", []).append(ctx.step)
        return ctx.step

    @wf.task(inputs=[out], every=3)
    def reader(ctx, items):
        ctx.state.setdefault("steps", []).append(ctx.step)

    result = wf.run(steps=20)
    assert result.state["counter"]["steps"] == list(range(20))
    assert result.state["counter"]["n"] == 20
    assert result.state["reader"]["steps"] == list(range(0, 20, 3))
    for task in ("counter", "reader"):
        spans = intervals(result, task)
        steps = sorted(spans)
        for a, b in zip(steps, steps[1:]):
            assert spans[a][1] <= spans[b][0], f"{task}: step {b} started before step {a} ended"


def test_a_task_input_is_the_producers_value_of_the_same_step():
    wf = Workflow("direct")

    @wf.task
    def make(ctx):
        return {"step": ctx.step, "t": hy.full([2], float(ctx.step))}

    @wf.task(inputs=[make])
    def use(ctx, value):
        assert value["step"] == ctx.step
        ctx.state.setdefault("got", []).append((ctx.step, value["t"].tolist()))

    result = wf.run(steps=6)
    assert result.state["use"]["got"] == [(s, [float(s)] * 2) for s in range(6)]
    # the consumer of step s starts only once the producer of step s has ended
    made, used = intervals(result, "make"), intervals(result, "use")
    assert all(made[s][1] <= used[s][0] for s in range(6))


def test_the_same_object_reaches_the_consumer_without_a_copy():
    wf = Workflow("by-reference")
    sent = {}

    @wf.task
    def make(ctx):
        sent[ctx.step] = hy.zeros(3)
        return sent[ctx.step]

    @wf.task(inputs=[make])
    def use(ctx, t):
        ctx.state.setdefault("same", []).append(t is sent[ctx.step])

    assert wf.run(steps=3).state["use"]["same"] == [True] * 3


def test_independent_tasks_both_run_every_step():
    wf = Workflow("independent")

    @wf.task
    def left(ctx):
        ctx.state["last"] = ctx.step

    @wf.task(every=2)
    def right(ctx):
        ctx.state.setdefault("steps", []).append(ctx.step)

    result = wf.run(steps=9)
    assert result.state["left"]["last"] == 8
    assert result.state["right"]["steps"] == [0, 2, 4, 6, 8]
    assert result.stats["tasks"]["left"]["calls"] == 9 and result.stats["tasks"]["right"]["calls"] == 5
    assert result.stats["tasks"]["right"]["skipped"] == 4


def test_simulate_runs_ahead_while_a_slow_train_step_is_still_running():
    """Pipelining: train's matmuls release the GIL, and nothing makes simulate's next step wait for them."""
    wf = Workflow("pipeline")
    states = wf.channel("states", capacity=8, policy="block")
    a = hy.randn(1024, 1024)

    @wf.task(outputs=[states])
    def simulate(ctx):
        return hy.full([4], float(ctx.step))

    @wf.task(inputs=[states])
    def train(ctx, batch):
        x = a
        for _ in range(3):
            x = hy.matmul(a, x) * 1e-3
        ctx.state.setdefault("seen", []).extend(int(t[0].item()) for t in batch)

    result = wf.run(steps=6, threads=3)
    assert result.state["train"]["seen"] == list(range(6))      # every state, in order, whatever the timing
    sim, tr = intervals(result, "simulate"), intervals(result, "train")
    overlapping = [s for s in range(5) if sim[s + 1][0] < tr[s][1]]
    assert overlapping, f"simulate never started step s+1 before train finished step s: {sim} {tr}"


@pytest.mark.parametrize("lookahead", [2, 5])
def test_lookahead_bounds_the_distance_between_tasks(lookahead):
    """With lookahead L, task t starts step s only once every other task has finished step s - L."""
    steps = 24
    lock = threading.Lock()
    log = []  # ("start" | "end", task, step), in the order they happened

    def body(name, spin):
        def fn(ctx):
            with lock:
                log.append(("start", name, ctx.step))
            for _ in range(spin):  # a little Python work, so the two tasks drift apart if allowed
                pass
            with lock:
                log.append(("end", name, ctx.step))
        fn.__name__ = name
        return fn

    wf = Workflow("lookahead")
    wf.task(body("fast", 10))
    wf.task(body("slow", 20000))
    wf.run(steps=steps, lookahead=lookahead, threads=3)

    finished = {"fast": 0, "slow": 0}  # steps completed so far (each task's steps end in order)
    widest = 0
    for kind, name, step in log:
        if kind == "end":
            finished[name] += 1
            continue
        other = finished["slow" if name == "fast" else "fast"]
        assert step < other + lookahead, f"{name} started step {step} while the other had finished {other} steps"
        widest = max(widest, step - other)
    assert finished == {"fast": steps, "slow": steps}
    assert widest <= lookahead - 1


def test_lookahead_one_runs_the_tasks_in_lockstep():
    lock = threading.Lock()
    log = []

    wf = Workflow("lockstep")
    for name in ("a", "b", "c"):
        def fn(ctx, name=name):
            with lock:
                log.append(ctx.step)
        wf.task(fn, name=name)
    wf.run(steps=10, lookahead=1, threads=3)
    assert log == sorted(log)  # no task starts step s+1 before all have finished step s
