"""Running an ensemble in this process: the table, failures and retries from checkpoints, resuming
(finished members are not run again), Ctrl-C, and a coordinator killed in the middle of a member.

The members (ensemble_members.py) log every step they run to <side>/<name>/steps.log, which is how
these tests tell which steps ran again and which did not."""
import json
import os
import subprocess
import sys

import pytest

import hyflow as hy
from hyflow.ensemble import Ensemble

import ensemble_members as em

HERE = os.path.dirname(os.path.abspath(__file__))


def member(tmp_path, name, rate, **extra):
    return {"rate": rate, "dir": str(tmp_path / "side" / name), **extra}


def run(tmp_path, members, **kwargs):
    options = {"steps": 8, "directory": tmp_path / "ens", "metrics": em.metrics, "checkpoint_every": 2}
    options.update(kwargs)
    ens = Ensemble(em.build, members, **options)
    return ens, ens.run()


def steps_of(tmp_path, name):
    return [s for s, _, _ in em.steps_run(tmp_path / "side" / name)]


def test_members_run_in_order_and_the_table_is_written(tmp_path):
    members = [member(tmp_path, "a", 1.0), member(tmp_path, "b", 2.5)]
    _, table = run(tmp_path, members)
    assert [r["member"] for r in table] == ["0000", "0001"]
    assert [r["status"] for r in table] == ["ok", "ok"]
    assert [r["metrics"]["total"] for r in table] == [8.0, 20.0]
    assert [r["metrics"]["last"] for r in table] == [8.0, 20.0]
    assert all(r["attempts"] == 1 and r["start_step"] == 0 and r["error"] is None for r in table)
    ens_dir = tmp_path / "ens"
    with open(ens_dir / "results.json") as f:
        assert json.load(f) == list(table)
    csv = (ens_dir / "results.csv").read_text().splitlines()
    assert len(csv) == 3 and csv[1].startswith("0000,ok,1,")
    assert (ens_dir / "members" / "0001" / "checkpoints").is_dir()
    with open(ens_dir / "members" / "0001" / "result.json") as f:
        assert json.load(f)["metrics"]["total"] == 20.0
    with open(ens_dir / "members" / "0001" / "params.json") as f:
        assert json.load(f) == members[1]


def test_a_failed_member_is_retried_from_its_checkpoint_and_never_costs_the_others(tmp_path):
    members = [member(tmp_path, "flaky", 1.0, fail_at=5, fail_attempts=1),
               member(tmp_path, "broken", 2.0, fail_at=3),
               member(tmp_path, "fine", 3.0)]
    _, table = run(tmp_path, members, retries=1)
    flaky, broken, fine = table
    assert flaky["status"] == "ok" and flaky["attempts"] == 2
    assert flaky["start_step"] == 4  # the retry resumed from the checkpoint at step 4
    assert flaky["metrics"]["total"] == 8.0  # each step's effect on state counted once
    assert steps_of(tmp_path, "flaky") == [0, 1, 2, 3, 4, 4, 5, 6, 7] or \
        steps_of(tmp_path, "flaky") == [0, 1, 2, 3, 4, 5, 6, 7]  # record of step 4 may precede the failure
    assert broken["status"] == "failed" and broken["attempts"] == 2
    assert broken["error"]["task"] == "count" and broken["error"]["step"] == 3
    assert broken["error"]["message"] == "ValueError: boom at step 3"
    assert "boom at step 3" in broken["error"]["traceback"]
    assert broken["metrics"] == {}
    assert fine["status"] == "ok" and fine["metrics"]["total"] == 24.0


def test_without_retries_a_failure_is_final(tmp_path):
    _, table = run(tmp_path, [member(tmp_path, "flaky", 1.0, fail_at=1, fail_attempts=1)])
    assert table[0]["status"] == "failed" and table[0]["attempts"] == 1


def test_resume_skips_finished_members_and_reruns_failed_ones(tmp_path):
    members = [member(tmp_path, "a", 1.0), member(tmp_path, "b", 2.0, fail_at=6, fail_attempts=1)]
    _, first = run(tmp_path, members)
    assert [r["status"] for r in first] == ["ok", "failed"]
    a_steps = steps_of(tmp_path, "a")
    assert a_steps == list(range(8))

    with pytest.raises(ValueError, match="pass resume=True"):
        run(tmp_path, members)  # a new Ensemble on a used directory must say resume

    ens, second = run(tmp_path, members, resume=True)
    assert steps_of(tmp_path, "a") == a_steps  # NOT run again
    assert second[0]["reused"] is True and second[0]["status"] == "ok" and second[0]["metrics"]["total"] == 8.0
    assert second[1]["status"] == "ok" and second[1]["reused"] is False
    assert second[1]["start_step"] == 6  # the failed member went on from its checkpoint
    b_steps = steps_of(tmp_path, "b")

    third = ens.run()  # the same object again: everything is finished
    assert all(r["reused"] for r in third)
    assert steps_of(tmp_path, "a") == a_steps and steps_of(tmp_path, "b") == b_steps


def test_more_steps_extend_finished_members_from_their_checkpoints(tmp_path):
    members = [member(tmp_path, "a", 1.0)]
    run(tmp_path, members)
    _, longer = run(tmp_path, members, steps=12, resume=True)
    assert longer[0]["start_step"] == 8 and longer[0]["metrics"]["total"] == 12.0
    assert steps_of(tmp_path, "a") == list(range(12))


def test_resume_refuses_a_directory_of_another_sweep(tmp_path):
    run(tmp_path, [member(tmp_path, "a", 1.0)])
    with pytest.raises(ValueError, match="holds member 0000 with parameters"):
        run(tmp_path, [member(tmp_path, "a", 9.0)], resume=True)


def test_member_errors_outside_the_workflow_name_what_failed(tmp_path):
    def not_a_workflow(params):
        return 42

    ens = Ensemble(not_a_workflow, [{}], steps=2, directory=tmp_path / "e1")
    row = ens.run()[0]
    assert row["status"] == "failed" and row["error"]["task"] is None
    assert row["error"]["message"] == ("build_workflow raised TypeError: build_workflow must return a "
                                       "hyflow.workflow.Workflow, got int")

    def bad_metrics(result, params):
        return {"field": object()}

    _, table = run(tmp_path, [member(tmp_path, "a", 1.0)], metrics=bad_metrics, directory=tmp_path / "e2")
    assert table[0]["status"] == "failed"
    assert "metrics raised TypeError: metrics['field'] is a object" in table[0]["error"]["message"]


def test_metrics_accept_numpy_scalars_and_tensors_and_store_nan_as_none(tmp_path):
    np = pytest.importorskip("numpy")

    def metrics(result, params):
        return {"np": np.float32(1.5), "i": np.int64(3), "t": hy.tensor(2.0), "nan": float("nan"), "l": (1, 2)}

    _, table = run(tmp_path, [member(tmp_path, "a", 1.0)], metrics=metrics)
    assert table[0]["metrics"] == {"np": 1.5, "i": 3, "t": 2.0, "nan": None, "l": [1, 2]}


def test_ctrl_c_marks_the_rest_skipped_writes_the_table_and_a_rerun_continues(tmp_path):
    members = [member(tmp_path, "a", 1.0), member(tmp_path, "b", 2.0, interrupt=True), member(tmp_path, "c", 3.0)]
    ens = Ensemble(em.build, members, steps=4, directory=tmp_path / "ens", metrics=em.metrics)
    with pytest.raises(KeyboardInterrupt):
        ens.run()
    with open(tmp_path / "ens" / "results.json") as f:
        assert [r["status"] for r in json.load(f)] == ["ok", "skipped", "skipped"]
    table = ens.run()
    assert [r["status"] for r in table] == ["ok", "ok", "ok"]
    assert table[0]["reused"] and steps_of(tmp_path, "a") == [0, 1, 2, 3]


def test_a_coordinator_killed_mid_member_resumes_that_member_from_its_checkpoint(tmp_path):
    """The whole process dies (os._exit, as a kill -9 or a node loss would) in the middle of member b:
    a resumed ensemble reuses a's row without running it, and b continues from its last checkpoint."""
    members = [member(tmp_path, "a", 1.0), member(tmp_path, "b", 2.0, die_at=5)]
    script = ("import sys, json; import ensemble_members as em; from hyflow.ensemble import Ensemble\n"
              "members = json.loads(sys.argv[1])\n"
              "Ensemble(em.build, members, steps=8, directory=sys.argv[2], metrics=em.metrics, "
              "checkpoint_every=2).run()\n")
    pkg_root = os.path.dirname(os.path.dirname(hy.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, pkg_root, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", script, json.dumps(members), str(tmp_path / "ens")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr  # died inside member b
    assert steps_of(tmp_path, "a") == list(range(8))
    assert not (tmp_path / "ens" / "members" / "0001" / "result.json").exists()

    _, table = run(tmp_path, members, resume=True)
    assert table[0]["reused"] and steps_of(tmp_path, "a") == list(range(8))
    assert table[1]["status"] == "ok" and table[1]["start_step"] == 4
    assert table[1]["metrics"]["total"] == 16.0
    assert steps_of(tmp_path, "b")[-4:] == [4, 5, 6, 7]
