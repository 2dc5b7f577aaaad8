"""Declaring an ensemble: parameter grids, seeds, member ids, the argument checks, and the results
table's views (CSV, pandas). Nothing here runs a member."""
import json
import sys

import pytest

from hyflow.ensemble import Ensemble, EnsembleResult, parameter_grid, seed_members

import ensemble_members as em


def test_parameter_grid_is_every_combination_last_axis_fastest():
    assert parameter_grid(nu=[1, 2], forcing=[0.1, 0.2, 0.3]) == [
        {"nu": 1, "forcing": 0.1}, {"nu": 1, "forcing": 0.2}, {"nu": 1, "forcing": 0.3},
        {"nu": 2, "forcing": 0.1}, {"nu": 2, "forcing": 0.2}, {"nu": 2, "forcing": 0.3}]


def test_seeds_count_list_and_crossed_with_a_grid():
    assert seed_members(3) == [{"seed": 0}, {"seed": 1}, {"seed": 2}]
    assert seed_members([7, 9], {"nu": 1}) == [{"nu": 1, "seed": 7}, {"nu": 1, "seed": 9}]
    ens = Ensemble(em.build, grid={"nu": [1, 2]}, seeds=2, steps=3, directory="unused")
    assert ens.members == {"0000": {"nu": 1, "seed": 0}, "0001": {"nu": 1, "seed": 1},
                           "0002": {"nu": 2, "seed": 0}, "0003": {"nu": 2, "seed": 1}}


def test_members_as_a_list_get_positional_ids_and_a_mapping_keeps_its_ids():
    assert list(Ensemble(em.build, [{"a": 1}, {"a": 2}], steps=1, directory="x").members) == ["0000", "0001"]
    named = Ensemble(em.build, {"low": {"a": (1, 2)}, "high": {"a": 3}}, steps=1, directory="x")
    assert named.members == {"low": {"a": [1, 2]}, "high": {"a": 3}}  # tuples stored as JSON lists


@pytest.mark.parametrize("kwargs, error, match", [
    ({}, ValueError, "no members"),
    ({"members": []}, ValueError, "empty"),
    ({"members": [{"a": 1}], "grid": {"a": [1]}}, ValueError, "members= or grid="),
    ({"members": "abc"}, TypeError, "members must be a list"),
    ({"members": [3]}, TypeError, "member 0000's parameters must be a dict"),
    ({"members": [{"a": object()}]}, TypeError, "JSON data"),
    ({"members": [{"a": float("nan")}]}, ValueError, "JSON cannot store"),
    ({"members": [{1: 2}]}, TypeError, "parameter names must be str"),
    ({"members": {"../up": {}}}, ValueError, "member id '../up'"),
    ({"grid": {"nu": []}}, ValueError, "axis 'nu' has no values"),
    ({"grid": {"nu": 3}}, TypeError, "axis 'nu' must be a list"),
    ({"seeds": 0}, ValueError, "seeds must be >= 1"),
    ({"seeds": [1, 1]}, ValueError, "repeats a seed"),
    ({"seeds": 2, "members": [{"seed": 5}]}, ValueError, "already have a 'seed'"),
    ({"members": [{}], "steps": 0}, ValueError, "steps must be >= 1"),
    ({"members": [{}], "retries": -1}, ValueError, "retries must be >= 0"),
    ({"members": [{}], "retries": 1.5}, TypeError, "retries must be an int"),
    ({"members": [{}], "checkpoint_every": 0}, ValueError, "checkpoint_every must be >= 1"),
    ({"members": [{}], "executor": "threads"}, ValueError, "executor must be one of"),
    ({"members": [{}], "executor": 3}, TypeError, "executor must be one of"),
    ({"members": [{}], "max_workers": 2}, ValueError, "max_workers do not apply to executor='inprocess'"),
    ({"members": [{}], "executor": "mpi", "address": "tcp://x:1"}, ValueError, "address do not apply"),
    ({"members": [{}], "executor": "process", "max_workers": 0}, ValueError, "max_workers must be an int >= 1"),
    ({"members": [{}], "run_options": {"checkpoint_dir": "x"}}, ValueError, "run_options may not set checkpoint_dir"),
    ({"members": [{}], "resume": "yes"}, TypeError, "resume must be True or False"),
    ({"members": [{}], "directory": 5}, TypeError, "directory must be a path"),
    ({"members": [{}], "metrics": 5}, TypeError, "metrics must be a callable"),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, error, match):
    kwargs = {"steps": 3, "directory": "unused", **kwargs}
    with pytest.raises(error, match=match):
        Ensemble(em.build, **kwargs)


def test_build_workflow_must_be_callable():
    with pytest.raises(TypeError, match="build_workflow must be a callable"):
        Ensemble("build", [{}], steps=1, directory="x")


def _table():
    return EnsembleResult([
        {"member": "0000", "params": {"nu": 1}, "status": "ok", "attempts": 1, "wall_s": 0.5, "start_step": 0,
         "steps": 4, "reused": False, "metrics": {"energy": 0.9}, "error": None},
        {"member": "0001", "params": {"nu": 2}, "status": "failed", "attempts": 2, "wall_s": 0.1, "start_step": 2,
         "steps": 4, "reused": False, "metrics": {},
         "error": {"task": "sim", "step": 3, "type": "WorkflowError", "message": "ValueError: x", "traceback": "T"}},
        {"member": "0002", "params": {"nu": 3}, "status": "skipped", "attempts": 0, "wall_s": 0.0,
         "start_step": None, "steps": 4, "reused": False, "metrics": {}, "error": None},
    ])


def test_table_views_csv_and_summary():
    table = _table()
    assert [r["member"] for r in table.ok] == ["0000"] and [r["member"] for r in table.failed] == ["0001"]
    assert [r["member"] for r in table.skipped] == ["0002"]
    assert table.summary() == "3 members: 1 ok, 1 failed, 1 skipped"
    lines = table.to_csv().splitlines()
    assert lines[0] == ("member,status,attempts,wall_s,start_step,steps,reused,params.nu,metrics.energy,"
                        "error.task,error.step,error.type,error.message")
    assert lines[2] == "0001,failed,2,0.1,2,4,False,2,,sim,3,WorkflowError,ValueError: x"
    assert "task 'sim' step 3: ValueError: x" in table.format()
    json.dumps(list(table))  # rows are JSON data
    with pytest.raises(ValueError, match="status must be one of"):
        table.by_status("done")


def test_to_pandas_or_a_clear_import_error(monkeypatch):
    table = _table()
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            table.to_pandas()
        return
    frame = table.to_pandas()
    assert list(frame.index) == ["0000", "0001", "0002"]
    assert frame.loc["0001", "error.task"] == "sim"
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        table.to_pandas()
