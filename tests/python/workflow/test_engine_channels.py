"""Channel policies (block, drop_oldest, latest), fan-out, ctx.emit, backpressure from a full block
channel, the queue statistics, and feedback edges (delay)."""
import pytest

from hyflow.workflow import Workflow, WorkflowError


def producer_consumer(policy, capacity, every, steps=12, per_step=1):
    """`make` pushes per_step items a step ((step, i)), `take` reads them every `every` steps."""
    wf = Workflow(f"{policy}-{capacity}")
    ch = wf.channel("ch", capacity=capacity, policy=policy)

    @wf.task(outputs=[ch])
    def make(ctx):
        for i in range(per_step - 1):
            ctx.emit(ch, (ctx.step, i))
        return (ctx.step, per_step - 1)

    @wf.task(inputs=[ch], every=every)
    def take(ctx, got):
        ctx.state.setdefault("got", []).append((ctx.step, got))

    result = wf.run(steps=steps)
    return result, result.state["take"]["got"], result.stats["channels"]["ch"]


def test_block_delivers_every_item_in_order():
    result, got, stats = producer_consumer("block", capacity=64, every=4)
    assert [step for step, _ in got] == [0, 4, 8]
    assert [item for _, items in got for item in items] == [(s, 0) for s in range(9)]
    assert got[1][1] == [(s, 0) for s in range(1, 5)]  # a list of the new items, oldest first
    assert stats["pushed"] == 12 and stats["consumed"] == 9 and stats["dropped"] == 0


def test_drop_oldest_keeps_the_newest_capacity_items_and_counts_the_rest():
    result, got, stats = producer_consumer("drop_oldest", capacity=3, every=5)
    assert got == [(0, [(0, 0)]), (5, [(3, 0), (4, 0), (5, 0)]), (10, [(8, 0), (9, 0), (10, 0)])]
    assert stats["dropped"] == 4 and stats["consumed"] == 7 and stats["pushed"] == 12  # (11, 0) still waits
    assert stats["producer_wait_s"] == 0.0  # drop_oldest never holds the producer back


def test_latest_delivers_the_newest_item_itself():
    result, got, stats = producer_consumer("latest", capacity=1, every=4, per_step=2)
    assert got == [(0, (0, 1)), (4, (4, 1)), (8, (8, 1))]  # not a list
    # everything but the three items read and the newest one still waiting is dropped
    assert stats["pushed"] == 24 and stats["consumed"] == 3 and stats["dropped"] == 24 - 3 - 1


def test_every_consumer_of_a_channel_receives_every_item():
    wf = Workflow("fan-out")
    ch = wf.channel("ch", capacity=16)

    @wf.task(outputs=[ch])
    def make(ctx):
        return ctx.step

    def reader(ctx, items):
        ctx.state.setdefault("items", []).extend(items)

    wf.task(reader, name="every_step", inputs=[ch])
    wf.task(reader, name="every_third", inputs=[ch], every=3)
    wf.task(reader, name="newest", inputs=[wf.channel("other", policy="latest")])  # unrelated, never fed
    result = wf.run(steps=10)
    assert result.state["every_step"]["items"] == list(range(10))
    assert result.state["every_third"]["items"] == list(range(10))
    assert "items" not in result.state["newest"]
    assert result.stats["channels"]["ch"]["consumed"] == 20


def test_emit_pushes_several_items_a_step_before_the_return_value():
    wf = Workflow("emit")
    a = wf.channel("a", capacity=100)
    b = wf.channel("b", capacity=100)
    stranger = wf.channel("stranger")
    errors = []

    @wf.task(outputs=[a, b])
    def make(ctx):
        ctx.emit(a, f"a{ctx.step}.0")
        ctx.emit("a", f"a{ctx.step}.1")  # by name
        ctx.emit(b, f"b{ctx.step}")
        for bad in (stranger, "stranger"):
            with pytest.raises(ValueError, match="can only emit to its outputs") as e:
                ctx.emit(bad, 1)
            errors.append(str(e.value))
        with pytest.raises(ValueError, match="cannot emit None"):
            ctx.emit(a, None)
        return f"r{ctx.step}" if ctx.step % 2 else None  # the return value goes to both channels

    @wf.task(inputs=[a, b], every=2, offset=1)
    def take(ctx, from_a, from_b):
        ctx.state.setdefault("a", []).extend(from_a)
        ctx.state.setdefault("b", []).extend(from_b)

    result = wf.run(steps=4)
    assert result.state["take"]["a"] == ["a0.0", "a0.1", "a1.0", "a1.1", "r1", "a2.0", "a2.1", "a3.0", "a3.1", "r3"]
    assert result.state["take"]["b"] == ["b0", "b1", "r1", "b2", "b3", "r3"]
    assert all("'make'" in e and "['a', 'b']" in e for e in errors)


def test_emit_to_a_channel_that_is_not_an_output_fails_the_task():
    wf = Workflow("emit-elsewhere")
    wf.channel("mine")
    other = wf.channel("other")

    @wf.task(outputs=["mine"])
    def make(ctx):
        ctx.emit(other, 1)

    with pytest.raises(WorkflowError, match="can only emit to its outputs") as info:
        wf.run(steps=2)
    assert info.value.task == "make" and info.value.step == 0


def test_emit_to_an_unknown_channel_suggests_the_close_name_and_a_declared_one_says_what_to_add():
    wf = Workflow("emit-names")
    losses = wf.channel("losses", capacity=8)
    wf.channel("metrics")
    seen = []

    @wf.task(outputs=[losses])
    def train(ctx):
        for bad in ("lossses", "nothing_like_it", "metrics"):
            with pytest.raises(ValueError) as info:
                ctx.emit(bad, 1.0)
            seen.append(str(info.value))

    wf.task(lambda ctx, items: None, name="plot", inputs=[losses])
    wf.run(steps=1)
    assert seen == ["task 'train': ctx.emit to unknown channel 'lossses' (did you mean 'losses'?)",
                    "task 'train': ctx.emit to unknown channel 'nothing_like_it'; its outputs are ['losses']",
                    "task 'train' can only emit to its outputs ['losses'], got channel 'metrics'; add 'metrics' to "
                    "the task's outputs=[...] to emit to it"]


def backpressure_model(steps, capacity, every):
    """The steps a block channel's consumer fires at when its producer pushes one item every step: on
    schedule when something is unread, and off schedule as soon as `capacity` items are unread."""
    fires, unread = [], 0
    for s in range(steps):
        unread += 1
        if (s % every == 0 and unread) or unread >= capacity:
            fires.append(s)
            unread = 0
    return fires


@pytest.mark.parametrize("capacity,every", [(2, 5), (3, 4), (1, 3)])
def test_a_full_block_channel_makes_its_consumer_fire_off_schedule(capacity, every):
    result, got, stats = producer_consumer("block", capacity=capacity, every=every, steps=17)
    fired_at = [s for s, _ in got]
    assert fired_at == backpressure_model(17, capacity, every)
    if (capacity, every) == (2, 5):
        assert fired_at == [0, 2, 4, 5, 7, 9, 10, 12, 14, 15]
    items = [item for _, batch in got for item in batch]
    assert items == [(s, 0) for s in range(len(items))]           # nothing lost, nothing reordered
    assert all(len(batch) <= capacity for _, batch in got)
    assert 1 <= stats["max_depth"] <= capacity
    assert stats["producer_wait_s"] >= 0.0
    assert stats["dropped"] == 0 and stats["pushed"] == 17 and stats["consumed"] == len(items)


def test_max_depth_counts_one_steps_items_on_top_of_a_full_channel():
    # Three items per step: the producer may start a step while fewer than `capacity` items are unread,
    # and then adds all three.
    capacity = 4
    result, got, stats = producer_consumer("block", capacity=capacity, every=100, steps=10, per_step=3)
    items = [item for _, batch in got for item in batch]
    assert items == [(s, i) for s in range(len(items) // 3) for i in range(3)]
    assert stats["max_depth"] <= capacity - 1 + 3


def test_a_channel_back_to_an_earlier_task_delivers_one_step_late():
    wf = Workflow("feedback")
    states = wf.channel("states")
    corrections = wf.channel("corrections", capacity=4)   # produced by `infer`, declared after `monitor`

    @wf.task(outputs=[states])
    def simulate(ctx):
        return ctx.step

    @wf.task(inputs=[corrections])
    def monitor(ctx, items):
        ctx.state.setdefault("got", []).append((ctx.step, items))

    @wf.task(inputs=[states], outputs=[corrections])
    def infer(ctx, items):
        return items[-1] * 10

    assert [c["delay"] for c in wf.describe()["channels"]] == [0, 1]
    result = wf.run(steps=5)
    # at step s the monitor sees the correction of step s-1 (nothing at step 0, so it does not fire)
    # a delayed input does not gate firing: monitor runs from step 0, with nothing yet
    assert result.state["monitor"]["got"] == [(0, [])] + [(s, [(s - 1) * 10]) for s in range(1, 5)]


def test_a_task_feeding_itself_gets_its_previous_output():
    wf = Workflow("self-loop")
    ch = wf.channel("ch", capacity=2)

    @wf.task(outputs=[ch])
    def seed(ctx):
        return 0 if ctx.step == 0 else None

    @wf.task(inputs=[ch], outputs=[ch])
    def loop(ctx, items):
        ctx.state.setdefault("got", []).append((ctx.step, items))
        return items[-1] + 1 if items else None

    assert wf.describe()["channels"][0]["delay"] == 1  # loop both reads and writes it
    got = wf.run(steps=4).state["loop"]["got"]
    assert got == [(0, []), (1, [0]), (2, [1]), (3, [2])]


def test_explicit_delay_one_on_a_forward_channel():
    wf = Workflow("delay-one")
    ch = wf.channel("ch", capacity=4, delay=1)

    @wf.task(outputs=[ch])
    def make(ctx):
        return ctx.step

    @wf.task(inputs=[ch])
    def take(ctx, items):
        ctx.state.setdefault("got", []).append((ctx.step, items))

    assert wf.run(steps=4).state["take"]["got"] == [(0, []), (1, [0]), (2, [1]), (3, [2])]


def test_delay_zero_on_a_feedback_edge_is_an_error():
    wf = Workflow("bad-feedback")
    back = wf.channel("back", delay=0)

    @wf.task(inputs=[back])
    def early(ctx, items):
        pass

    @wf.task(outputs=[back])
    def late(ctx):
        return 1

    with pytest.raises(ValueError, match=r"channel 'back' is a feedback edge.*'late'.*'early'.*delay=1"):
        wf.run(steps=2)


def test_the_documented_correction_loop_runs():
    """docs/workflow.md: `infer` sends a correction back to `simulate`. simulate must run from step 0,
    receiving [] until the first correction arrives, then the correction of step s-1."""
    wf = Workflow("correction-loop")
    corrections = wf.channel("corrections", capacity=4)
    states = wf.channel("states", capacity=4)

    @wf.task(inputs=[corrections], outputs=[states])
    def simulate(ctx, fixes):
        ctx.state.setdefault("got", []).append((ctx.step, fixes))
        return ctx.step

    @wf.task(inputs=[states], outputs=[corrections])
    def infer(ctx, items):
        return -items[-1]

    result = wf.run(steps=4)
    assert result.state["simulate"]["got"] == [(0, []), (1, [0]), (2, [-1]), (3, [-2])]
