"""Runs every program in tests/error: each must fail with the Python exception its header names
(never crash, hang or succeed), with a message matching the header's regex.

Header lines (comments at the top of each program):
    # expect: ValueError          the exception type the last traceback line must show (required)
    # match: <regex>              searched in the exception message (optional)
    # requires: hyflow.from_dlpack   skip unless this attribute exists (optional, for later features)
"""
import glob
import importlib
import json
import os
import re
import subprocess
import sys

import pytest

ERROR_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "error")
PROGRAMS = sorted(glob.glob(os.path.join(ERROR_DIR, "*.py")))


def read_header(path):
    header = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"#\s*(expect|match|requires):\s*(.+?)\s*$", line)
            if m:
                header[m.group(1)] = m.group(2)
            elif not line.startswith("#"):
                break
    return header


def has_attribute(dotted):
    module, _, attr = dotted.partition(".")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def test_there_are_error_programs():
    assert len(PROGRAMS) >= 10
    for p in PROGRAMS:
        assert "expect" in read_header(p), f"{os.path.basename(p)} has no '# expect: <Exception>' header"


def _child_env():
    """This process's environment with developer paths (PYTHONPATH=python, HYFLOW_BUILD_DIR=...) made
    absolute, since the programs run from tests/error."""
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    if env.get("HYFLOW_BUILD_DIR"):
        env["HYFLOW_BUILD_DIR"] = os.path.abspath(env["HYFLOW_BUILD_DIR"])
    return env


# Runs one program in a fresh interpreter and reports its uncaught exception as JSON on stdout; the
# full traceback still goes to stderr for the failure message.
_DRIVER = """
import json, runpy, sys, traceback
try:
    runpy.run_path(sys.argv[1], run_name="__main__")
except BaseException as e:
    traceback.print_exc()
    print("HYFLOW_ERROR_PROGRAM " + json.dumps({"type": type(e).__name__, "message": str(e)}))
    sys.exit(1)
"""


@pytest.mark.parametrize("path", PROGRAMS, ids=[os.path.basename(p)[:-3] for p in PROGRAMS])
def test_program_fails_cleanly(path):
    header = read_header(path)
    if "requires" in header and not has_attribute(header["requires"]):
        pytest.skip(f"needs {header['requires']}, not in this build yet")
    r = subprocess.run([sys.executable, "-c", _DRIVER, path], capture_output=True, text=True, timeout=120,
                       cwd=ERROR_DIR, env=_child_env())
    name = os.path.basename(path)
    assert r.returncode != 0, f"{name} succeeded; it must raise {header['expect']}\nstdout:\n{r.stdout}"
    assert r.returncode == 1, f"{name} died with exit code {r.returncode} (a crash, not an exception)\n{r.stderr}"
    reports = [line for line in r.stdout.splitlines() if line.startswith("HYFLOW_ERROR_PROGRAM ")]
    assert reports, f"{name}: exited with 1 but raised no exception\n{r.stderr}"
    err = json.loads(reports[-1].split(" ", 1)[1])
    assert err["type"] == header["expect"], f"{name}: expected {header['expect']}, got:\n{r.stderr}"
    assert err["message"].strip(), f"{name}: {err['type']} without a message"
    if "match" in header:
        assert re.search(header["match"], err["message"]), \
            f"{name}: message {err['message']!r} does not match {header['match']!r}"
