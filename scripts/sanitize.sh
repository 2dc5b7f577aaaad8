#!/usr/bin/env bash
# ASan + UBSan: build the core, the bindings and the C++ tests with the sanitizers in build/asan, run
# ctest there (LeakSanitizer on), then the Python suite less its slow MPI, kill/restart and benchmark
# parts against that build, with the ASan runtime preloaded into the (uninstrumented) interpreter. Any
# sanitizer report fails the run. Extra arguments go to pytest instead of that selection
# (e.g. `bash scripts/sanitize.sh tests/python/test_ops.py -x`).
# Docs: docs/development.md "Sanitizers".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

t_start=$SECONDS
hy_setup
hy_setup_ccache
build_dir="$HY_ROOT/build/asan"
logs="$HY_ROOT/build/test-logs"
mkdir -p "$logs"

hy_log "building with -fsanitize=address,undefined in ${build_dir#"$HY_ROOT"/}"
cmake -S "$HY_ROOT" -B "$build_dir" -G Ninja -DPython_EXECUTABLE="$(command -v python)" \
      -DCMAKE_BUILD_TYPE=Release -DHYFLOW_BUILD_TESTS=ON -DHYFLOW_SANITIZE=address,undefined \
      -DHYFLOW_CPU_VARIANTS= >"$logs/asan-cmake.log" \
  || { cat "$logs/asan-cmake.log"; hy_die "configuring the sanitizer build failed"; }
if ! ninja -C "$build_dir" -j "$(nproc 2>/dev/null || echo 2)" 2>&1 | tee "$logs/asan-build.log" \
    | { grep --line-buffered -E '^\[[0-9]+/[0-9]+\] ' >&2 || true; }; then
  tail -n 60 "$logs/asan-build.log" >&2
  hy_die "building the sanitizer build failed (full log: build/test-logs/asan-build.log)"
fi
t_built=$SECONDS

# UBSan: print the stack, and (with -fno-sanitize-recover) stop at the first finding.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# ASan for the C++ tests: everything on, leaks included (no interpreter in that process).
cpp_asan="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
cpp_asan+=":allocator_may_return_null=1"

hy_log "ctest (C++ tests under ASan + UBSan + LeakSanitizer)"
cpp_rc=0
(cd "$build_dir" && ASAN_OPTIONS="$cpp_asan" ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)") \
  >"$logs/asan-ctest.log" 2>&1 || cpp_rc=$?
if [[ $cpp_rc -ne 0 ]]; then cat "$logs/asan-ctest.log"; else grep -E 'tests passed' "$logs/asan-ctest.log" || true; fi

# Python: the ASan runtime must be the first library loaded, before the interpreter's own mallocs,
# so it is preloaded. LeakSanitizer is off there: CPython keeps its interned objects, type caches and
# module state alive to the end and never frees them, and a suppression cannot tell those from ours
# (every hyflow allocation also has interpreter frames on its stack). Leaks are the C++ run's job
# (above) and tests/python's leak checks'. allocator_may_return_null: a huge allocation must reach
# hyflow's MemoryError path as it does without ASan, not abort the interpreter.
cxx="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build_dir/CMakeCache.txt")"
libasan="$("${cxx:-c++}" -print-file-name=libasan.so)"
[[ -f $libasan ]] || hy_die "libasan.so not found ($cxx -print-file-name=libasan.so gave '$libasan')"
# libstdc++ too: ASan resolves the real __cxa_throw when it starts, and the interpreter has not loaded
# libstdc++ by then; without it the first C++ exception dies in ASan's interceptor ("CHECK failed:
# real___cxa_throw != 0").
libstdcxx="$("${cxx:-c++}" -print-file-name=libstdc++.so)"
py_asan="detect_leaks=0:allocator_may_return_null=1"
# The suite but for what is slow or timing-bound and adds no native code paths of its own: MPI runs
# (tests/python/distributed), kill/restart of workflow runs, benchmarks and the climate example.
# (All of tests/python passes too: `bash scripts/sanitize.sh tests/python`, about 3 minutes.)
py_dir="$HY_ROOT/tests/python"
subset=(
  "$py_dir"/test_*.py        # ops vs NumPy (all dtypes, out=, in-place), indexing, tensor core, autograd,
                             # NumPy/DLPack interop, checkpoints, error programs, stencils, data, ...
  "$py_dir"/fuzz             # the property-based fuzz tests
  "$py_dir"/nn "$py_dir"/optim
  "$py_dir"/workflow         # the engine, channels, failures, YAML and the CLI, checkpoints
  --ignore "$py_dir"/workflow/test_engine_kill_restart.py --ignore "$py_dir"/workflow/test_engine_mpi.py
  # Tests that fork the test process (DataLoader workers, process pools; marked "forks") are left to the
  # ordinary run: GCC 12's libasan takes no allocator locks around fork(), so a child forked while
  # another thread (a multiprocessing queue's feeder, a pool worker) holds the ASan allocator's mutex
  # deadlocks at its first malloc (seen once here: the child blocked in GetFromAllocator). glibc's malloc
  # is fork-safe.
  -m "not forks"
)
[[ $# -gt 0 ]] && subset=("$@")
hy_log "pytest under ASan + UBSan: ${subset[*]#"$HY_ROOT"/}"
py_rc=0
# --capture=sys: pytest's default capture takes over file descriptor 2 during each test, and the report
# of a process the sanitizer then stops would vanish with it; this way it reaches the log. (Children the
# tests start report into their own stderr, which the tests show when they fail.)
(cd "$HY_ROOT" && LD_PRELOAD="$libasan:$libstdcxx" ASAN_OPTIONS="$py_asan" HYFLOW_BUILD_DIR="$build_dir/pkg" \
   PYTHONPATH="$HY_ROOT/python" python -m pytest -q -p no:cacheprovider --capture=sys "${subset[@]}") 2>&1 \
  | tee "$logs/asan-pytest.log" || py_rc=${PIPESTATUS[0]}
if grep -qE '^==[0-9]+==ERROR: |^SUMMARY: (Address|UndefinedBehavior)Sanitizer|runtime error: |AddressSanitizer: CHECK' \
    "$logs/asan-pytest.log"; then
  hy_log "a sanitizer reported a finding (see build/test-logs/asan-pytest.log)"
  py_rc=1
fi

elapsed=$((SECONDS - t_start))
status=OK
[[ $py_rc -ne 0 || $cpp_rc -ne 0 ]] && status=FAILED
printf '\n[hyflow] sanitize summary: %s | build %ds | C++: %s | python: %s | %dm%02ds\n' "$status" \
  $((t_built - t_start)) "$(grep -E 'tests passed' "$logs/asan-ctest.log" | tail -n 1 || echo 'no ctest summary')" \
  "$(grep -E '[0-9]+ (passed|failed)' "$logs/asan-pytest.log" | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//')" \
  $((elapsed / 60)) $((elapsed % 60))
[[ $status == OK ]]
