#!/usr/bin/env bash
# One command on a GPU machine (< 8 minutes on one GPU): build with the CUDA backend, run the GPU test
# subset (NCCL on one rank, then on every GPU), the GPU benchmarks (bench_cuda.py, bench_nccl.py under
# mpirun -n <GPUs>), and append the output to docs/cuda.md ("GPU check results").
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
  (cd tests/python && timeout 300 "$PY" -m pytest -q -p no:cacheprovider cuda test_cuda_build.py \
     --ignore=cuda/test_nccl_multi.py 2>&1 | tail -n 40)
  gpus="$("$PY" -c "import hyflow as hy; print(hy.cuda.device_count() if hy.cuda.is_available() else 0)")"
  if command -v mpirun >/dev/null; then
    # NCCL bootstrapped over MPI (one rank: every GPU-side call is real, only the peers are missing).
    (cd tests/python && timeout 120 mpirun --allow-run-as-root --oversubscribe -n 1 "$PY" -m pytest -q \
       -p no:cacheprovider cuda/test_nccl.py 2>&1 | tail -n 5)
    # The NCCL worker under mpirun -n 1, and with more than one GPU on every GPU plus the dead-peer case
    # (a plain pytest process: it launches mpirun itself).
    echo "GPUs: $gpus"
    (cd tests/python && timeout 240 "$PY" -m pytest -q -rs -p no:cacheprovider cuda/test_nccl_multi.py 2>&1 \
       | tail -n 15)
  fi
  # Benchmarks: ratio tables here, JSON in benchmarks/results/ (cuda.json, nccl_allreduce_n<N>.json).
  timeout 120 "$PY" benchmarks/bench_cuda.py 2>&1
  if command -v mpirun >/dev/null && [[ "${gpus:-0}" -ge 1 ]]; then
    timeout 120 mpirun --allow-run-as-root --oversubscribe --bind-to none -n "$gpus" "$PY" benchmarks/bench_nccl.py 2>&1
  else
    timeout 120 "$PY" benchmarks/bench_nccl.py 2>&1
  fi
  echo '```'
} 2>&1 | tee "$log"
if [[ "${HYFLOW_GPU_CHECK_NO_DOC:-0}" != 1 ]]; then
  cat "$log" >>docs/cuda.md
fi
rm -f "$log"
