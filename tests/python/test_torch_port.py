"""Faithful ports (issue 14): PyTorch programs, kept as text in torch_port/, run under hyflow with their torch
import lines changed (`import torch` -> `import hyflow as torch`, `import torch.nn as nn` -> `import
hyflow.nn as nn`, ...) and nothing else, and train to the same losses as under PyTorch, to rounding error.

* torch_port/mnist_cnn.py.txt, written for this test: CNN, DataLoader, Adadelta + StepLR, torch.save/
  torch.load of model, optimizer and scheduler state dicts, a resume into fresh objects, f-string logging of
  0-d tensors. Its data and initial weights come from NumPy, so both frameworks start from the same numbers;
  it writes its losses to losses.json.
* torch_port/time_sequence_prediction/: pytorch/examples' time_sequence_prediction as upstream has it
  (BSD license beside it): generate_sine_wave.py saves a NumPy array with torch.save to an open file;
  train.py loads it, builds two nn.LSTMCell and an nn.Linear, trains with LBFGS and a closure, predicts
  1000 steps under no_grad and plots them with matplotlib. It seeds torch's generator and lets the layers
  initialize themselves, and hyflow's generator draws other numbers, so torch_port/numpy_init_runner.py
  runs it with the layers' reset_parameters drawing from NumPy (the script itself untouched); its losses
  are read from what it prints.
"""
import difflib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import hyflow as hy

PORTS = pathlib.Path(__file__).parent / "torch_port"
SCRIPT = PORTS / "mnist_cnn.py.txt"
TSP = PORTS / "time_sequence_prediction"
TSP_SCRIPTS = [TSP / "generate_sine_wave.py.txt", TSP / "train.py.txt"]
RUNNER = PORTS / "numpy_init_runner.py"
TORCH_IMPORT, HYFLOW_IMPORT = "import torch", "import hyflow as torch"
# the one change a port makes: each torch import line -> hyflow's
IMPORTS = {TORCH_IMPORT: HYFLOW_IMPORT, "import torch.nn as nn": "import hyflow.nn as nn",
           "import torch.optim as optim": "import hyflow.optim as optim"}


def torch_import_lines(text):
    code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [line for line in code if "import" in line and "torch" in line]


def hyflow_version(text):
    imports = torch_import_lines(text)
    assert TORCH_IMPORT in imports, "the torch script must import torch"
    # no other way in for torch: `from torch ...` or an unlisted `import torch.x` would survive the swap
    assert all(line in IMPORTS for line in imports), imports
    return "".join(IMPORTS[line.rstrip("\n")] + "\n" if line.rstrip("\n") in IMPORTS else line
                   for line in text.splitlines(keepends=True))


def run_script(text, folder):
    folder.mkdir()
    path = folder / "train.py"
    path.write_text(text)
    done = subprocess.run([sys.executable, str(path), str(folder)], cwd=folder, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))
    assert done.returncode == 0, f"{folder.name} run failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return json.loads((folder / "losses.json").read_text()), done.stdout


@pytest.mark.parametrize("script", [SCRIPT] + TSP_SCRIPTS, ids=lambda p: p.name)
def test_a_port_differs_from_the_original_by_its_import_lines_only(script):
    original = script.read_text()
    changed = [line for line in difflib.ndiff(original.splitlines(), hyflow_version(original).splitlines())
               if line[:2] in ("- ", "+ ")]
    imports = torch_import_lines(original)
    assert sorted(changed) == sorted([f"- {line}" for line in imports] + [f"+ {IMPORTS[line]}" for line in imports])
    if script == SCRIPT:
        assert imports == [TORCH_IMPORT]


@pytest.fixture(scope="module")
def hyflow_run(tmp_path_factory):
    return run_script(hyflow_version(SCRIPT.read_text()), tmp_path_factory.mktemp("port") / "hyflow")


def test_the_script_runs_unchanged_under_hyflow_and_learns(hyflow_run):
    losses, stdout = hyflow_run
    assert len(losses["train"]) == 36 and len(losses["test"]) == 3      # 3 epochs of 12 batches
    assert losses["test"][-1][0] < 0.5 * losses["test"][0][0]           # it learns
    assert "Train Epoch: 1 [0/384]\tLoss: " in stdout                    # f"{loss:.6f}" on a 0-d tensor
    assert "lr after resume: 0.490000" in stdout                         # the scheduler resumed


def test_the_port_trains_to_the_torch_losses(hyflow_run, tmp_path):
    pytest.importorskip("torch")
    ours, _ = hyflow_run
    theirs, _ = run_script(SCRIPT.read_text(), tmp_path / "torch")
    # float32 training, kernels summing in other orders: rounding-level agreement, through the resume
    np.testing.assert_allclose(ours["train"], theirs["train"], rtol=2e-5)
    np.testing.assert_allclose([t[0] for t in ours["test"]], [t[0] for t in theirs["test"]], rtol=2e-5)
    assert [t[1] for t in ours["test"]] == [t[1] for t in theirs["test"]]  # correct predictions, exactly


def run_time_sequence_prediction(framework, folder):
    """Upstream's two scripts in `folder` (with hyflow's imports for hyflow): generate_sine_wave.py, then
    train.py --steps 1 --device cpu through the NumPy-initializing runner. -> (losses, test losses, stdout)."""
    folder.mkdir()
    for script in TSP_SCRIPTS:
        text = script.read_text()
        (folder / script.name[:-len(".txt")]).write_text(hyflow_version(text) if framework == "hyflow" else text)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if framework == "torch":
        # torch >= 2.6 loads with weights_only=True, which refuses the pickled NumPy array that upstream's
        # generate_sine_wave.py saves; this is torch's documented switch back, so upstream runs as it is
        env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"

    def run(*args):
        done = subprocess.run([sys.executable, *args], cwd=folder, capture_output=True, text=True, timeout=900,
                              env=env)
        assert done.returncode == 0, f"{framework} {args[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        return done.stdout
    run("generate_sine_wave.py")
    stdout = run(str(RUNNER), framework, "train.py", "--steps", "1", "--device", "cpu")
    losses = [float(line.split()[1]) for line in stdout.splitlines() if line.startswith("loss:")]
    test_losses = [float(line.split()[2]) for line in stdout.splitlines() if line.startswith("test loss:")]
    return losses, test_losses, stdout


@pytest.fixture(scope="module")
def tsp_hyflow_run(tmp_path_factory):
    pytest.importorskip("matplotlib", reason="upstream's train.py plots with matplotlib")
    folder = tmp_path_factory.mktemp("time_sequence_prediction") / "hyflow"
    return run_time_sequence_prediction("hyflow", folder), folder


def test_upstream_time_sequence_prediction_runs_unchanged_under_hyflow_and_learns(tsp_hyflow_run):
    (losses, test_losses, stdout), folder = tsp_hyflow_run
    assert stdout.startswith("STEP:  0\n")
    assert len(losses) == 20 and len(test_losses) == 1  # LBFGS's 20 iterations (one closure call each)
    assert losses[-1] < 0.01 * losses[0] and test_losses[0] < 0.01
    assert (folder / "predict0.pdf").stat().st_size > 0  # the prediction was plotted
    data = hy.load(folder / "traindata.pt")  # torch.save(ndarray, open(...)) became hy.save: an array again
    assert type(data) is np.ndarray and data.shape == (100, 1000) and data.dtype == np.float64


def test_upstream_time_sequence_prediction_trains_to_the_torch_losses(tsp_hyflow_run, tmp_path):
    pytest.importorskip("torch")
    (ours, our_test, _), _ = tsp_hyflow_run
    theirs, their_test, _ = run_time_sequence_prediction("torch", tmp_path / "torch")
    # float64 throughout: 20 LBFGS steps through 999 LSTM time steps agree to ~1e-12
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    np.testing.assert_allclose(our_test, their_test, rtol=1e-9)
