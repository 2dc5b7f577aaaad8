"""The climate example (examples/climate): physics, surrogate, and the main program on tiny grids."""
import dataclasses
import json
import math
import os
import sys

import numpy as np
import pytest

import hyflow as hy

EXAMPLE_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "climate")
sys.path.insert(0, os.path.abspath(EXAMPLE_DIR))

import climate  # noqa: E402
import coupling  # noqa: E402
import shallow_water as sw  # noqa: E402
import surrogate as sg  # noqa: E402


def small_run(nx=24, ny=24, seed=0, **param_changes):
    params = sw.Params(nx=nx, ny=ny, **param_changes)
    state = sw.initial_state(params, seed=seed)
    return sw.with_stable_dt(params, state), state


# ---- physics

def test_mass_is_conserved_to_round_off_with_forcing_and_dissipation():
    params, state = small_run()
    forcing = sw.WindForcing().at(params, 0.0)
    mass0 = sw.total_mass(state, params)
    for _ in range(200):
        state = sw.step(state, params, forcing=forcing)
    assert sw.is_finite(state)
    assert abs(sw.total_mass(state, params) - mass0) / mass0 < 1e-13


def test_mass_is_conserved_with_any_momentum_tendency():
    # the surrogate only changes momentum, so even a random "prediction" keeps the mass exactly
    params, state = small_run(seed=3)
    generator = hy.Generator(seed=5)
    mass0 = sw.total_mass(state, params)
    for _ in range(50):
        noise = tuple(0.01 * hy.randn(params.nx, params.ny, generator=generator).double() for _ in range(2))
        state = sw.step(state, params, momentum_tendency=noise)
    assert abs(sw.total_mass(state, params) - mass0) / mass0 < 1e-13


def test_inviscid_unforced_energy_is_nearly_conserved():
    params, state = small_run(nx=32, ny=32, nu=0.0, drag_linear=0.0, drag_quadratic=0.0)
    energy0 = sw.total_energy(state, params)
    for _ in range(100):
        state = sw.step(state, params)
    assert abs(sw.total_energy(state, params) / energy0 - 1) < 1e-3


def test_dissipation_removes_energy():
    params, state = small_run()
    du, dv = sw.dissipation_tendency(state, params)
    # the work done by the dissipation is negative
    assert (du * state.u).sum().item() + (dv * state.v).sum().item() < 0


def test_inertia_gravity_wave_converges_at_second_order():
    errors = [sw.gravity_wave_error(n) for n in (16, 32, 64)]
    orders = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert errors[-1] < 1e-2
    assert all(1.8 < order < 2.3 for order in orders), (errors, orders)


def test_time_step_respects_the_cfl_target():
    params, state = small_run()
    assert sw.max_courant(state, params) == pytest.approx(params.cfl, rel=1e-12)
    assert sw.viscous_number(params) <= 0.25


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="nx"):
        sw.Params(nx=2)
    with pytest.raises(ValueError, match="cfl"):
        sw.Params(cfl=1.5)
    params, state = small_run()
    with pytest.raises(ValueError, match="dt"):
        sw.step(state, params.replace(dt=None))
    with pytest.raises(ValueError, match="momentum_tendency"):
        sw.step(state, params, momentum_tendency=(hy.zeros(3, 3), hy.zeros(3, 3)))
    with pytest.raises(TypeError, match="forcing"):
        sw.step(state, params, forcing=5)
    with pytest.raises(FloatingPointError, match="Courant"):
        sw.check_cfl(state, params.replace(dt=params.dt * 10))


# ---- surrogate

def test_stencil_patches_layout():
    fields = hy.arange(2 * 3 * 4 * 5, dtype=hy.float64).reshape(2, 3, 4, 5)
    rows = sg.stencil_patches(fields)
    assert tuple(rows.shape) == (2 * 4 * 5, 27)
    # point (n=1, i=2, j=3), field u (1): centre value, then the east neighbour (offset (+1, 0) = index 7)
    row = rows[(1 * 4 + 2) * 5 + 3]
    assert row[9 + 4].item() == fields[1, 1, 2, 3].item()
    assert row[9 + 7].item() == fields[1, 1, 3, 3].item() - fields[1, 1, 2, 3].item()
    # the periodic wrap: west neighbour of i=0 is i=3
    row0 = rows[(0 * 4 + 0) * 5 + 0]
    assert row0[1].item() == fields[0, 0, 3, 0].item() - fields[0, 0, 0, 0].item()
    back = sg.rows_to_fields(sg.fields_to_rows(fields), 2, 4, 5)
    assert (back - fields).abs().max().item() == 0


def test_surrogate_learns_the_dissipation_on_a_tiny_problem():
    params, state = small_run(seed=1)
    states = []
    for i in range(300):
        state = sw.step(state, params)
        if i % 20 == 0:
            states.append(state)
    model = sg.make_model(0)
    opt = sg.make_optimizer(model)
    inputs, targets = sg.make_batch(states, params)
    losses = sg.train_steps(model, opt, inputs, targets, 150)
    assert losses[-1] < 0.05 * losses[0]
    unseen = state    # 20 steps after the last training state
    error = sg.relative_error(sg.predict_tendency(model, unseen), sw.dissipation_tendency(unseen, params))
    assert error < 0.2


def test_surrogate_minibatches_are_reproducible():
    params, state = small_run()
    inputs, targets = sg.make_batch([state], params)
    runs = []
    for _ in range(2):
        model = sg.make_model(7)
        runs.append(sg.train_steps(model, sg.make_optimizer(model), inputs, targets, 3, batch_points=64,
                                   generator=hy.Generator(seed=11)))
    assert runs[0] == runs[1]


def test_relative_error_and_bad_inputs():
    a = hy.ones(2, 3, dtype=hy.float64)
    assert sg.relative_error(a, a) == 0
    assert sg.relative_error(2 * a, a) == pytest.approx(1.0)
    assert sg.relative_error((a, a), (a, 3 * a)) == pytest.approx(2 * math.sqrt(6) / math.sqrt(60))
    with pytest.raises(ValueError, match="shapes"):
        sg.relative_error(a, hy.ones(3, 2))
    params, state = small_run()
    inputs, targets = sg.make_batch([state], params)
    model = sg.make_model(0)
    with pytest.raises(ValueError, match="n must be"):
        sg.train_steps(model, sg.make_optimizer(model), inputs, targets, -1)
    with pytest.raises(ValueError, match="empty"):
        sg.make_batch([], params)


# ---- coupling and the main program

TINY = ["--nx", "16", "--ny", "16", "--steps", "60", "--train-every", "10", "--switch-step", "40",
        "--diag-every", "5", "--no-plot", "--no-progress", "--max-surrogate-error", "1.0"]


def test_run_config_rejects_a_switch_before_the_first_training():
    with pytest.raises(ValueError, match="switch_step"):
        coupling.RunConfig(train_every=10, switch_step=5)
    with pytest.raises(TypeError, match="steps"):
        coupling.RunConfig(steps=1.5)


def test_run_config_viscosity_reaches_the_model_and_is_checked():
    assert coupling.Setup(coupling.RunConfig(nx=8, ny=8, viscosity=4e-3)).params.nu == 4e-3
    assert coupling.Setup(coupling.RunConfig(nx=8, ny=8)).params.nu == sw.Params().nu
    with pytest.raises(ValueError, match="viscosity must be >= 0"):
        coupling.RunConfig(viscosity=-1e-3)
    assert climate.config_from_args(climate.parse_args(["--viscosity", "2e-3"])).viscosity == 2e-3


def test_loop_runs_and_hands_over_to_the_surrogate(tmp_path):
    code = climate.main(TINY + ["--engine", "loop", "--out", str(tmp_path)])
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["surrogate_steps"] == 20          # steps 40..59 use infer's prediction
    assert summary["trainings"] == 6
    assert abs(summary["mass_drift"]) < 1e-12
    assert all(summary["checks"].values())
    assert (tmp_path / "surrogate.safetensors").exists()


def test_failed_check_gives_a_non_zero_exit_code(tmp_path):
    args = [a for a in TINY if a not in ("--max-surrogate-error", "1.0")]
    assert climate.main(args + ["--engine", "loop", "--out", str(tmp_path), "--max-surrogate-error", "0"]) == 1


needs_workflow = pytest.mark.skipif(not climate.workflow_available(), reason="hyflow.workflow is not in this build")


@needs_workflow
def test_workflow_matches_the_plain_loop(tmp_path):
    config = coupling.RunConfig(nx=16, ny=16, steps=60, train_every=10, switch_step=40, diag_every=5)
    reference = coupling.run_loop(coupling.Setup(config))
    result = climate.build_workflow(coupling.Setup(config)).run(config.steps)
    for name in ("h", "u", "v"):
        assert (result.state["simulate"][name] - reference["simulate"][name]).abs().max().item() == 0
    assert result.state["infer"]["history"]["error"] == reference["infer"]["history"]["error"]
    assert result.state["train"]["history"]["loss"] == reference["train"]["history"]["loss"]


@needs_workflow
def test_main_program_runs_end_to_end_on_the_workflow(tmp_path):
    assert climate.main(TINY + ["--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["engine"] == "workflow"
    assert summary["surrogate_steps"] == 20
    assert (tmp_path / "trace.json").exists()


@needs_workflow
def test_resumed_workflow_ends_where_an_uninterrupted_one_does(tmp_path):
    config = coupling.RunConfig(nx=16, ny=16, steps=60, train_every=10, switch_step=40, diag_every=5)
    reference = climate.build_workflow(coupling.Setup(config)).run(config.steps).state
    ckpt = str(tmp_path / "ckpt")
    climate.build_workflow(coupling.Setup(config)).run(50, checkpoint_every=25, checkpoint_dir=ckpt)
    resumed = climate.build_workflow(coupling.Setup(config)).run(config.steps, checkpoint_dir=ckpt, resume=True)
    assert resumed.start_step == 50
    for name in ("h", "u", "v"):
        assert (resumed.state["simulate"][name] - reference["simulate"][name]).abs().max().item() == 0
    assert resumed.state["infer"]["history"]["error"] == reference["infer"]["history"]["error"]
    assert resumed.state["train"]["history"]["loss"] == reference["train"]["history"]["loss"]


@needs_workflow
def test_compiled_solver_step_matches_the_eager_one(tmp_path):
    # @wf.task(compile=True) runs simulate's solver step compiled; the eager run agrees within round-off.
    config = coupling.RunConfig(nx=16, ny=16, steps=30, train_every=10, switch_step=20, diag_every=5)
    eager_config = dataclasses.replace(config, compile=False)
    wf = climate.build_workflow(coupling.Setup(config))
    compiled = wf.run(config.steps)
    eager = climate.build_workflow(coupling.Setup(eager_config)).run(config.steps)
    assert wf["simulate"].compile is True and wf["simulate"]._compiled
    (solver,) = [c for _, c in wf["simulate"]._compiled.values()]
    assert all(e.program is not None for e in solver.entries())   # exact dissipation, then the surrogate's
    for name in ("h", "u", "v"):
        a, b = compiled.state["simulate"][name], eager.state["simulate"][name]
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(compiled.state["train"]["history"]["loss"], eager.state["train"]["history"]["loss"],
                               rtol=1e-5)
