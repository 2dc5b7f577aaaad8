"""The Dask executor on a real LocalCluster of 2 worker processes: the table, a worker killed
mid-member (KilledWorker -> retried from the member's checkpoints, never a hang), an existing cluster
given as a Client, cancellation on Ctrl-C, and the ImportError without Dask."""
import logging
import os
import sys
import time

import pytest

import hyflow as hy
from hyflow.ensemble import Ensemble

import ensemble_members as em

HERE = os.path.dirname(os.path.abspath(__file__))


def test_without_dask_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match="pip install dask distributed"):
        Ensemble(em.build, [{}], steps=1, directory=tmp_path, executor="dask")


distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed "
                                                        "(pip install dask distributed)")


@pytest.fixture
def worker_env(monkeypatch):
    # Dask's worker processes must import hyflow and this folder's member builders by name.
    pkg_root = os.path.dirname(os.path.dirname(hy.__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([HERE, pkg_root, os.environ.get("PYTHONPATH", "")]))


def members(tmp_path, **extra_b):
    return [{"rate": 1.0, "dir": str(tmp_path / "side" / "a")},
            {"rate": 2.0, "dir": str(tmp_path / "side" / "b"), **extra_b},
            {"rate": 3.0, "dir": str(tmp_path / "side" / "c")}]


def test_local_cluster_runs_members_and_retries_one_whose_worker_died(tmp_path, worker_env):
    ens = Ensemble(em.build, members(tmp_path, die_at=3), steps=6, directory=tmp_path / "ens", executor="dask",
                   retries=1, metrics=em.metrics, checkpoint_every=2)
    a, b, c = ens.run()
    assert a["status"] == c["status"] == "ok"
    assert [a["metrics"]["total"], c["metrics"]["total"]] == [6.0, 18.0]
    assert b["status"] == "ok" and b["attempts"] == 2 and b["start_step"] == 2 and b["metrics"]["total"] == 12.0
    assert os.getpid() not in {r["metrics"]["pid"] for r in (a, b, c)}
    assert {r["metrics"]["threads"] for r in (a, c)} == {max(1, (os.cpu_count() or 1) // 2)}


def test_an_existing_cluster_by_client_or_address_and_a_failure_reported_not_raised(tmp_path, worker_env):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        table = Ensemble(em.build, members(tmp_path, fail_at=2), steps=4, directory=tmp_path / "ens",
                         executor="dask", dask_client=client, metrics=em.metrics).run()
        assert client.status == "running"  # the ensemble leaves a cluster it did not make open
        by_address = Ensemble(em.build, members(tmp_path / "2"), steps=4, directory=tmp_path / "ens2",
                              executor="dask", address=cluster.scheduler_address, metrics=em.metrics).run()
        assert client.status == "running"
    assert [r["status"] for r in table] == ["ok", "failed", "ok"]
    assert table[1]["error"]["task"] == "count" and table[1]["error"]["message"] == "ValueError: boom at step 2"
    assert [r["metrics"]["total"] for r in by_address] == [4.0, 8.0, 12.0]


def test_ctrl_c_cancels_the_running_members_and_closes_the_embedded_cluster(tmp_path, worker_env):
    """Ctrl-C arrives while a member that would run for a minute is in flight: execute stops without
    waiting for it, and the rows of members not finished are 'skipped'."""
    from hyflow.ensemble import DaskExecutor
    slow = [{"rate": 1.0, "dir": str(tmp_path / "side" / "quick")},
            {"rate": 1.0, "dir": str(tmp_path / "side" / "slow"), "sleep": 10}]
    ens = Ensemble(em.build, slow, steps=6, directory=tmp_path / "ens", executor=DaskExecutor(max_workers=2))

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
    assert em.process_gone(em.member_pid(tmp_path / "side" / "slow"))  # the worker running it was stopped
