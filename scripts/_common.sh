# Shared set-up for scripts/run_main.sh and scripts/test.sh (sourced, not run). Every step is
# idempotent and cheap when already done: system packages are checked with dpkg before apt is
# touched, the virtualenv is reused, Python deps are re-installed only when their list changes,
# and hyflow rebuilds incrementally in build/{wheel_tag} (plus ccache across clean clones).

HY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HY_VENV="${HY_VENV:-$HY_ROOT/.venv}"

# Debian packages the native build and the tests need.
HY_APT_PACKAGES=(build-essential cmake ninja-build ccache libeigen3-dev libtbb-dev libopenblas-dev
                 libgtest-dev googletest libopenmpi-dev openmpi-bin python3-dev python3-venv pkg-config
                 libdnnl-dev)  # libdnnl-dev: oneDNN for bf16 matmul (CMake HYFLOW_ONEDNN=AUTO)
# Python packages for building (no build isolation) and testing.
HY_PIP_PACKAGES=(numpy pytest hypothesis pyyaml tqdm matplotlib scikit-build-core pybind11 ninja)
# Test references only (mpi4py builds against the system Open MPI; mypy checks the type stubs; dask/distributed for
# hyflow.ensemble's Dask executor; onnx/onnxruntime(-extensions) for hyflow.onnx): tests that need them skip when they
# are missing, so a failed install warns.
HY_PIP_OPTIONAL=(torch==2.13.0 safetensors mpi4py mypy dask distributed onnx onnxruntime onnxruntime-extensions)
# cuBLAS, cuFFT, cuSOLVER and NCCL for the CUDA backend (docs/cuda.md): 444 MB + 165 MB (+ 47 MB of nvJitLink,
# which libcufft and libcusolver load at run time) + 260 MB (+ 230 MB of cuSPARSE, which libcusolver links) +
# 207 MB of downloads (~1.6 GB installed).
# HYFLOW_CUDA_WHEELS=1 always, 0 never, auto where a CUDA toolkit (nvcc) is found. The test command sets
# auto, so a CPU-only CI machine with the toolkit proves that the cuBLAS, cuFFT and cuSOLVER calls and the NCCL
# communicator compile and link; the main job's setup leaves them out (0) unless asked.
_hy_cuda_wheels="${HYFLOW_CUDA_WHEELS:-0}"
if [[ "$_hy_cuda_wheels" == auto ]]; then
  if command -v nvcc >/dev/null 2>&1; then _hy_cuda_wheels=1; else _hy_cuda_wheels=0; fi
fi
HY_PIP_CUDA=()
if [[ "$_hy_cuda_wheels" == 1 ]]; then
  HY_PIP_CUDA=(nvidia-cublas nvidia-cufft nvidia-cusolver nvidia-nccl-cu13)
fi

if [[ -t 2 ]]; then _hy_b=$'\033[1m' _hy_r=$'\033[1;31m' _hy_0=$'\033[0m'; else _hy_b='' _hy_r='' _hy_0=''; fi
hy_log() { printf '%s[hyflow]%s %s\n' "$_hy_b" "$_hy_0" "$*" >&2; }
hy_die() { printf '%s[hyflow] error:%s %s\n' "$_hy_r" "$_hy_0" "$*" >&2; exit 1; }

hy_ensure_system_packages() {
  local missing=() p
  if command -v dpkg >/dev/null 2>&1; then
    for p in "${HY_APT_PACKAGES[@]}"; do
      dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
  else
    hy_log "dpkg not found: not a Debian-like system; assuming the build tools are installed"
  fi
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    hy_die "missing system packages: ${missing[*]}
  install them as root:  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  fi
  hy_log "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "${missing[@]}"
}

# The interpreter the virtualenv is made from: $PYTHON, else python3 on PATH (system or pyenv).
hy_base_python() {
  local py="${PYTHON:-python3}"
  command -v "$py" >/dev/null 2>&1 || hy_die "no '$py' on PATH; install python3 or set PYTHON=/path/to/python"
  echo "$py"
}

hy_ensure_venv() {
  if [[ ! -x "$HY_VENV/bin/python" ]] || ! "$HY_VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    local base
    base="$(hy_base_python)"
    hy_log "creating virtualenv $HY_VENV with $("$base" --version 2>&1)"
    rm -rf "$HY_VENV"
    "$base" -m venv "$HY_VENV" || hy_die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  fi
  # shellcheck disable=SC1091
  source "$HY_VENV/bin/activate"
  # A stale developer override would make `import hyflow` load a CMake build instead of the install.
  unset HYFLOW_BUILD_DIR PYTHONPATH PYTHONHOME
  local stamp="$HY_VENV/.hyflow-deps" want
  want="$(printf '%s\n' "${HY_PIP_PACKAGES[@]}" "${HY_PIP_OPTIONAL[@]}" "${HY_PIP_CUDA[@]}")"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    hy_log "installing Python packages: ${HY_PIP_PACKAGES[*]} ${HY_PIP_OPTIONAL[*]}"
    python -m pip install "${HY_PIP_PACKAGES[@]}" || hy_die "pip install of the Python packages failed"
    python -m pip install "${HY_PIP_OPTIONAL[@]}" \
      || hy_log "warning: could not install ${HY_PIP_OPTIONAL[*]}; tests that compare against it will skip" \
                "(delete $stamp to retry)"
    if ((${#HY_PIP_CUDA[@]})); then  # apart from the others: their failure must not cost torch & co.
      python -m pip install "${HY_PIP_CUDA[@]}" \
        || hy_log "warning: could not install ${HY_PIP_CUDA[*]};" \
                  "the CUDA backend is built without cuBLAS/cuFFT/cuSOLVER/NCCL"
    fi
    printf '%s\n' "$want" >"$stamp"
  fi
}

hy_setup_ccache() {
  export CCACHE_BASEDIR="$HY_ROOT"  # relative paths: clones in other folders share cache hits
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
  export CCACHE_NOHASHDIR=1
  mkdir -p "$CCACHE_DIR"
}

# Build and install hyflow into the virtualenv; extra args are passed to pip (e.g. -C... defines).
hy_install_hyflow() {
  hy_setup_ccache
  local log="$HY_ROOT/build/pip-install.log"
  mkdir -p "$HY_ROOT/build"
  hy_log "building and installing hyflow (incremental; log: ${log#"$HY_ROOT"/})"
  local t0=$SECONDS
  # The log keeps pip's and CMake's full output; the terminal gets ninja's "[n/N] ..." progress lines.
  if ! (cd "$HY_ROOT" && python -m pip install --no-build-isolation --no-deps -v "$@" . 2>&1) | tee "$log" \
      | { grep --line-buffered -E '^ *\[[0-9]+/[0-9]+\] ' >&2 || true; }; then
    tail -n 60 "$log" >&2
    hy_die "building hyflow failed (full log: $log)"
  fi
  hy_log "hyflow installed in $((SECONDS - t0))s: $(cd /tmp && python -c 'import hyflow; print(hyflow.__file__)')"
}

# build/{wheel_tag} of the running interpreter, named the way scikit-build-core names it.
hy_wheel_build_dir() {
  local tag
  tag="$(python -c 'import packaging.tags as t
p = next(p for p in t.sys_tags() if "manylinux" not in p.platform and "musllinux" not in p.platform)
print(f"{p.interpreter}-{p.abi}-{p.platform}")')"
  echo "$HY_ROOT/build/$tag"
}

hy_setup() {
  hy_ensure_system_packages
  hy_ensure_venv
}
