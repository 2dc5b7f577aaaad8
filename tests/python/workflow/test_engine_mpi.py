"""Workflows placed across MPI ranks (programs in mpi_workers/ under `mpirun -n 2` and `-n 3`):
SPMD simulate on "0:-1", train on "last" through a gathered channel, train's result broadcast as a
task input; the same results as the single-process run where they are defined; delivery in rank
order; placements the docs call errors; a failure on one rank stops its dependents on the others
(without waiting for the communication timeout) and the job resumes from the common checkpoint."""
import json
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "distributed"))
from _mpirun import requires_mpi, run  # noqa: E402

pytestmark = requires_mpi

WORKERS = os.path.join(os.path.dirname(__file__), "mpi_workers")
PLACEMENT = os.path.join(WORKERS, "placement.py")
RULES = os.path.join(WORKERS, "placement_rules.py")
STEPS = 9


def outputs(folder):
    """{rank: what it wrote} from the rank-<r>.json files a worker program writes."""
    found = {}
    for name in os.listdir(folder):
        m = re.fullmatch(r"rank-(\d+)\.json", name)
        if m:
            with open(os.path.join(folder, name)) as f:
                found[int(m.group(1))] = json.load(f)
    return found


def single_process(tmp_path, *args):
    """The placement program as one plain process (no launcher: every placement lands on rank 0)."""
    folder = tmp_path / "alone"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI", "PMIX"))}
    done = subprocess.run([sys.executable, PLACEMENT, folder, *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert "RANK 0 OK" in done.stdout, done.stdout[-2000:] + done.stderr[-3000:]
    return outputs(folder)[0]


def mpi(n, tmp_path, script, *args, marker="OK", name="out"):
    """Run script under mpirun -n n; returns {rank: what it wrote} once every rank printed its marker."""
    folder = tmp_path / name
    folder.mkdir()
    rc, out = run(n, os.path.abspath(script), folder, *args, timeout=90, dist_timeout=30)
    assert rc == 0 and all(f"RANK {r} {marker}" in out for r in range(n)), out[-6000:]
    return outputs(folder)


def expected_batches(n, steps):
    """train (every 2 steps) receives, per step since its last call, one state per simulate rank."""
    windows = [[0]] + [[s - 1, s] for s in range(2, steps, 2)]
    return [[[s, r] for s in window for r in range(max(n - 1, 1))] for window in windows]


@pytest.mark.parametrize("n", [2, 3])
def test_placed_workflow_matches_the_single_process_run(n, tmp_path):
    got = {r: v["result"] for r, v in mpi(n, tmp_path, PLACEMENT, "run", STEPS).items()}
    alone = single_process(tmp_path, "run", STEPS)["result"]
    last = n - 1
    assert set(got) == set(range(n))
    assert set(got[last]) == {"train"}                       # result.state: the tasks placed on this rank
    for r in range(last):
        assert set(got[r]) == {"simulate", "apply"}
        assert got[r]["simulate"]["u"] == [float(r + STEPS)] * 3
        assert got[r]["simulate"]["where"] == [r, n]
        assert got[r]["apply"] == alone["apply"]             # the broadcast carries train's result
    assert got[0]["simulate"]["u"] == alone["simulate"]["u"]
    assert got[last]["train"]["batches"] == expected_batches(n, STEPS)  # gathered in rank order
    assert alone["train"]["batches"] == expected_batches(1, STEPS)
    assert got[last]["train"]["w"] == alone["train"]["w"]
    assert got[last]["train"]["where"] == [last, n]


def test_a_workflow_on_a_process_group_counts_ranks_within_it(tmp_path):
    got = mpi(3, tmp_path, PLACEMENT, "subgroup", STEPS)
    two = mpi(2, tmp_path, PLACEMENT, "run", STEPS, name="two")
    assert set(got) == {1, 2}
    assert got[1]["ranks"] == [0, 1] and got[2]["ranks"] == [1, 2]
    assert got[1]["result"] == two[0]["result"] and got[2]["result"] == two[1]["result"]


def test_gathered_items_come_in_rank_order_when_the_reader_also_produces(tmp_path):
    got = mpi(3, tmp_path, RULES, "gather_first", marker="DONE")
    assert all("result" in v for v in got.values()), got
    batches = got[0]["result"]["gather"]["batches"]
    expected = [[[r, s, tag] for s in window for r in range(3) for tag in "ab"] for window in ([0], [1, 2])]
    assert batches[:2] == expected


@pytest.mark.parametrize("mode,message", [
    ("direct_subset", "task 'reader' reads task 'produce' directly, but they run on ranks [2] and [0, 1, 2]"),
    ("ambiguous", "channel 'ch' connects ranks [0, 1] to ranks [1, 2]"),
])
def test_placements_the_docs_call_errors_raise_on_every_rank(mode, message, tmp_path):
    got = mpi(3, tmp_path, RULES, mode, marker="DONE")
    assert sorted(got) == [0, 1, 2]
    for rank, entries in got.items():
        kind, text = entries["error"]
        assert kind == "ValueError" and message in text, (rank, text)


def test_a_failure_on_one_rank_stops_its_dependents_on_every_rank_and_the_job_resumes(tmp_path):
    n, ckpt = 3, tmp_path / "ckpt"
    got = mpi(n, tmp_path, PLACEMENT, "resume", ckpt, STEPS + 2)
    task, message = got[n - 1]["failed"]
    assert task == "train" and "train broke" in message
    for r in range(n - 1):                  # the ranks reading train's result learn that it failed
        task, message = got[r]["failed"]
        assert task == f"train@{n - 1}", message
        assert f"task 'train' failed at step 6 on rank {n - 1}: RuntimeError: train broke" in message
        assert "stopped because they depend on it: 'apply'" in message
        assert "timeout" not in message.lower()
    assert {r: v["start"] for r, v in got.items()} == {r: 6 for r in range(n)}  # the newest common checkpoint
    reference = mpi(n, tmp_path, PLACEMENT, "run", STEPS + 2, name="reference")
    assert {r: v["result"] for r, v in got.items()} == {r: v["result"] for r, v in reference.items()}
    assert sorted(os.listdir(ckpt)) == [f"rank-{r:05d}" for r in range(n)]
