"""Running code in a child interpreter, so a crash (a signal instead of an exception) fails one test
with a message instead of killing pytest."""
import os
import signal
import subprocess
import sys
import textwrap


def child_env(**extra):
    """This process's environment with developer paths (PYTHONPATH=python, HYFLOW_BUILD_DIR=...) made
    absolute, so the child finds the same hyflow whatever its working directory."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "HYFLOW_BUILD_DIR"):
        if env.get(key):
            env[key] = os.pathsep.join(os.path.abspath(p) for p in env[key].split(os.pathsep) if p)
    env.update(extra)
    return env


def describe_exit(returncode):
    if returncode < 0:
        try:
            return f"crashed with {signal.Signals(-returncode).name}"
        except ValueError:
            return f"died with signal {-returncode}"
    return f"exited with status {returncode}"


def run_python(args, *, timeout=1200, **env):
    """Run `python -X faulthandler <args>` (faulthandler: a crash prints the Python stack)."""
    return subprocess.run([sys.executable, "-X", "faulthandler", *args], capture_output=True, text=True,
                          timeout=timeout, env=child_env(**env))


def assert_runs_cleanly(code):
    """Run `code` (import hyflow as hy and numpy as np are prepended) in a child interpreter; fail
    with its output unless it exits with status 0."""
    r = run_python(["-c", "import numpy as np\nimport hyflow as hy\n" + textwrap.dedent(code)], timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"the child {describe_exit(r.returncode)}:\n{(r.stdout + r.stderr)[-4000:]}")
