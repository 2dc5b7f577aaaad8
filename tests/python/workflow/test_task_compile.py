"""@wf.task(compile=...): ctx.compile(fn) runs fn through hy.compile when the task asks for it."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.compiler import CompiledFunction
from hyflow.workflow import Workflow, load_workflow


def decay(x):
    return (x * 0.5 + 1.0).tanh()


def run(compile, steps=5):  # noqa: A002
    wf = Workflow("decay")
    seen = []

    @wf.task(compile=compile)
    def evolve(ctx):
        x = ctx.state.get("x", hy.ones(64, dtype=hy.float64))
        step = ctx.compile(decay)
        seen.append(step)
        ctx.state["x"] = step(x)          # Python effects stay in the body: they run every step

    wf.run(steps=steps)
    return wf, wf.last_result.state["evolve"]["x"], seen


@pytest.mark.parametrize("compile", [True, {"mode": "max-autotune"}])
def test_compiled_task_code_matches_eager(compile):  # noqa: A002
    wf, x, seen = run(compile)
    _, want, eager_seen = run(False)
    assert all(s is seen[0] for s in seen) and isinstance(seen[0], CompiledFunction)
    assert eager_seen[0] is decay
    entries = seen[0].entries()
    assert len(entries) == 1 and entries[0].program is not None   # one trace, replayed every later step
    np.testing.assert_allclose(x.numpy(), want.numpy(), rtol=1e-12)
    assert wf["evolve"].compile == compile


def test_bad_compile_option_raises():
    wf = Workflow("bad")
    with pytest.raises(TypeError, match="compile must be True, False or a dict"):
        wf.task(lambda ctx: None, name="a", compile="yes")
    with pytest.raises(ValueError, match="compile options must be among"):
        wf.task(lambda ctx: None, name="b", compile={"fullgraph": True})


def test_ctx_compile_needs_a_callable():
    wf = Workflow("notcallable")

    @wf.task(compile=True)
    def body(ctx):
        ctx.compile(3)

    with pytest.raises(Exception, match="ctx.compile needs a callable"):
        wf.run(steps=1)


YAML_TASK = """\
name: decay-yaml
pythonpath: .
tasks:
  evolve: {fn: "MODULE:evolve", COMPILE}
"""

TASK_MODULE = """\
import hyflow as hy
seen = []

def decay(x):
    return (x * 0.5 + 1.0).tanh()

def evolve(ctx):
    x = ctx.state.get("x", hy.ones(64, dtype=hy.float64))
    step = ctx.compile(decay)
    seen.append(step)
    ctx.state["x"] = step(x)
"""


@pytest.mark.parametrize("key, want", [("compile: true", True), ("compile: {mode: max-autotune}",
                                                                   {"mode": "max-autotune"}), ("every: 1", False)])
def test_yaml_compile_key_does_what_the_decorator_flag_does(tmp_path, monkeypatch, key, want):
    module = f"yaml_compile_{abs(hash((str(tmp_path), key))) % 10**8}"
    (tmp_path / f"{module}.py").write_text(TASK_MODULE)
    (tmp_path / "wf.yaml").write_text(YAML_TASK.replace("MODULE", module).replace("COMPILE", key))
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    wf, _ = load_workflow(tmp_path / "wf.yaml")
    assert wf["evolve"].compile == want
    wf.run(steps=4)
    mod = __import__(module)
    _, eager_x, _ = run(False, steps=4)
    if want is False:
        assert all(s is mod.decay for s in mod.seen)
    else:
        assert all(s is mod.seen[0] for s in mod.seen) and isinstance(mod.seen[0], CompiledFunction)
        assert mod.seen[0].mode == (want["mode"] if isinstance(want, dict) else "default")
    np.testing.assert_allclose(wf.last_result.state["evolve"]["x"].numpy(), eager_x.numpy(), rtol=1e-12)
