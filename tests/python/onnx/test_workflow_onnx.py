"""@wf.task(..., onnx=...): the task gets an InferenceSession as its last argument, created once (lazily,
so an earlier task may write the model) and shared by every instance and by tasks given the same session."""
import numpy as np
import pytest

from _ort import require

require()

import hyflow as hy  # noqa: E402
import hyflow.nn as nn  # noqa: E402
import hyflow.onnx  # noqa: E402,F401
from hyflow.workflow import Workflow  # noqa: E402


def _model():
    gen = hy.Generator(seed=5)
    return nn.Sequential(nn.Linear(4, 8, generator=gen), nn.Tanh(), nn.Linear(8, 2, generator=gen)).eval()


def test_inference_task_with_model_path(tmp_path):
    model = _model()
    path = tmp_path / "m.onnx"
    hy.onnx.export(model, (hy.randn(3, 4),), str(path), input_names=["x"], dynamic_axes={"x": [0]})
    wf = Workflow("onnx-infer", seed=0)
    states = wf.channel("states", capacity=8)

    @wf.task(outputs=[states])
    def make(ctx):
        return hy.full([2 + ctx.step % 3, 4], float(ctx.step))

    @wf.task(inputs=[states], onnx=str(path))
    def infer(ctx, batch, session):
        ctx.state.setdefault("out", []).extend((x, session(x)) for x in batch)
        ctx.state["session"] = id(session)

    result = wf.run(steps=6)
    out = result.state["infer"]["out"]
    assert len(out) == 6
    for x, y in out:
        with hy.no_grad():
            np.testing.assert_allclose(y.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_one_session_shared_by_concurrent_tasks():
    import io
    model = _model()
    buf = io.BytesIO()
    hy.onnx.export(model, (hy.randn(3, 4),), buf, input_names=["x"], dynamic_axes={"x": [0]})
    sess = hy.onnx.InferenceSession(buf.getvalue(), threads=1)
    wf = Workflow("onnx-shared", seed=0)
    seen = []

    def infer(ctx, session):
        x = hy.full([64, 4], 0.01 * ctx.step)
        y = session(x)
        with hy.no_grad():
            np.testing.assert_allclose(y.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
        seen.append(session)
        return None

    for i in range(4):
        wf.task(infer, name=f"infer{i}", onnx=sess)
    wf.run(steps=10)
    assert len(seen) == 40 and all(s is sess for s in seen)


def test_bad_onnx_argument_and_missing_file(tmp_path):
    wf = Workflow("onnx-bad", seed=0)
    with pytest.raises(TypeError, match="onnx must be"):
        wf.task(lambda ctx, s: None, name="t1", onnx=42)
    with pytest.raises(TypeError, match="t2"):
        wf.task(lambda ctx: None, name="t2", onnx=str(tmp_path / "x.onnx"))  # no parameter for the session

    @wf.task(onnx=str(tmp_path / "missing.onnx"))
    def t3(ctx, session):
        return None
    with pytest.raises(Exception, match="missing.onnx"):
        wf.run(steps=1)
