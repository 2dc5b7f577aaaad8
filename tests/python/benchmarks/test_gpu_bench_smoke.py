"""benchmarks/bench_cuda.py and bench_nccl.py on a machine without a GPU: they say they skip and exit 0
(scripts/gpu_check.sh runs them for real); and the training steps bench_cuda.py times drive hyflow and
torch with the same code (one step of each model on the CPU)."""
import math
import os
import subprocess
import sys

import pytest

import hyflow as hy

BENCH_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
sys.path.insert(0, BENCH_DIR)

import bench_cuda  # noqa: E402

without_gpu = pytest.mark.skipif(hy.cuda.is_available(), reason="a GPU is present: scripts/gpu_check.sh runs these")


@without_gpu
@pytest.mark.parametrize("script", ["bench_cuda.py", "bench_nccl.py"])
def test_benchmark_skips_without_cuda(script, tmp_path):
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, os.path.join(BENCH_DIR, script), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"{script[:-3]}: skipped, CUDA is not available" in proc.stdout
    assert not out.exists()  # nothing measured, nothing written


@pytest.mark.parametrize("build,optimizer,shape", [(bench_cuda.mlp, "SGD", (8, 784)), (bench_cuda.mlp, "Adam", (8, 784)),
                                                   (bench_cuda.cnn, "SGD", (2, 3, 32, 32))],
                         ids=["mlp-sgd", "mlp-adam", "cnn-sgd"])
def test_training_step_drives_hyflow_and_torch_alike(build, optimizer, shape):
    libs = [hy]
    try:
        import torch
        libs.append(torch)
    except ImportError:
        pass
    for lib in libs:
        step = bench_cuda.training_step(lib, build, optimizer, shape, device="cpu")
        first, second = step().item(), step().item()
        assert math.isfinite(first) and math.isfinite(second), lib.__name__
        assert first != second, f"{lib.__name__}: the step did not change the model"
