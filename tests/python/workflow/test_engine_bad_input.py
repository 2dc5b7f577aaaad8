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
    ({"steps": -1}, ValueError, "run: steps must be an int >= 0, got -1"),
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
