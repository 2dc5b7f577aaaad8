"""Run a snippet in a fresh interpreter, for regression tests of bugs that used to kill the process
(a SIGFPE would take pytest down with it): the snippet's exit status tells a crash from a failure."""
import os
import subprocess
import sys


def run_isolated(code, timeout=120):
    """Run ``import hyflow as hy`` + ``code`` in a subprocess; assert it exited normally; return stdout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p])
    r = subprocess.run([sys.executable, "-c", "import hyflow as hy\n" + code], env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode >= 0, f"killed by signal {-r.returncode}:\n{r.stderr}"
    assert r.returncode == 0, r.stderr
    return r.stdout
