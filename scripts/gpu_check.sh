#!/usr/bin/env bash
# One command on a GPU machine (< 8 minutes on one GPU): build with the CUDA backend, run the GPU test
# subset and the GPU benchmarks, and append the output to docs/cuda.md ("GPU check results").
#   bash scripts/gpu_check.sh            # HYFLOW_GPU_CHECK_NO_DOC=1: do not touch docs/cuda.md
# Needs the build environment of scripts/_common.sh (PYTHON= picks its interpreter, e.g. .venv/bin/python);
# with HYFLOW_CUDA_WHEELS=1 that setup also installs cuBLAS, cuFFT, cuSOLVER and NCCL.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
BUILD="${HYFLOW_GPU_BUILD_DIR:-$ROOT/build/gpu-check}"
log="$(mktemp)"
{
  echo "### $(date -u '+%Y-%m-%d %H:%M UTC') on $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n1)"
  echo '```'
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
  # The archs of this GPU only: a check run needs no fat binary (the default build keeps sm_80;sm_90+PTX).
  arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d .)"
  cmake -S . -B "$BUILD" -G Ninja -DPython_EXECUTABLE="$(command -v "$PY")" -DCMAKE_BUILD_TYPE=Release \
        -DHYFLOW_CUDA=ON ${arch:+-DHYFLOW_CUDA_ARCHS=$arch} >/dev/null && ninja -C "$BUILD" -j"$(nproc)" >/dev/null \
    || { echo "BUILD FAILED"; ninja -C "$BUILD" 2>&1 | tail -n 40; }
  export HYFLOW_BUILD_DIR="$BUILD/pkg" PYTHONPATH="$ROOT/python"
  "$PY" -c "import hyflow as hy, json; i = hy.build_info(); print(json.dumps({k: i[k] for k in i if 'cuda' in k or k in ('nccl', 'cublas', 'cufft', 'cusolver', 'devices')}))"
  (cd tests/python && timeout 300 "$PY" -m pytest -q -p no:cacheprovider cuda test_cuda_build.py 2>&1 | tail -n 40)
  # NCCL bootstrapped over MPI (one rank: every GPU-side call is real, only the peers are missing).
  if command -v mpirun >/dev/null; then
    (cd tests/python && timeout 120 mpirun --allow-run-as-root --oversubscribe -n 1 "$PY" -m pytest -q \
       -p no:cacheprovider cuda/test_nccl.py 2>&1 | tail -n 5)
  fi
  timeout 120 "$PY" benchmarks/bench_cuda.py 2>&1
  echo '```'
} 2>&1 | tee "$log"
if [[ "${HYFLOW_GPU_CHECK_NO_DOC:-0}" != 1 ]]; then
  cat "$log" >>docs/cuda.md
fi
rm -f "$log"
