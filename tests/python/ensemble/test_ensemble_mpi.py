"""The MPI executor under `mpirun -n 4 --oversubscribe` with ranks_per_member=2: 4 members, 2 at a time
on sub-communicators of 2 ranks (each member's workflow has count on its first rank and record on its
last, so every step crosses the sub-communicator), a member retried from its checkpoints, a member that
fails on every attempt, rank 0's table handed to every rank, and a second job that resumes without
rerunning the finished members (mpi_workers/ensemble_mpi.py)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "distributed"))
from _mpirun import requires_mpi, run  # noqa: E402

import ensemble_members as em  # noqa: E402

pytestmark = requires_mpi

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpi_workers", "ensemble_mpi.py")


def launch(directory, *args):
    rc, out = run(4, WORKER, directory, *args, timeout=120, dist_timeout=30)
    assert rc == 0 and all(f"RANK {r} OK" in out for r in range(4)), out[-6000:]
    if args == ("uneven",):
        return None
    with open(os.path.join(directory, "results.json")) as f:
        table = json.load(f)
    for r in range(4):  # every rank returned world rank 0's table
        with open(os.path.join(directory, f"table-rank-{r}.json")) as f:
            assert json.load(f) == table
    return table


def steps(directory, member):
    return em.steps_run(os.path.join(directory, "side", str(member)))


def test_members_on_sub_communicators_retry_and_resume(tmp_path):
    directory = str(tmp_path / "ens")
    table = launch(directory)
    assert [r["status"] for r in table] == ["ok", "ok", "ok", "failed"]
    for i in (0, 2):
        assert table[i]["attempts"] == 1 and table[i]["start_step"] == 0
        # count (group rank 0) and record (group rank 1) each reported their half of the metrics
        assert table[i]["metrics"]["total"] == table[i]["metrics"]["last"] == 6 * (1.0 + i)
        # record ran on the member's second rank, in a workflow of 2 ranks
        assert steps(directory, i) == [(s, 1, 2) for s in range(6)]
    assert table[1]["attempts"] == 2 and table[1]["start_step"] == 2 and table[1]["metrics"]["total"] == 12.0
    failed = table[3]
    assert failed["attempts"] == 2 and failed["error"]["task"] == "count" and failed["error"]["step"] == 2
    assert failed["error"]["message"] == "ValueError: boom at step 2" and failed["error"]["rank"] == 0
    for i in range(4):  # each rank of the member's group checkpoints its own part
        assert sorted(os.listdir(os.path.join(directory, "members", f"{i:04d}", "checkpoints"))) == \
            ["rank-00000", "rank-00001"]

    before = {i: steps(directory, i) for i in range(4)}
    again = launch(directory, "resume")
    assert [r["reused"] for r in again] == [True, True, True, False]
    assert [r["status"] for r in again] == ["ok", "ok", "ok", "failed"]
    for i in range(3):
        assert steps(directory, i) == before[i]  # finished members were not run again


def test_ranks_per_member_that_does_not_divide_the_world_raises_on_every_rank(tmp_path):
    launch(str(tmp_path / "ens"), "uneven")


def test_a_build_that_fails_on_one_rank_fails_the_member_without_a_hang(tmp_path):
    directory = str(tmp_path / "ens")
    table = launch(directory, "build-fails")
    assert [r["status"] for r in table] == ["failed", "ok"]
    error = table[0]["error"]
    assert error["rank"] == 1 and error["task"] is None
    assert error["message"] == "build_workflow raised RuntimeError: no input files on rank 1"
    assert steps(directory, 0) == []  # rank 0 never started the member's workflow
