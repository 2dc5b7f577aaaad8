"""Typed channels: Workflow.channel(type=, dtype=, shape=) checks every item a task sends."""
import pytest

import hyflow as hy
from hyflow.workflow import Workflow, WorkflowError


def _workflow(send, **channel_kwargs):
    wf = Workflow("typed")
    ch = wf.channel("fields", capacity=4, **channel_kwargs)

    @wf.task(outputs=[ch])
    def produce(ctx):
        return send(ctx)

    @wf.task(inputs=[ch])
    def consume(ctx, items):
        ctx.state["n"] = ctx.state.get("n", 0) + len(items)

    return wf


def test_items_of_the_declared_kind_flow():
    wf = _workflow(lambda ctx: hy.zeros(3, 5, dtype=hy.float64), type=hy.Tensor, dtype=hy.float64, shape=(None, 5))
    assert wf.run(steps=3).state["consume"]["n"] == 3


@pytest.mark.parametrize("send, kwargs, exc, words", [
    (lambda ctx: [1.0], {"type": hy.Tensor}, TypeError, "a list; the channel carries Tensor"),
    (lambda ctx: hy.zeros(2, dtype=hy.float32), {"dtype": hy.float64}, TypeError, "dtype hyflow.float32"),
    (lambda ctx: hy.zeros(2, 4), {"shape": (None, 5)}, ValueError, "shape (2, 4)"),
    (lambda ctx: hy.zeros(2, 5, 1), {"shape": (None, 5)}, ValueError, "shape (2, 5, 1)"),
    (lambda ctx: 3, {"dtype": hy.float64}, TypeError, "the channel carries tensors"),
])
def test_a_wrong_item_fails_the_sending_task_naming_the_channel(send, kwargs, exc, words):
    with pytest.raises(WorkflowError) as info:
        _workflow(send, **kwargs).run(steps=2)
    err = info.value
    assert err.task == "produce" and err.step == 0
    assert "channel 'fields'" in str(err) and words in str(err) and exc.__name__ in str(err)
    assert err.cancelled == ["consume"]


def test_emitted_items_are_checked_too():
    wf = Workflow("typed-emit")
    ch = wf.channel("ints", capacity=4, type=int)

    @wf.task(outputs=[ch])
    def produce(ctx):
        ctx.emit(ch, 1)
        ctx.emit(ch, "two")

    with pytest.raises(WorkflowError, match="a str; the channel carries int"):
        wf.run(steps=1)


@pytest.mark.parametrize("kwargs, exc", [
    ({"type": "Tensor"}, TypeError), ({"type": (int, "x")}, TypeError), ({"dtype": "float64"}, TypeError),
    ({"shape": 5}, TypeError), ({"shape": (2, -1)}, TypeError), ({"shape": (2, 1.5)}, TypeError),
])
def test_bad_type_declarations_are_refused(kwargs, exc):
    with pytest.raises(exc, match="channel 'c'"):
        Workflow("w").channel("c", **kwargs)
