"""hy.onnx.export: whole models against eager through ONNX Runtime, the error listing every problem, dynamic
axes, opset choice, external data, atomic writes, argument checks."""
import io
import os
import sys

import numpy as np
import pytest

from _ort import require, export_bytes, ort_run, to_numpy

require()

import onnx  # noqa: E402

import hyflow as hy  # noqa: E402
import hyflow.nn as nn  # noqa: E402
import hyflow.onnx  # noqa: E402,F401
from hyflow.onnx import _export as export_mod  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CLIMATE = os.path.join(HERE, "..", "..", "..", "examples", "climate")


def _check_model(model, inputs, rtol=1e-4, atol=1e-5, **kwargs):
    data = export_bytes(model, tuple(inputs), **kwargs)
    got = ort_run(data, [to_numpy(x) for x in inputs])
    model.eval()
    with hy.no_grad():
        want = model(*inputs)
    want = list(want) if isinstance(want, (tuple, list)) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == to_numpy(w).dtype and g.shape == tuple(w.shape)
        np.testing.assert_allclose(g, to_numpy(w), rtol=rtol, atol=atol)
    return data


def test_mlp_matches_eager():
    gen = hy.Generator(seed=0)
    model = nn.Sequential(nn.Linear(16, 32, generator=gen), nn.ReLU(), nn.Linear(32, 32, generator=gen), nn.Tanh(),
                          nn.Linear(32, 4, generator=gen))
    data = _check_model(model, [hy.randn(8, 16)])
    names = {i.name for i in onnx.load_from_string(data).graph.initializer}
    assert {"0.weight", "0.bias", "2.weight", "4.bias"} <= names  # parameters by module path


def test_cnn_matches_eager():
    gen = hy.Generator(seed=1)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, generator=gen), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 4, 3, stride=2, generator=gen), nn.GELU(), nn.Flatten(),
                          nn.Linear(4 * 3 * 3, 5, generator=gen))
    _check_model(model, [hy.randn(2, 3, 16, 16)])


def test_transposed_conv_decoder_matches_eager():
    gen = hy.Generator(seed=2)
    model = nn.Sequential(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, generator=gen), nn.ReLU(),
                          nn.ConvTranspose2d(6, 2, 2, groups=2, dilation=3, output_padding=2, generator=gen))
    data = _check_model(model, [hy.randn(2, 4, 5, 5)])
    assert "ConvTranspose" in {n.op_type for n in onnx.load_from_string(data).graph.node}


def test_transformer_block_matches_eager():
    hy.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
    _check_model(layer, [hy.randn(2, 5, 16)], rtol=1e-4, atol=1e-4)


def test_climate_surrogate_matches_eager():
    sys.path.insert(0, CLIMATE)
    try:
        import surrogate
    finally:
        sys.path.remove(CLIMATE)
    model = surrogate.make_model(seed=3, hidden=16)
    rows = hy.randn(50, surrogate.PATCH_FEATURES)
    model.set_normalisation(rows, hy.randn(50, surrogate.OUTPUTS))
    _check_model(model, [rows])


def test_dynamic_batch_axis():
    gen = hy.Generator(seed=2)
    model = nn.Sequential(nn.Linear(6, 8, generator=gen), nn.GELU(), nn.Linear(8, 2, generator=gen))
    data = export_bytes(model, (hy.randn(4, 6),), input_names=["x"], output_names=["y"],
                        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    m = onnx.load_from_string(data)
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert m.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for n in (1, 4, 33):
        x = hy.randn(n, 6)
        (y,) = ort_run(data, [to_numpy(x)])
        with hy.no_grad():
            np.testing.assert_allclose(y, to_numpy(model(x)), rtol=1e-5, atol=1e-6)


def test_dynamic_axes_through_reshape_and_flatten():
    def fn(x):
        return x.reshape(x.shape[0], 3, 4).sum(2).flatten()
    data = export_bytes(fn, (hy.randn(2, 12),), input_names=["x"], dynamic_axes={"x": [0]})
    x = hy.randn(5, 12)
    (y,) = ort_run(data, [to_numpy(x)])
    np.testing.assert_allclose(y, to_numpy(fn(x)), rtol=1e-5, atol=1e-6)


def test_sizes_computed_from_a_dynamic_axis_follow_it():
    # b * 4 is computed in Python from x.shape[0]: a second trace shows it follows the batch size
    def fn(x):
        b = x.shape[0]
        y = x.reshape(b * 4, 3).exp()
        z = hy.zeros(b, 1) + 1
        return y.reshape(b, 12) * z, y.sum(1).reshape(b, 4)
    data = export_bytes(fn, (hy.randn(2, 12),), input_names=["x"], output_names=["y", "s"],
                        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}, "s": {0: "batch"}})
    for n in (1, 2, 5):
        x = hy.randn(n, 12)
        got = ort_run(data, [to_numpy(x)])
        for g, w in zip(got, fn(x)):
            np.testing.assert_allclose(g, to_numpy(w), rtol=1e-5, atol=1e-6)


def test_transformer_block_with_dynamic_batch_and_sequence():
    hy.manual_seed(1)
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True).eval()
    data = export_bytes(layer, (hy.randn(2, 5, 16),), input_names=["x"], output_names=["y"],
                        dynamic_axes={"x": {0: "b", 1: "s"}, "y": {0: "b", 1: "s"}})
    for shape in [(3, 5, 16), (1, 9, 16)]:
        x = hy.randn(*shape)
        (y,) = ort_run(data, [to_numpy(x)])
        with hy.no_grad():
            np.testing.assert_allclose(y, to_numpy(layer(x)), rtol=1e-4, atol=1e-4)


def test_export_error_lists_every_problem_with_its_line():
    hy.ops.define("onnx_test_twice(Tensor x) -> Tensor")

    @hy.ops.impl("onnx_test_twice", "cpu")
    def _twice(x):
        return x * 2

    def fn(x):
        a = hy.ops.onnx_test_twice(x)                 # a user op
        b = hy.ops.laplacian(a, 1)                # an op without ONNX mapping
        c = float(b.sum())                            # a graph break: data read in Python
        return b * c

    with pytest.raises(hy.onnx.ExportError) as info:
        export_bytes(fn, (hy.randn(8),))
    problems = info.value.problems
    whats = " | ".join(w for w, _ in problems)
    assert "onnx_test_twice: user-defined op" in whats
    assert "laplacian: no ONNX mapping" in whats
    assert "graph break" in whats
    here = os.path.basename(__file__)
    lines = {w.split(":")[0]: where for w, where in problems}
    assert lines["onnx_test_twice"].endswith(f"{here}:{_line_of('a = hy.ops.onnx_test_twice(x)')}")
    assert lines["laplacian"].endswith(f"{here}:{_line_of('b = hy.ops.laplacian(a, 1)')}")
    assert str(info.value).count("\n") == len(problems)  # one line per problem


def _line_of(text):
    with open(__file__) as fh:
        for i, line in enumerate(fh, 1):
            if text in line and "_line_of" not in line:
                return i
    raise AssertionError(text)


def test_in_place_write_into_parameter_is_refused():
    w = hy.ones(3)

    def fn(x):
        w.add_(x)
        return w * 2

    with pytest.raises(hy.onnx.ExportError, match="in-place write"):
        export_bytes(fn, (hy.randn(3),))


def test_in_place_op_on_fresh_tensor_exports():
    def fn(x):
        y = x * 2
        y.add_(1)
        return y.relu_()

    x = hy.randn(6)
    (got,) = ort_run(export_bytes(fn, (x,)), [to_numpy(x)])
    np.testing.assert_allclose(got, to_numpy(fn(x)), rtol=1e-6)


def test_opset_default_and_choice():
    fn = lambda x: (x * 2).sum(0)  # noqa: E731
    m = onnx.load_from_string(export_bytes(fn, (hy.randn(3, 2),)))
    assert m.opset_import[0].version == hy.onnx.max_opset()
    m18 = onnx.load_from_string(export_bytes(fn, (hy.randn(3, 2),), opset=18))
    assert m18.opset_import[0].version == 18
    with pytest.raises(ValueError, match="opset"):
        export_bytes(fn, (hy.randn(3, 2),), opset=7)
    with pytest.raises(TypeError, match="opset"):
        export_bytes(fn, (hy.randn(3, 2),), opset="18")


def test_gelu_below_opset_20_is_decomposed():
    x = hy.randn(10)
    data = export_bytes(lambda t: hy.nn.functional.gelu(t), (x,), opset=19)
    assert "Gelu" not in {n.op_type for n in onnx.load_from_string(data).graph.node}
    (y,) = ort_run(data, [to_numpy(x)])
    np.testing.assert_allclose(y, to_numpy(hy.nn.functional.gelu(x)), rtol=1e-5, atol=1e-6)


def test_external_data_with_small_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(export_mod, "EXTERNAL_DATA_THRESHOLD", 1000)  # "large" = more than 1000 bytes
    gen = hy.Generator(seed=4)
    model = nn.Sequential(nn.Linear(32, 64, generator=gen), nn.ReLU(), nn.Linear(64, 2, generator=gen))
    path = tmp_path / "big.onnx"
    hy.onnx.export(model, (hy.randn(3, 32),), str(path))
    assert (tmp_path / "big.onnx.data").exists()
    assert path.stat().st_size < 4 * 32 * 64  # the weights are not inside the model file
    x = hy.randn(3, 32)
    (y,) = ort_run(str(path), [to_numpy(x)])
    with hy.no_grad():
        np.testing.assert_allclose(y, to_numpy(model(x)), rtol=1e-5, atol=1e-6)
    assert sorted(os.listdir(tmp_path)) == ["big.onnx", "big.onnx.data"]  # no temp left behind


def test_external_data_forced_and_refused():
    with pytest.raises(ValueError, match="path"):
        hy.onnx.export(lambda x: x + 1, (hy.randn(2),), io.BytesIO(), external_data=True)
    with pytest.raises(TypeError, match="external_data"):
        hy.onnx.export(lambda x: x + 1, (hy.randn(2),), io.BytesIO(), external_data="yes")


def test_write_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    hy.onnx.export(lambda x: x * 3, (hy.randn(2),), str(path))
    onnx.checker.check_model(str(path))
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_bad_arguments():
    fn = lambda x: x + 1  # noqa: E731
    with pytest.raises(ValueError, match="input_names"):
        export_bytes(fn, (hy.randn(2),), input_names=["a", "b"])
    with pytest.raises(ValueError, match="dynamic_axes"):
        export_bytes(fn, (hy.randn(2),), dynamic_axes={"nope": [0]})
    with pytest.raises(TypeError, match="model_or_fn"):
        export_bytes(42, (hy.randn(2),))
    with pytest.raises(TypeError, match="args"):
        export_bytes(fn, (object(),))


def test_module_training_mode_restored():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train()
    export_bytes(model, (hy.randn(3, 2),))
    assert model.training and model[1].training


def test_every_table_mapping_names_an_onnx_operator():
    bad = []
    for name in hy.ops.list_ops():
        spec = hy.ops.onnx_spec(name)
        if spec and not onnx.defs.has(spec["op"], spec["domain"]):
            bad.append(f"{name}: {spec['op']}")
    assert not bad, bad
