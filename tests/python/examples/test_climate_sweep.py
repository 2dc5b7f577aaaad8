"""examples/ensembles/climate_sweep.py on a tiny grid: the climate example swept as an ensemble in a
process pool, with its table and figure, then resumed in this process without running anything again."""
import json
import os
import sys

import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "ensembles")
sys.path.insert(0, os.path.abspath(EXAMPLE))

import climate_sweep  # noqa: E402

TINY = ["--nx", "16", "--steps", "40", "--switch-step", "30", "--viscosities", "1e-3", "4e-3",
        "--forcings", "0.03", "--max-surrogate-error", "1.0"]


def test_sweep_runs_every_member_writes_table_and_figure_and_resumes(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert climate_sweep.main(TINY + ["--executor", "process", "--out", str(out)]) == 0
    table = json.loads((out / "results.json").read_text())
    assert [r["params"] for r in table] == [{"viscosity": 1e-3, "forcing": 0.03}, {"viscosity": 4e-3, "forcing": 0.03}]
    assert all(r["status"] == "ok" and r["metrics"]["checks_passed"] for r in table)
    assert abs(table[0]["metrics"]["mass_drift"]) < 1e-12
    # more viscosity, more dissipation: less energy left
    assert table[1]["metrics"]["energy_ratio"] < table[0]["metrics"]["energy_ratio"]
    assert (out / "results.csv").exists()
    capsys.readouterr()

    # the same sweep again, now in this process: both members finished, so nothing runs
    assert climate_sweep.main(TINY + ["--executor", "inprocess", "--out", str(out), "--resume"]) == 0
    assert capsys.readouterr().out.count("(finished earlier)") == 2
    pytest.importorskip("matplotlib")
    assert (out / "climate_sweep.png").stat().st_size > 0
