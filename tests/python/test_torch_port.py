"""Faithful ports (issue 14): PyTorch programs, kept as text in torch_port/, run under hyflow with their torch
import lines changed (`import torch` -> `import hyflow as torch`, `import torch.nn as nn` -> `import
hyflow.nn as nn`, ...) and nothing else, and train to the same losses as under PyTorch, to rounding error.

* torch_port/mnist_cnn.py.txt, written for this test: CNN, DataLoader, Adadelta + StepLR, torch.save/
  torch.load of model, optimizer and scheduler state dicts, a resume into fresh objects, f-string logging of
  0-d tensors. Its data and initial weights come from NumPy, so both frameworks start from the same numbers;
  it writes its losses to losses.json.
* torch_port/sine_lstm/, written for this test in the style of a classic PyTorch example: make_data.py
  saves a NumPy array with torch.save to an open file; train.py loads it, builds two nn.LSTMCell and an
  nn.Linear in float64, trains with LBFGS and a closure, and predicts past the end of held-out waves under
  no_grad. It lets the layers initialize themselves, and hyflow's generator draws other numbers than
  torch's, so torch_port/numpy_init_runner.py runs it with the layers' reset_parameters drawing from NumPy
  (the script itself untouched).
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
SINE = PORTS / "sine_lstm"
SINE_SCRIPTS = [SINE / "make_data.py.txt", SINE / "train.py.txt"]
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


@pytest.mark.parametrize("script", [SCRIPT] + SINE_SCRIPTS, ids=lambda p: p.name)
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


def run_sine_lstm(framework, folder):
    """The two scripts in `folder` (with hyflow's imports for hyflow): make_data.py, then train.py through
    the NumPy-initializing runner. -> (losses.json's content, stdout)."""
    folder.mkdir()
    for script in SINE_SCRIPTS:
        text = script.read_text()
        (folder / script.name[:-len(".txt")]).write_text(hyflow_version(text) if framework == "hyflow" else text)
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def run(*args):
        done = subprocess.run([sys.executable, *args], cwd=folder, capture_output=True, text=True, timeout=600,
                              env=env)
        assert done.returncode == 0, f"{framework} {args[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        return done.stdout
    run("make_data.py")
    stdout = run(str(RUNNER), framework, "train.py", "--steps", "2")
    return json.loads((folder / "losses.json").read_text()), stdout


@pytest.fixture(scope="module")
def sine_hyflow_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sine_lstm") / "hyflow"
    return run_sine_lstm("hyflow", folder), folder


def test_the_lstm_lbfgs_script_runs_unchanged_under_hyflow_and_learns(sine_hyflow_run):
    (losses, stdout), folder = sine_hyflow_run
    assert stdout.startswith("step 0\n")
    assert len(losses["train"]) == 40 and len(losses["test"]) == 2   # 20 closure calls per LBFGS step
    assert losses["train"][-1] < 0.05 * losses["train"][0] and losses["test"][-1] < losses["test"][0]
    pred = np.load(folder / "prediction1.npy")
    assert pred.shape == (3, 399 + 200) and np.isfinite(pred).all()
    data = hy.load(folder / "sines.pt")  # torch.save(ndarray, open(...)) became hy.save: an array again
    assert type(data) is np.ndarray and data.shape == (40, 400) and data.dtype == np.float64


def test_the_lstm_lbfgs_script_trains_to_the_torch_losses(sine_hyflow_run, tmp_path):
    pytest.importorskip("torch")
    (ours, _), _ = sine_hyflow_run
    theirs, _ = run_sine_lstm("torch", tmp_path / "torch")
    # float64 throughout: 40 L-BFGS closure calls through 399 LSTM time steps agree to rounding error
    np.testing.assert_allclose(ours["train"], theirs["train"], rtol=1e-9)
    np.testing.assert_allclose(ours["test"], theirs["test"], rtol=1e-9)
