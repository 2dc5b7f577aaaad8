"""examples/climate with --surrogate-runtime ort: the surrogate's inference runs in ONNX Runtime after each
training; the run matches the eager surrogate's and leaves the trained model as surrogate.onnx."""
import json
import os
import sys

import numpy as np
import pytest

from _ort import require

require()

import hyflow as hy  # noqa: E402

EXAMPLE_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "climate")
sys.path.insert(0, EXAMPLE_DIR)
import climate  # noqa: E402
import coupling  # noqa: E402

TINY = ["--nx", "16", "--ny", "16", "--steps", "60", "--train-every", "10", "--switch-step", "40",
        "--diag-every", "5", "--no-plot", "--no-progress", "--max-surrogate-error", "1.0"]


@pytest.mark.parametrize("engine", ["loop", "workflow"])
def test_surrogate_through_ort_matches_eager(tmp_path, engine):
    eager, ort = tmp_path / "eager", tmp_path / "ort"
    assert climate.main(TINY + ["--engine", engine, "--out", str(eager)]) == 0
    assert climate.main(TINY + ["--engine", engine, "--out", str(ort), "--surrogate-runtime", "ort"]) == 0
    a = json.loads((eager / "summary.json").read_text())
    b = json.loads((ort / "summary.json").read_text())
    assert b["surrogate_runtime"] == "ort" and b["surrogate_steps"] == a["surrogate_steps"] == 20
    np.testing.assert_allclose(b["surrogate_error"], a["surrogate_error"], rtol=1e-3)
    np.testing.assert_allclose(b["energy_ratio"], a["energy_ratio"], rtol=1e-6)
    # the trained surrogate, exported: ORT on it equals the eager model on the same rows
    sess = hy.onnx.InferenceSession(str(ort / "surrogate.onnx"))
    import surrogate as sg
    model = sg.make_model(hidden=32)
    model.load_state_dict(hy.load(str(ort / "surrogate.safetensors")))
    rows = hy.randn(100, sg.PATCH_FEATURES)
    with hy.no_grad():
        np.testing.assert_allclose(sess(rows).numpy(), model.eval()(rows).numpy(), rtol=1e-4, atol=1e-5)


def test_bad_runtime_is_refused():
    with pytest.raises(ValueError, match="surrogate_runtime"):
        coupling.RunConfig(surrogate_runtime="tensorrt")
