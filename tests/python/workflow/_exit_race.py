"""Checking a workflow subprocess's exit status while the engine has a known exit race.

The C++ engine's last worker may still drop Python items (taking the GIL) after Workflow.run returned;
when the interpreter is already shutting down, that thread is ended and the process aborts with
"terminate called without an active exception" although it did all its work. Until the engine is
fixed (test_engine_failures.py::test_a_process_exits_cleanly_after_a_failed_run), a test that saw
exactly that abort, after checking everything else, is marked xfail instead of failing."""
import signal

import pytest

ABORT_MESSAGE = "terminate called without an active exception"


def check_exit(returncode, stderr, expected, what="the workflow process"):
    if returncode == -signal.SIGABRT and ABORT_MESSAGE in (stderr or ""):
        pytest.xfail(f"{what} aborted at exit: known C++ engine exit race")
    assert returncode == expected, f"{what} exited with {returncode}, not {expected}:\n{(stderr or '')[-3000:]}"
