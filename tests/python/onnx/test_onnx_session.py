"""hy.onnx.InferenceSession: hyflow tensors in and out through ORT's I/O binding (no copies, measured),
clear errors naming the input, one session shared by threads, the GIL released while ORT runs."""
import threading
import time

import numpy as np
import pytest

from _ort import require, export_bytes

require()

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

import hyflow as hy  # noqa: E402
import hyflow.nn as nn  # noqa: E402
import hyflow.onnx  # noqa: E402,F401


def _mlp(seed=0):
    gen = hy.Generator(seed=seed)
    return nn.Sequential(nn.Linear(8, 16, generator=gen), nn.GELU(), nn.Linear(16, 3, generator=gen)).eval()


def _session(model=None, **kwargs):
    model = model or _mlp()
    data = export_bytes(model, (hy.randn(4, 8),), input_names=["x"], output_names=["y"],
                        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    return hy.onnx.InferenceSession(data, **kwargs), model


def test_call_returns_hyflow_tensors_equal_to_eager():
    sess, model = _session(threads=1)
    for n in (1, 5, 64):
        x = hy.randn(n, 8)
        y = sess(x)
        assert isinstance(y, hy.Tensor) and y.dtype == hy.float32 and tuple(y.shape) == (n, 3)
        with hy.no_grad():
            np.testing.assert_allclose(y.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert sess(x=x).shape == (64, 3) and len(sess.run({"x": x})) == 1


def test_output_is_written_into_hyflow_buffer_and_input_read_in_place():
    sess, model = _session()
    x = hy.randn(6, 8)
    out = hy.empty(6, 3)
    ptr = out.data_ptr()
    (y,) = sess.run([x], out=[out])
    assert y is out and y.data_ptr() == ptr  # ORT wrote into the buffer hyflow allocated
    with hy.no_grad():
        np.testing.assert_allclose(out.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    # Without out=, the session allocates with hyflow (its shape follows from the input's batch dim) and
    # binds it: ORT's view of the bound output is that hyflow buffer.
    seen = {}
    st = sess._state()  # this thread's binding and its run
    real_run = st.run

    def spy():
        real_run()
        seen["out"] = st.binding.get_outputs()[0].data_ptr()  # where ORT's output value lives
    st.run = spy
    y2 = sess(x)
    assert seen["out"] == y2.data_ptr()
    y3 = sess(x)  # the fast path (same input) binds a fresh hyflow buffer too
    assert seen["out"] == y3.data_ptr() != y2.data_ptr()


def test_input_is_not_copied():
    # ORT is handed hyflow's own pointer for the input (bind_input(buffer_ptr=...)): checked by recording
    # what the session binds, and that ORT's OrtValue over such a buffer reports the same address.
    import onnxruntime as ort
    probe = hy.randn(3, 4)
    assert ort.OrtValue.ortvalue_from_numpy(probe.numpy()).data_ptr() == probe.data_ptr()
    sess, model = _session()
    x = hy.randn(2, 8)
    captured = {}

    class Spy:
        def __init__(self, b):
            self.b = b

        def bind_input(self, name, dev, dev_id, etype, shape, ptr):
            captured[name] = ptr
            return self.b.bind_input(name, dev, dev_id, etype, shape, ptr)

        def __getattr__(self, k):
            return getattr(self.b, k)
    st = sess._state()
    st.binding = Spy(st.binding)
    y = sess(x)
    assert captured["x"] == x.data_ptr()
    with hy.no_grad():
        np.testing.assert_allclose(y.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_fast_path_sees_new_values_and_new_buffers():
    sess, model = _session()
    x = hy.randn(3, 8)
    out = [hy.empty(3, 3)]
    first = sess.run([x], out=out)[0].numpy().copy()
    x.mul_(2)                      # same buffer, new values: the reused binding reads them
    second = sess.run([x], out=out)[0].numpy().copy()
    with hy.no_grad():
        np.testing.assert_allclose(second, model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(first, second)
    z = hy.randn(3, 8)             # another buffer of the same shape
    with hy.no_grad():
        np.testing.assert_allclose(sess(z).numpy(), model(z).numpy(), rtol=1e-5, atol=1e-6)
    y1, y2 = sess(z), sess(z)      # fresh outputs each call: the first result is not overwritten
    assert y1.data_ptr() != y2.data_ptr()


def test_fast_path_keeps_earlier_results_intact():
    # The fast path binds a fresh output per call: a result the caller holds is never written again.
    sess, model = _session(threads=1)
    x = hy.randn(2, 8)
    y1 = sess(x)
    y2 = sess(x)                   # fast path from here on
    kept = y2.numpy().copy()
    x.mul_(3)
    y3 = sess(x)
    assert len({y1.data_ptr(), y2.data_ptr(), y3.data_ptr()}) == 3
    np.testing.assert_array_equal(y2.numpy(), kept)
    with hy.no_grad():
        np.testing.assert_allclose(y3.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("missing", ["device", "native_run"])
def test_fast_path_through_public_wrapper(monkeypatch, missing):
    # Where ORT's native binder or run is not reachable (another ORT layout), the session binds and runs
    # through ORT's public IOBinding wrapper, with the same results and the same zero-copy outputs.
    from hyflow.onnx import session as session_mod
    if missing == "device":
        monkeypatch.setattr(session_mod, "_cpu_device", lambda: None)
    sess, model = _session(threads=1)
    if missing == "native_run":
        sess._native_run = None    # before the thread's state is built
    x = hy.randn(4, 8)
    ys = [sess(x) for _ in range(3)]
    st = sess._state()
    assert st.binding.get_outputs()[0].data_ptr() == ys[-1].data_ptr()
    assert len({y.data_ptr() for y in ys}) == 3
    with hy.no_grad():
        for y in ys:
            np.testing.assert_allclose(y.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_fast_path_rejects_view_of_bound_out_buffer():
    # A view sharing the bound out tensor's pointer but not its shape is checked, not reused: the fast
    # path once compared pointers only, let ORT write 3 rows through a (1, 3) view and returned that view.
    sess, _ = _session(threads=1)
    x = hy.randn(3, 8)
    y = hy.empty(3, 3)
    sess.run([x], out=[y])
    sess.run([x], out=[y])         # fast path armed with y's buffer
    view = y[:1]
    assert view.data_ptr() == y.data_ptr()
    with pytest.raises(ValueError, match="out tensor for 'y' must have shape"):
        sess.run([x], out=[view])


def test_non_contiguous_input_is_made_contiguous():
    sess, model = _session()
    x = hy.randn(8, 5).T  # (5, 8) transposed view
    with hy.no_grad():
        np.testing.assert_allclose(sess(x).numpy(), model(x.contiguous()).numpy(), rtol=1e-5, atol=1e-6)


def test_errors_name_the_input(tmp_path):
    sess, _ = _session()
    with pytest.raises(ValueError, match="'x'.*dtype"):
        sess(hy.randn(2, 8, dtype=hy.float64))
    with pytest.raises(ValueError, match="'x'.*shape"):
        sess(hy.randn(2, 7))
    with pytest.raises(ValueError, match="'x'.*dims"):
        sess(hy.randn(8))
    with pytest.raises(ValueError, match="unknown input"):
        sess.run({"z": hy.randn(2, 8)})
    with pytest.raises(ValueError, match="takes 1 input"):
        sess(hy.randn(2, 8), hy.randn(2, 8))
    with pytest.raises(TypeError, match="'x'.*Tensor"):
        sess(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match="does not exist"):
        hy.onnx.InferenceSession(str(tmp_path / "missing.onnx"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match="cannot load"):
        hy.onnx.InferenceSession(str(bad))
    with pytest.raises(ValueError, match="threads"):
        hy.onnx.InferenceSession(export_bytes(lambda t: t + 1, (hy.randn(2),)), threads=0)


def test_runtime_error_is_reported():
    # A model whose Reshape cannot hold the fed size: ORT fails at run time.
    g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          initializer=[helper.make_tensor("s", TensorProto.INT64, [2], [2, 2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    sess = hy.onnx.InferenceSession(m.SerializeToString())
    assert sess(hy.ones(4)).shape == (2, 2)  # unknown output shape: ORT allocates, handed over
    with pytest.raises(RuntimeError, match="ONNX Runtime failed"):
        sess(hy.ones(5))


def test_one_session_shared_by_threads():
    sess, model = _session(threads=1)
    xs = [hy.randn(16 + i, 8) for i in range(8)]
    with hy.no_grad():
        want = [model(x).numpy() for x in xs]
    errors = []

    def worker(i):
        try:
            for _ in range(20):
                np.testing.assert_allclose(sess(xs[i]).numpy(), want[i], rtol=1e-5, atol=1e-6)
        except Exception as err:  # noqa: BLE001
            errors.append(err)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_gil_is_released_while_ort_runs():
    # A model that takes a while (repeated matmuls): a Python thread must make progress during one run.
    w = hy.randn(256, 256) * 0.05

    def slow(x):
        for _ in range(60):
            x = (x @ w).tanh()
        return x
    sess = hy.onnx.InferenceSession(export_bytes(slow, (hy.randn(512, 256),)), threads=1)
    x = hy.randn(512, 256)
    sess(x)
    start = time.perf_counter()
    sess(x)
    one_run = time.perf_counter() - start
    ticks = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            ticks[0] += 1
    t = threading.Thread(target=counter)
    t.start()
    try:
        time.sleep(0.01)
        before = ticks[0]
        sess(x)
        during = ticks[0] - before
    finally:
        stop.set()
        t.join()
    assert one_run > 0.005
    assert during > 100, f"the Python thread counted {during} times during a {one_run:.3f} s run"


def test_file_path_and_repr(tmp_path):
    path = tmp_path / "m.onnx"
    hy.onnx.export(_mlp(), (hy.randn(2, 8),), str(path), input_names=["x"], output_names=["y"])
    sess = hy.onnx.InferenceSession(path)
    assert "x: float32[2, 8]" in repr(sess) and sess.input_names == ["x"] and sess.output_names == ["y"]
    assert onnx.load(str(path)).graph.input[0].name == "x"
