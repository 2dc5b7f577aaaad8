#!/usr/bin/env bash
# Set everything up, then run hyflow's main job. For now that is the tensor demo
# (examples/tensor_demo.py); extra arguments are passed to it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

hy_setup
hy_install_hyflow
cd "$HY_ROOT"
hy_log "running examples/tensor_demo.py"
exec python examples/tensor_demo.py "$@"
