"""A faithful port (issue 14): a small PyTorch training script, kept as text in torch_port/, runs under
hyflow with its one import line changed (`import torch` -> `import hyflow as torch`) and nothing else,
and trains to the same losses as under PyTorch, to rounding error.

The script (torch_port/mnist_cnn.py.txt) is the torch original: CNN, DataLoader, Adadelta + StepLR,
torch.save/torch.load of model, optimizer and scheduler state dicts, a resume into fresh objects,
f-string logging of 0-d tensors. Its data and initial weights come from NumPy, so both frameworks start
from the same numbers; it writes its losses to losses.json.
"""
import difflib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = pathlib.Path(__file__).parent / "torch_port" / "mnist_cnn.py.txt"
TORCH_IMPORT, HYFLOW_IMPORT = "import torch", "import hyflow as torch"


def hyflow_version(text):
    lines = text.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.rstrip("\n") == TORCH_IMPORT]
    assert len(hits) == 1, "the torch script must import torch on exactly one line"
    lines[hits[0]] = HYFLOW_IMPORT + "\n"
    return "".join(lines)


def run_script(text, folder):
    folder.mkdir()
    path = folder / "train.py"
    path.write_text(text)
    done = subprocess.run([sys.executable, str(path), str(folder)], cwd=folder, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))
    assert done.returncode == 0, f"{folder.name} run failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return json.loads((folder / "losses.json").read_text()), done.stdout


def test_the_port_differs_from_the_original_by_its_import_line_only():
    original = SCRIPT.read_text()
    changed = [line for line in difflib.ndiff(original.splitlines(), hyflow_version(original).splitlines())
               if line[:2] in ("- ", "+ ")]
    assert changed == [f"- {TORCH_IMPORT}", f"+ {HYFLOW_IMPORT}"]
    # no second way in for torch: `import torch.nn`, `from torch ...` would survive the substitution
    code = [line for line in original.splitlines() if not line.lstrip().startswith("#")]
    assert [line for line in code if "import" in line and "torch" in line] == [TORCH_IMPORT]


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
