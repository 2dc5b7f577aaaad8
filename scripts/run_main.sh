#!/usr/bin/env bash
# Set everything up, then run hyflow's main job: the climate example (examples/climate/climate.py), a
# shallow-water model coupled online to an ML surrogate by a hyflow workflow, in one process. It prints
# a summary with PASS/FAIL checks and writes out/climate/{climate.png,summary.json,trace.json,...}.
# Extra arguments go to the example (e.g. --nx 128 --ny 128 --steps 6000 --switch-step 4000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

hy_setup
hy_install_hyflow
cd "$HY_ROOT"
hy_log "running examples/climate/climate.py $*"
exec python examples/climate/climate.py "$@"
