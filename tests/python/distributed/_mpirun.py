"""Launch a worker script under mpirun from a test, with a hard time limit, and parse its output."""
import os
import shutil
import signal
import subprocess
import sys

import pytest

import hyflow as hy

WORKERS = os.path.join(os.path.dirname(__file__), "workers")
MPIRUN = shutil.which("mpirun")


def _is_open_mpi():
    try:
        out = subprocess.run([MPIRUN, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Open MPI" in out or "OpenRTE" in out


def skip_reason():
    """Why MPI tests cannot run here, or None."""
    if not hy.build_info()["mpi"]:
        return "hyflow was built without MPI (hy.build_info()['mpi'] is False)"
    if MPIRUN is None:
        return "no mpirun on PATH"
    if not _is_open_mpi():
        return "these launch tests use Open MPI's mpirun flags; this mpirun is another MPI"
    return None


requires_mpi = pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))


def run(n, script, *args, timeout=60, extra=(), dist_timeout=20, env=None):
    """Run workers/<script> on n ranks; returns (returncode, stdout+stderr). Kills the job past timeout."""
    cmd = [MPIRUN, "-n", str(n), "--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += list(extra) + [sys.executable, os.path.join(WORKERS, script), *map(str, args)]
    env = dict(os.environ, OMP_NUM_THREADS="1", HYFLOW_DIST_TIMEOUT=str(dist_timeout), **(env or {}))
    # The ranks must import the same hyflow as this test process.
    pkg_root = os.path.dirname(os.path.dirname(hy.__file__))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"mpirun -n {n} {script} {' '.join(map(str, args))} ran past {timeout} s:\n{out[-4000:]}")
    return proc.returncode, out


def assert_all_ok(n, rc, out):
    """Every rank printed 'RANK r OK' and the job succeeded."""
    oks = {r for r in range(n) if f"RANK {r} OK" in out}
    assert rc == 0 and oks == set(range(n)), f"rc={rc}, ranks OK: {sorted(oks)}\n{out[-6000:]}"
