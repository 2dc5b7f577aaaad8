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


def results(out):
    """{rank: states} from the RESULT lines."""
    return {int(m.group(1)): json.loads(m.group(2)) for m in re.finditer(r"^RESULT (\d+) (.*)$", out, re.M)}


def single_process(*args):
    """The same program as one plain process (no launcher: every placement lands on rank 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI", "PMIX"))}
    done = subprocess.run([sys.executable, PLACEMENT, *map(str, args)], capture_output=True, text=True, timeout=120,
                          env=env)
    assert "RANK 0 OK" in done.stdout, done.stdout[-2000:] + done.stderr[-3000:]
    return results(done.stdout)[0]


def mpi(n, script, *args, timeout=90):
    rc, out = run(n, os.path.abspath(script), *args, timeout=timeout, dist_timeout=30)
    return rc, out


def expected_batches(n, steps):
    """train (every 2 steps) receives, per step since its last call, one state per simulate rank."""
    windows = [[0]] + [[s - 1, s] for s in range(2, steps, 2)]
    return [[[s, r] for s in window for r in range(max(n - 1, 1))] for window in windows]


@pytest.mark.parametrize("n", [2, 3])
def test_placed_workflow_matches_the_single_process_run(n):
    rc, out = mpi(n, PLACEMENT, "run", STEPS)
    assert rc == 0 and all(f"RANK {r} OK" in out for r in range(n)), out[-6000:]
    got, alone = results(out), single_process("run", STEPS)
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


def test_gathered_items_come_in_rank_order_when_the_reader_also_produces():
    rc, out = mpi(3, RULES, "gather_first")
    assert rc == 0 and "ERROR" not in out, out[-6000:]
    batches = results(out)[0]["gather"]["batches"]
    expected = [[[r, s, tag] for s in window for r in range(3) for tag in "ab"] for window in ([0], [1, 2])]
    assert batches[:2] == expected


@pytest.mark.parametrize("mode,message", [
    ("direct_subset", "reads task 'produce' directly"),
    ("ambiguous", "channel 'ch' connects ranks [0, 1] to ranks [1, 2]"),
])
def test_placements_the_docs_call_errors_raise_on_every_rank(mode, message):
    rc, out = mpi(3, RULES, mode)
    errors = re.findall(r"^ERROR (\d+) (\w+) (.*)$", out, re.M)
    assert sorted(int(r) for r, _, _ in errors) == [0, 1, 2], out[-6000:]
    for _, kind, text in errors:
        assert kind == "ValueError" and message in json.loads(text), text


def test_a_failure_on_one_rank_stops_its_dependents_on_every_rank_and_the_job_resumes(tmp_path):
    n = 3
    rc, out = mpi(n, PLACEMENT, "resume", tmp_path, STEPS + 2)
    assert rc == 0 and all(f"RANK {r} OK" in out for r in range(n)), out[-6000:]
    failed = {int(m.group(1)): (m.group(2), json.loads(m.group(3)))
              for m in re.finditer(r"^FAILED (\d+) (\S+) (.*)$", out, re.M)}
    assert failed[n - 1][0] == "train" and "train broke" in failed[n - 1][1]
    for r in range(n - 1):                  # the ranks reading train's result learn that it failed
        task, message = failed[r]
        assert task == f"train@{n - 1}", message
        assert "task 'train' failed at step 6" in message and "train broke" in message
        assert "timeout" not in message.lower()
    starts = {int(r): int(s) for r, s in re.findall(r"^START (\d+) (\d+)$", out, re.M)}
    assert starts == {r: 6 for r in range(n)}
    rc, reference = mpi(n, PLACEMENT, "run", STEPS + 2)
    assert rc == 0, reference[-6000:]
    assert results(out) == results(reference)
    assert sorted(os.listdir(tmp_path)) == [f"rank-{r:05d}" for r in range(n)]
