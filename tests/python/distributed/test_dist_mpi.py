"""hyflow.distributed over MPI: worker scripts under `mpirun -n N`, each batching many checks."""
import os
import re
import subprocess
import sys

import pytest

from _mpirun import assert_all_ok, requires_mpi, run

pytestmark = requires_mpi


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_collectives_all_dtypes_and_layouts(n):
    rc, out = run(n, "collectives.py")
    assert_all_ok(n, rc, out)


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_ring_all_reduce_path(n):
    """HYFLOW_DIST_RING_BYTES=16 sends even tiny all-reduces through the point-to-point ring."""
    rc, out = run(n, "collectives.py", env={"HYFLOW_DIST_RING_BYTES": "16"})
    assert_all_ok(n, rc, out)


@pytest.mark.parametrize("n", [2, 3])
def test_bad_input_raises_on_every_rank(n):
    rc, out = run(n, "errors.py")
    assert_all_ok(n, rc, out)


@pytest.mark.parametrize("n", [2, 3])
def test_bad_root_on_one_rank_raises_on_every_rank_and_comm_stays_usable(n):
    """broadcast(src=<out of range>) on one rank used to leave the others waiting in the collective until
    the timeout, which then poisoned MPI for good (regression, issue 15)."""
    rc, out = run(n, "bad_roots.py")
    assert_all_ok(n, rc, out)


@pytest.mark.parametrize("mode", ["mpi4py-first", "hyflow-first"])
def test_mpi4py_interop(mode):
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install mpi4py)")
    rc, out = run(3, "interop.py", mode)
    assert_all_ok(3, rc, out)


@pytest.mark.parametrize("mode", ["exit", "kill", "kill-ring"])
def test_dead_peer_becomes_timeout_error_on_survivors(mode):
    timeout = 2.0
    env = {"HYFLOW_DIST_RING_BYTES": "16"} if mode.endswith("-ring") else None
    # --enable-recovery: without it Open MPI's mpirun itself kills the whole job once a rank dies on a
    # signal, so the survivors would not live long enough to report.
    rc, out = run(3, "dead_peer.py", mode.split("-")[0], timeout, extra=["--enable-recovery"], timeout=60, env=env)
    for r in (0, 2):
        m = re.search(rf"RANK {r} TIMEOUT ([0-9.]+) (.*)", out)
        assert m, f"rank {r} did not report a timeout:\n{out[-4000:]}"
        assert timeout * 0.9 <= float(m.group(1)) <= timeout + 5, out
        assert "HYFLOW_DIST_TIMEOUT" in m.group(2)
        assert f"RANK {r} UNUSABLE True" in out, out
    assert "NO-ERROR" not in out


@pytest.mark.parametrize("mode", ["kill", "osexit"])
def test_survivors_save_and_exit_in_any_order_when_a_peer_is_killed(mode, tmp_path):
    """A peer killed by a signal or gone through os._exit: survivor A exits at once, B saves 2 s later. Open
    MPI's mpirun aborts the whole job (SIGTERM ~1 s after the death) when a rank dies that way, whatever the
    survivors do; --enable-recovery is what lets them live, and then A's exit must not end B either."""
    rc, out = run(3, "exit_order.py", mode, tmp_path, extra=["--enable-recovery"], dist_timeout=2, timeout=60)
    assert (tmp_path / "saved_by_B").read_text() == "saved", out[-4000:]
    assert "RANK 0 ERROR DistTimeoutError" in out, out[-4000:]


@pytest.mark.parametrize("mode", ["stuck", "raise", "sysexit", "sysexit1"])
def test_survivors_save_and_exit_in_any_order_without_enable_recovery(mode, tmp_path):
    """Regression (issue 15): a peer stuck, raising or exiting while the others wait for it; survivor A
    exits at once, B saves 2 s later. A used to exit without MPI_Finalize, which made mpirun kill B (and a
    peer exiting through Python did the same). Now A deregisters from the launcher and B's file is written."""
    timeout = {"stuck": 2, "raise": 20, "sysexit": 2, "sysexit1": 2}[mode]
    rc, out = run(3, "exit_order.py", mode, tmp_path, dist_timeout=timeout, timeout=90, env={"STUCK_S": "6"})
    assert (tmp_path / "saved_by_B").read_text() == "saved", out[-4000:]
    for r in (0, 2):
        assert f"RANK {r} ERROR Dist" in out, out[-4000:]
    if mode == "raise":  # told at once that rank 1 failed, instead of waiting for the 20 s timeout
        assert "RANK 0 ERROR DistError: all_reduce: world rank 1 exited with an uncaught exception" in out, out


def test_peer_that_raises_reaches_the_waiting_ranks_before_their_timeout():
    """A rank exiting through an uncaught exception sends the others a departure notice: those waiting
    for it get a DistError naming it instead of a DistTimeoutError (the timeout is 60 s here)."""
    rc, out = run(3, "dead_peer.py", "raise", 60, extra=["--enable-recovery"], timeout=90)
    for r in (0, 2):
        assert re.search(rf"RANK {r} DEPARTED [0-9.]+ all_reduce: world rank 1 exited with an uncaught exception",
                         out), out[-4000:]
        assert f"RANK {r} UNUSABLE True" in out, out[-4000:]
    assert "NO-ERROR" not in out and "TIMEOUT" not in out, out[-4000:]


def test_ctrl_c_interrupts_a_wait():
    rc, out = run(3, "dead_peer.py", "interrupt", 30, extra=["--enable-recovery"], timeout=60)
    for r in (0, 2):
        m = re.search(rf"RANK {r} INTERRUPTED ([0-9.]+)", out)
        assert m and float(m.group(1)) < 5, out[-4000:]


def test_mpi_singleton_without_launcher():
    """backend='mpi' in a process started without mpirun: an MPI world of one process."""
    code = ("import hyflow as hy, hyflow.distributed as dist\n"
            "dist.init(backend='mpi')\n"
            "t = hy.ones(3); dist.all_reduce(t, op=dist.ReduceOp.AVG); dist.barrier()\n"
            "print(dist.get_backend(), dist.get_rank(), dist.get_world_size(), t.tolist())\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI_", "PMIX_", "SLURM_"))}
    import hyflow as hy

    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.dirname(os.path.dirname(hy.__file__)),
                                                     env.get("PYTHONPATH")) if p)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "mpi 0 1 [1.0, 1.0, 1.0]" in res.stdout
