import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the opinfo package beside the tests

# hy.compile's default fallback policy ("measured") may keep a signature eager when eager timed faster;
# the suite runs the compiled code every time, so the differential tests compare compiled with eager and
# traces are counted exactly — here and in the processes tests start (compiler/test_fallback_policy.py
# tests the measured policy).
os.environ.setdefault("HYFLOW_COMPILE_FALLBACK", "never")


def pytest_configure(config):
    # scripts/sanitize.sh deselects these with -m "not forks": GCC 12's libasan is not fork-safe in a
    # multithreaded process (see the comment there); the ordinary run covers them.
    config.addinivalue_line("markers", "forks: the test forks the (multithreaded) test process")

