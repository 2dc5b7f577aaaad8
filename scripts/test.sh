#!/usr/bin/env bash
# Set everything up, then run the whole test suite: pytest over tests/python against the installed
# package, and the C++ GoogleTest suite through ctest from the same build. Extra arguments go to
# pytest (e.g. `bash scripts/test.sh -k dispatch -x`). Exits non-zero when anything failed.
# Then it runs scripts/sanitize.sh (ASan + UBSan build, its ctest and a fast Python subset;
# docs/development.md "Sanitizers"); HYFLOW_TEST_SANITIZE=0 skips that part (a quicker local loop).
set -euo pipefail
# cuBLAS, cuFFT and NCCL wheels where a CUDA toolkit is found (scripts/_common.sh): CI proves the CUDA
# backend's cuBLAS, cuFFT and NCCL code compiles and links even without a GPU.
export HYFLOW_CUDA_WHEELS="${HYFLOW_CUDA_WHEELS:-auto}"
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

t_start=$SECONDS
hy_setup
hy_install_hyflow -Ccmake.define.HYFLOW_BUILD_TESTS=ON
build_dir="$(hy_wheel_build_dir)"
logs="$HY_ROOT/build/test-logs"
mkdir -p "$logs"

# From tests/python, `import hyflow` can only find the installed package (the source tree's
# python/hyflow has no _C), so the tests exercise exactly what users get.
hy_log "pytest tests/python"
py_rc=0
(cd "$HY_ROOT/tests/python" && python -m pytest -q -p no:cacheprovider "$@") 2>&1 | tee "$logs/pytest.log" \
  || py_rc=${PIPESTATUS[0]}
if [[ $py_rc -eq 5 ]]; then
  hy_log "warning: pytest collected no tests"
  py_rc=0
fi
py_summary="$(grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected)|no tests ran' "$logs/pytest.log" | tail -n 1 \
  | tr -d '=' | sed 's/^ *//; s/ *$//' || true)"

hy_log "ctest (C++ GoogleTest suite) in ${build_dir#"$HY_ROOT"/}"
cpp_rc=0
if [[ -f "$build_dir/tests/cpp/CTestTestfile.cmake" ]]; then
  # One line per test case goes to the log; the terminal gets failures (with their output) and the tally.
  (cd "$build_dir" && ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)") >"$logs/ctest.log" 2>&1 \
    || cpp_rc=$?
  if [[ $cpp_rc -ne 0 ]]; then
    cat "$logs/ctest.log"
  else
    grep -E 'tests passed|Total Test time' "$logs/ctest.log" || true
  fi
  cpp_summary="$(grep -E 'tests passed' "$logs/ctest.log" | tail -n 1 || true)"
else
  cpp_rc=1
  cpp_summary="no C++ tests found in $build_dir (was HYFLOW_BUILD_TESTS=ON applied?)"
fi

san_rc=0
san_summary="skipped (HYFLOW_TEST_SANITIZE=0)"
if [[ ${HYFLOW_TEST_SANITIZE:-1} != 0 ]]; then
  hy_log "sanitizers: scripts/sanitize.sh"
  bash "$HY_ROOT/scripts/sanitize.sh" 2>&1 | tee "$logs/sanitize.log" || san_rc=${PIPESTATUS[0]}
  san_summary="$(sed -n 's/.*sanitize summary: //p' "$logs/sanitize.log" | tail -n 1)"
fi

elapsed=$((SECONDS - t_start))
status=OK
[[ $py_rc -ne 0 || $cpp_rc -ne 0 || $san_rc -ne 0 ]] && status=FAILED
printf '\n[hyflow] test summary: %s | python: %s | C++: %s | sanitize: %s | %dm%02ds\n' \
  "$status" "${py_summary:-no pytest summary}" "${cpp_summary:-no ctest summary}" "${san_summary:-no summary}" \
  $((elapsed / 60)) $((elapsed % 60))
[[ $status == OK ]]
