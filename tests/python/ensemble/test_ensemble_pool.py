"""The local process pool (spawned workers): the same table as in this process, members really in other
processes with their share of the cores, a worker process that dies mid-member (retried from the
member's checkpoints, the other members untouched), and a clear error for builders that cannot be
pickled."""
import os
import time

import pytest

from hyflow.ensemble import Ensemble, LocalPoolExecutor

import ensemble_members as em


def members(tmp_path, **extra_b):
    return [{"rate": 1.0, "dir": str(tmp_path / "side" / "a")},
            {"rate": 2.0, "dir": str(tmp_path / "side" / "b"), **extra_b},
            {"rate": 3.0, "dir": str(tmp_path / "side" / "c")}]


def test_pool_runs_members_in_worker_processes_with_their_share_of_the_cores(tmp_path):
    table = Ensemble(em.build, members(tmp_path), steps=6, directory=tmp_path / "ens", executor="process",
                     max_workers=2, metrics=em.metrics, checkpoint_every=2).run()
    assert [r["status"] for r in table] == ["ok", "ok", "ok"]
    assert [r["metrics"]["total"] for r in table] == [6.0, 12.0, 18.0]
    assert {r["metrics"]["threads"] for r in table} == {max(1, (os.cpu_count() or 1) // 2)}
    pids = {r["metrics"]["pid"] for r in table}
    assert os.getpid() not in pids and len(pids) <= 2  # two worker processes, reused across members


def test_a_worker_process_that_dies_fails_only_its_member_which_is_retried(tmp_path):
    ens = Ensemble(em.build, members(tmp_path, die_at=3), steps=6, directory=tmp_path / "ens",
                   executor=LocalPoolExecutor(max_workers=2, threads_per_member=1), retries=1, metrics=em.metrics,
                   checkpoint_every=2)
    a, b, c = ens.run()
    assert a["status"] == c["status"] == "ok" and a["attempts"] == c["attempts"] == 1
    assert b["status"] == "ok" and b["attempts"] == 2 and b["start_step"] == 2
    assert b["metrics"]["total"] == 12.0


def test_a_dead_worker_without_retries_is_a_failed_row_not_a_hang(tmp_path):
    table = Ensemble(em.build, members(tmp_path, die_at=1), steps=4, directory=tmp_path / "ens",
                     executor="process", max_workers=2).run()
    assert [r["status"] for r in table] == ["ok", "failed", "ok"]
    assert table[1]["error"]["type"] == "WorkerDied"
    assert "worker process running this member died" in table[1]["error"]["message"]


def test_unpicklable_builders_are_refused_with_the_reason(tmp_path):
    with pytest.raises(TypeError, match="module-level functions"):
        Ensemble(lambda p: em.build(p), members(tmp_path), steps=2, directory=tmp_path / "ens",
                 executor="process", max_workers=2).run()


def test_ctrl_c_stops_the_worker_processes_of_running_members(tmp_path):
    slow = [{"rate": 1.0, "dir": str(tmp_path / "side" / "quick")},
            {"rate": 1.0, "dir": str(tmp_path / "side" / "slow"), "sleep": 10}]
    ens = Ensemble(em.build, slow, steps=6, directory=tmp_path / "ens", executor="process", max_workers=2)

    def interrupt_on_first_row(job, row):
        deadline = time.monotonic() + 30  # Ctrl-C once the slow member surely runs
        while not os.path.exists(tmp_path / "side" / "slow" / "pid") and time.monotonic() < deadline:
            time.sleep(0.05)
        raise KeyboardInterrupt

    _, pending = ens.plan()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        ens.executor.execute(pending, interrupt_on_first_row)
    assert time.monotonic() - started < 40  # not the 60 s the slow member would take
    assert em.process_gone(em.member_pid(tmp_path / "side" / "slow"))  # not left running behind our back
