"""When an instance fires: every/offset schedules, `when` predicates (an if/else pair of branches, on a task
input and on a block channel), data
arrival on task inputs and channel inputs, and what happens to a reader whose producer failed."""
import pytest

from hyflow.workflow import Workflow, WorkflowError


def fired(result, task):
    return result.state[task].get("steps", [])


def record(ctx):
    ctx.state.setdefault("steps", []).append(ctx.step)


@pytest.mark.parametrize("every,offset", [(1, 0), (3, 0), (3, 2), (4, 7), (5, 20)])
def test_every_and_offset(every, offset):
    wf = Workflow("schedule")
    wf.task(record, name="t", every=every, offset=offset)
    result = wf.run(steps=15)
    expected = [s for s in range(15) if s >= offset and (s - offset) % every == 0]
    assert fired(result, "t") == expected
    assert result.stats["tasks"]["t"]["calls"] == len(expected)
    assert result.stats["tasks"]["t"]["skipped"] == 15 - len(expected)


def test_when_predicates_make_an_if_else():
    wf = Workflow("branches")

    @wf.task
    def source(ctx):
        return ctx.step

    @wf.task(inputs=[source], when=lambda ctx: ctx.step % 3 == 0)
    def then_branch(ctx, value):
        assert value == ctx.step
        record(ctx)

    @wf.task(inputs=[source], when=lambda ctx: ctx.step % 3 != 0)
    def else_branch(ctx, value):
        record(ctx)

    result = wf.run(steps=10)
    assert fired(result, "then_branch") == [0, 3, 6, 9]
    assert fired(result, "else_branch") == [1, 2, 4, 5, 7, 8]


@pytest.mark.parametrize("capacity", [1, 3])
def test_an_if_else_pair_on_a_block_channel_splits_its_items(capacity):
    """Issue 15: two readers of one block channel with opposite predicates both received every item
    (a full channel forced each of them to read, whatever its predicate said). Now each item goes to
    exactly one branch, none is lost, and nothing deadlocks."""
    wf = Workflow("if-else")
    ch = wf.channel("ch", capacity=capacity)

    @wf.task(outputs=[ch])
    def source(ctx):
        return ctx.step

    @wf.task(inputs=[ch], when=lambda ctx: ctx.step % 3 == 0)
    def then_branch(ctx, items):
        ctx.state.setdefault("got", []).extend(items)

    @wf.task(inputs=[ch], when=lambda ctx: ctx.step % 3 != 0)
    def else_branch(ctx, items):
        ctx.state.setdefault("got", []).extend(items)

    result = wf.run(steps=20)
    then_items, else_items = result.state["then_branch"]["got"], result.state["else_branch"]["got"]
    assert then_items == [s for s in range(20) if s % 3 == 0]
    assert else_items == [s for s in range(20) if s % 3 != 0]
    # each item is consumed by one branch and dropped by the other
    stats = result.stats["channels"]["ch"]
    assert (stats["pushed"], stats["consumed"], stats["dropped"]) == (20, 20, 20)
    assert stats["max_depth"] <= capacity


def test_a_false_predicate_drops_the_block_items_of_that_step_but_keeps_latest_ones():
    wf = Workflow("gated")
    work = wf.channel("work", capacity=2)
    model = wf.channel("model", capacity=1, policy="latest")

    @wf.task(outputs=[work, model])
    def source(ctx):
        ctx.emit("work", ctx.step)
        if ctx.step == 1:
            ctx.emit("model", "weights-1")

    @wf.task(inputs=[work, model], when=lambda ctx: ctx.step >= 4)
    def late(ctx, items, weights):
        ctx.state.setdefault("got", []).append((ctx.step, items, weights))

    got = wf.run(steps=6).state["late"]["got"]
    # steps 0-3 said no: their work items are gone, the newest `latest` item waits for the next firing
    assert got == [(4, [4], "weights-1"), (5, [5], None)]


def test_a_reader_forced_by_a_full_channel_still_asks_its_predicate():
    asked = []

    def never(ctx):
        asked.append(ctx.step)
        return False

    wf = Workflow("forced-but-no")
    ch = wf.channel("ch", capacity=2)

    @wf.task(outputs=[ch])
    def source(ctx):
        return ctx.step

    @wf.task(inputs=[ch], every=100, when=never)
    def reader(ctx, items):
        raise AssertionError("never fires")

    result = wf.run(steps=10)
    assert asked == [0, 2, 4, 6, 8]  # on schedule (0), then each time the channel is full
    assert result.stats["tasks"]["source"]["calls"] == 10  # the producer was never stuck


def test_when_sees_the_tasks_state_and_combines_with_every():
    seen = []

    def until_three_calls(ctx):
        seen.append((ctx.task, ctx.step))
        return len(ctx.state.get("steps", [])) < 3

    wf = Workflow("predicate-state")
    wf.task(record, name="t", every=2, when=until_three_calls)
    result = wf.run(steps=12)
    assert fired(result, "t") == [0, 2, 4]
    # the predicate is asked only at the scheduled steps
    assert seen == [("t", s) for s in range(0, 12, 2)]


def test_a_task_input_fires_its_reader_only_when_the_producer_returned_something():
    wf = Workflow("arrival")

    @wf.task
    def sometimes(ctx):
        return ctx.step * 10 if ctx.step % 3 == 1 else None   # None: no output this step

    @wf.task(inputs=[sometimes])
    def reader(ctx, value):
        ctx.state.setdefault("got", []).append((ctx.step, value))

    result = wf.run(steps=10)
    assert result.state["reader"]["got"] == [(1, 10), (4, 40), (7, 70)]
    assert result.stats["tasks"]["reader"]["skipped"] == 7


def test_a_reader_of_two_tasks_needs_both_values_of_the_step():
    wf = Workflow("both")

    @wf.task
    def evens(ctx):
        return ctx.step if ctx.step % 2 == 0 else None

    @wf.task
    def threes(ctx):
        return ctx.step if ctx.step % 3 == 0 else None

    @wf.task(inputs=[evens, threes])
    def reader(ctx, a, b):
        assert a == b == ctx.step
        record(ctx)

    assert fired(wf.run(steps=13), "reader") == [0, 6, 12]


def test_channel_inputs_fire_their_reader_only_with_data():
    wf = Workflow("channel-arrival")
    a = wf.channel("a", capacity=4)
    b = wf.channel("b", capacity=4, policy="latest")

    @wf.task(outputs=[a])
    def make_a(ctx):
        return f"a{ctx.step}" if ctx.step % 4 == 0 else None

    @wf.task(outputs=[b])
    def make_b(ctx):
        return f"b{ctx.step}" if ctx.step % 5 == 0 else None

    @wf.task(inputs=[a, b])
    def reader(ctx, items_a, item_b):
        ctx.state.setdefault("got", []).append((ctx.step, items_a, item_b))

    result = wf.run(steps=11)
    # fires when at least one channel has new items; the other gives [] (block) or None (latest)
    assert result.state["reader"]["got"] == [(0, ["a0"], "b0"), (4, ["a4"], None), (5, [], "b5"), (8, ["a8"], None),
                                             (10, [], "b10")]


def test_a_channel_reader_off_schedule_collects_what_arrived_in_between():
    wf = Workflow("batching")
    ch = wf.channel("ch", capacity=100)

    @wf.task(outputs=[ch])
    def make(ctx):
        return ctx.step if ctx.step % 2 else None

    @wf.task(inputs=[ch], every=4, offset=1)
    def reader(ctx, items):
        ctx.state.setdefault("got", []).append((ctx.step, items))

    result = wf.run(steps=12)
    assert result.state["reader"]["got"] == [(1, [1]), (5, [3, 5]), (9, [7, 9])]


def test_readers_of_a_failed_task_never_fire_again():
    wf = Workflow("failed-input")
    ch = wf.channel("ch", capacity=4)

    @wf.task(outputs=[ch])
    def producer(ctx):
        if ctx.step == 3:
            raise RuntimeError("producer broke")
        return ctx.step

    @wf.task(inputs=[producer])
    def direct(ctx, value):
        record(ctx)

    @wf.task(inputs=[ch])
    def via_channel(ctx, items):
        record(ctx)

    # lookahead=1 keeps the readers' earlier steps from being in flight when the producer fails: that
    # race is test_engine_failures.py's test_cancelling_readers_that_are_already_scheduled.
    with pytest.raises(WorkflowError) as info:
        wf.run(steps=8, lookahead=1)
    err = info.value
    assert err.task == "producer" and err.step == 3
    assert sorted(err.cancelled) == ["direct", "via_channel"]
    assert fired(err.result, "direct") == [0, 1, 2]
    assert fired(err.result, "via_channel") == [0, 1, 2]
