"""benchmarks/coupling on a tiny grid: the three couplings run and compute the same physics (no timing)."""
import os
import sys

import pytest

torch = pytest.importorskip("torch", reason="the coupling baselines use PyTorch")

BENCH_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks", "coupling")
sys.path.insert(0, os.path.abspath(BENCH_DIR))

import bench_coupling  # noqa: E402  (puts examples/climate on sys.path)
import coupling  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    config = coupling.RunConfig(nx=8, ny=8, steps=24, switch_step=20, train_every=10, train_iters=2,
                                batch_points=64, diag_every=5, hidden=8)
    setup = coupling.Setup(config)
    measured = bench_coupling.measure(setup, threads=torch.get_num_threads(), repeats=1, poll_s=1e-3)
    return config, measured, bench_coupling.summarize(measured, config)


def test_every_variant_conserves_mass_and_runs_the_surrogate(tiny):
    _, _, rows = tiny
    assert [row["variant"] for row in rows] == list(bench_coupling.LABELS.values())
    for row in rows:
        assert abs(row["mass_drift"]) < 1e-12, row
        assert 0 <= row["surrogate_error"] < 10, row   # it ran (a finite error), not that it learned
        assert row["ms_per_step"] > 0


def test_hyflow_and_numpy_simulations_agree_before_the_switch(tiny):
    hyflow_row, files_row, _ = tiny[2]
    assert hyflow_row["h_diff_glue_pre_switch"] < bench_coupling.PRE_SWITCH_AGREEMENT
    assert files_row["h_diff_glue_pre_switch"] == 0.0   # the same NumPy code in another process


def test_file_coupling_reproduces_the_in_process_glue(tiny):
    # the same NumPy step and PyTorch surrogate, only coupled through files: the same numbers
    files_row = tiny[2][1]
    assert files_row["h_diff_glue_final"] < 1e-12


def test_surrogate_drives_the_hyflow_run_after_the_switch(tiny):
    config, measured, _ = tiny
    sim = measured["runs"]["hyflow"][-1]["result"].state["simulate"]
    assert sim["surrogate_steps"] == config.steps - config.switch_step


def test_round_trips_cover_every_step_after_the_switch_and_hold_the_ml_work(tiny):
    config, measured, rows = tiny
    expected_steps = list(range(config.switch_step, config.steps - 1))
    for key, runs in measured["runs"].items():
        trips = runs[-1]["round_trips"]
        assert trips["steps"] == expected_steps, key
        for latency, ml in zip(trips["latency_s"], trips["ml_s"]):
            # the ML bodies run strictly between state produced and tendency in hand
            assert 0 < ml <= latency, (key, latency, ml)
    files = measured["runs"]["files"][-1]["round_trips"]
    for latency, to_ml, ml, back in zip(files["latency_s"], files["to_ml_s"], files["ml_s"], files["back_s"]):
        assert to_ml > 0 and back > 0   # one system-wide clock: the ML side's stamps fall inside the round trip
        assert abs(to_ml + ml + back - latency) < 1e-6
    for row in rows:
        assert 0 < row["round_trip_p50_ms"] <= row["round_trip_p90_ms"], row
        assert row["round_trip_samples"] == len(expected_steps)
