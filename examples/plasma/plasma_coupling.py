"""The coupled run of the plasma example: what each task does, and a plain Python loop that runs them.

Five tasks, each a function of (its own state dict, the step, its inputs):

    field        -> deposit the electrons' charge (CIC) and solve Poisson's equation spectrally    (every step)
    train        -> Adam steps of the ML field model on the (rho, E) pairs since its last call  (every train_every)
    infer        -> from switch_step on, the model's field for this step's rho, and its error
                    against the Poisson solve                                                  (every step)
    push         -> the leapfrog step of every particle in the model's field (from the switch)
                    or the Poisson field (before)                                              (every step)
    diagnostics  -> field, kinetic and total energy, momentum, the k mode's amplitude;
                    fails the run on NaN                                                      (every diag_every)

plasma.py wires the same functions into a hyflow.workflow.Workflow; `run_loop` calls them in the
workflow's declaration order with the same data flow, so both give the same numbers (tested).
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time

import hyflow as hy

import rates
import field_model as fm
import pic

TASKS = ("field", "train", "infer", "push", "diagnostics")
CASES = ("landau", "two-stream")

# What differs between the two physics cases (RunConfig.for_case fills these in).
CASE_DEFAULTS = {
    "landau": {"steps": 300, "amplitude": 0.01},        # t = 30; the fit uses t <= fit_until = 20
    "two-stream": {"steps": 400, "amplitude": 1e-4},    # t = 40; saturation near t = 30
}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's numbers (the command-line flags of plasma.py)."""

    case: str = "landau"
    n_particles: int = 2 ** 17
    n_cells: int = 64
    steps: int = 300
    dt: float = 0.1
    amplitude: float = 0.01       # density perturbation of the k = 0.5 mode
    v_thermal: float = 1.0        # landau: thermal speed
    beam_size: int = 4            # landau quiet start: particles per velocity level (pic.landau_start)
    beam_speed: float = 1.0       # two-stream: the beams move at +-beam_speed
    switch_step: int = 100        # from this step on the ML model's field drives the particles
    train_every: int = 10
    train_iters: int = 40         # Adam steps per training call
    lr: float = 2e-3
    diag_every: int = 1           # the fits need the field energy at every step
    fit_until: float = 20.0       # landau: fit the peaks in t <= fit_until (before the noise floor)
    growth_window: tuple = (1e-2, 0.2)   # two-stream: fit where the amplitude is in this range x its maximum

    def __post_init__(self):
        if self.case not in CASES:
            raise ValueError(f"RunConfig: case must be one of {CASES}, got {self.case!r}")
        for name in ("n_particles", "n_cells", "steps", "beam_size", "switch_step", "train_every", "train_iters",
                     "diag_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"RunConfig: {name} must be an int, got {type(value).__name__}")
        for name in ("steps", "train_every", "train_iters", "diag_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"RunConfig: {name} must be >= 1, got {getattr(self, name)}")
        if self.switch_step < self.train_every:
            raise ValueError(f"RunConfig: switch_step ({self.switch_step}) must be >= train_every "
                             f"({self.train_every}): the model needs one training before it takes over")
        for name in ("dt", "lr", "v_thermal", "beam_speed", "fit_until"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"RunConfig: {name} must be positive and finite, got {value}")
        if not 0 < abs(self.amplitude) < 1:
            raise ValueError(f"RunConfig: amplitude must be in (-1, 1) and not 0, got {self.amplitude}")
        low, high = self.growth_window
        if not 0 < low < high <= 1:
            raise ValueError(f"RunConfig: growth_window must be (low, high) with 0 < low < high <= 1, got "
                             f"{self.growth_window}")
        self.params()   # checks n_cells, n_particles

    @classmethod
    def for_case(cls, case: str, **changes) -> "RunConfig":
        """The defaults of `case` (CASE_DEFAULTS), then `changes` (None values are ignored)."""
        if case not in CASE_DEFAULTS:
            raise ValueError(f"RunConfig.for_case: case must be one of {CASES}, got {case!r}")
        values = dict(CASE_DEFAULTS[case], case=case)
        values.update({name: value for name, value in changes.items() if value is not None})
        return cls(**values)

    def params(self) -> pic.Params:
        return pic.Params(n_cells=self.n_cells, n_particles=self.n_particles, dt=self.dt)

    @property
    def train_offset(self) -> int:
        """train fires at steps train_every - 1, 2 train_every - 1, ...: each time with train_every new samples."""
        return self.train_every - 1


class Setup:
    """What every task shares and never changes: the config, the grid, the Poisson solver and the initial
    particles (x^0 and the leapfrog's v^{-1/2}). Rebuilt identically on resume."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.params = params = config.params()
        self.solver = pic.PoissonSolver(params)
        if config.case == "landau":
            start = pic.landau_start(params, config.amplitude, config.v_thermal, config.beam_size)
        else:
            start = pic.two_stream_start(params, config.beam_speed, config.amplitude)
        self.initial = pic.half_step_back(start, self.solver(pic.charge_density(start.x, params)), params)

    def theory(self) -> dict:
        """The linear-theory values the checks compare with."""
        if self.config.case == "landau":
            return {"gamma": rates.LANDAU_GAMMA, "omega": rates.LANDAU_OMEGA}
        return {"gamma": rates.two_stream_growth_rate(self.params.k_fundamental, self.config.beam_speed)}


# ---- the task bodies (state: the task's own dict, checkpointed by the workflow)

def field_body(state: dict, step: int, positions: dict | None, setup: Setup) -> dict:
    """Deposit and solve. positions: push's output of the previous step ({"x": ...}), None at step 0."""
    x = setup.initial.x if positions is None else positions["x"]
    rho = pic.charge_density(x, setup.params)
    return {"rho": rho, "field": setup.solver(rho)}


def train_body(state: dict, step: int, batch: list, setup: Setup) -> dict:
    """Train on `batch` (field's {"rho", "field"} since the last call); returns a copy of the weights."""
    config = setup.config
    if "model" not in state:   # also after a resume, when the checkpointed weights wait for an object
        state["model"] = fm.make_model(config.n_cells)
    if "opt" not in state:
        state["opt"] = fm.make_optimizer(state["model"], lr=config.lr)
    model, opt = state["model"], state["opt"]
    history = state.setdefault("history", {"step": [], "loss": [], "validation_error": []})
    # the error on the newest sample before the model has trained on it: how well it generalises
    newest = batch[-1]
    if model.normalisation_set.item() != 0:
        validation = fm.relative_error(fm.predict_field(model, newest["rho"]), newest["field"])
    else:
        validation = float("nan")
    rho = hy.stack([item["rho"] for item in batch])
    field = hy.stack([item["field"] for item in batch])
    losses = fm.train_steps(model, opt, rho, field, config.train_iters)
    history["step"].append(step)
    history["loss"].append(losses[-1])
    history["validation_error"].append(validation)
    # a copy: Adam updates the parameters in place while infer may still be using this snapshot
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def infer_body(state: dict, step: int, current: dict, weights, setup: Setup) -> dict:
    """From switch_step on, {"field": the model's field for this step's rho}, recording its error against
    the Poisson solve; {} (use the solver) before. weights: new weights from train, or None.

    It runs every step (push needs its value every step; an empty dict means "no prediction")."""
    if "model" not in state:
        state["model"] = fm.make_model(setup.config.n_cells)
    if weights is not None:
        state["model"].load_state_dict(weights)
        state["has_weights"] = True
    if step < setup.config.switch_step:
        return {}
    if not state.get("has_weights", False):
        raise RuntimeError(f"infer at step {step}: no weights have arrived from train yet")
    prediction = fm.predict_field(state["model"], current["rho"])
    history = state.setdefault("history", {"step": [], "error": []})
    history["step"].append(step)
    history["error"].append(fm.relative_error(prediction, current["field"]))
    return {"field": prediction}


def push_body(state: dict, step: int, exact: dict, predicted: dict, setup: Setup) -> dict:
    """Advance every particle one leapfrog step in the model's field when infer sent one, else in the
    Poisson field. Returns the new positions and velocities, the half-step velocities before the push and
    the field used (plain data, so channels holding it can be checkpointed)."""
    if "x" not in state:
        state.update(x=setup.initial.x, v=setup.initial.v, ml_steps=0)
    field = predicted.get("field")
    if field is None:
        field = exact["field"]
    else:
        state["ml_steps"] += 1
    before = pic.Particles(state["x"], state["v"])
    after = pic.push(before, field, setup.params)
    state.update(x=after.x, v=after.v)
    return {"x": after.x, "v": after.v, "v_before": before.v, "field": field}


def diagnostics_body(state: dict, step: int, current: dict, setup: Setup) -> None:
    """Record the energies at step `step` (t = step dt), the momentum after its push and the k mode's
    amplitude; raise on NaN or inf."""
    params = setup.params
    particles = pic.Particles(current["x"], current["v"])
    if not pic.is_finite(particles):
        raise FloatingPointError(f"diagnostics: a particle position or velocity is NaN or inf after step {step}")
    history = state.setdefault("history", {"step": [], "time": [], "field_energy": [], "kinetic_energy": [],
                                           "momentum": [], "mode_amplitude": []})
    if "momentum_scale" not in state:
        state["momentum_scale"] = pic.momentum_scale(current["v"], params)
    history["step"].append(step)
    history["time"].append(step * params.dt)
    history["field_energy"].append(pic.field_energy(current["field"], params))
    history["kinetic_energy"].append(pic.kinetic_energy(current["v_before"], current["v"], params))
    history["momentum"].append(pic.momentum(current["v"], params))
    history["mode_amplitude"].append(pic.mode_amplitude(current["field"]))


# ---- the plain loop

def fires(step: int, every: int, offset: int = 0) -> bool:
    return step >= offset and (step - offset) % every == 0


def run_loop(setup: Setup, progress: bool = False, task_seconds: dict | None = None) -> dict:
    """Run all tasks in a plain Python loop; returns {task name: its final state dict}.

    Local variables play the channels: `positions` (push -> field, one step later), `unread_samples`
    (train's queue) and `weights_for_infer` (train -> infer, one step later: the workflow's weights
    channel is delayed so that train can run beside the next step's push).
    """
    config = setup.config
    states = {name: {} for name in TASKS}
    seconds = {name: 0.0 for name in TASKS}

    def timed(name, fn, *args):
        begin = time.perf_counter()
        value = fn(*args)
        seconds[name] += time.perf_counter() - begin
        return value

    positions, unread_samples, weights_for_infer = None, [], None
    start = time.perf_counter()
    for step in range(config.steps):
        current = timed("field", field_body, states["field"], step, positions, setup)
        unread_samples.append(current)
        new_weights = None
        if fires(step, config.train_every, config.train_offset):
            new_weights = timed("train", train_body, states["train"], step, unread_samples, setup)
            unread_samples = []
        predicted = timed("infer", infer_body, states["infer"], step, current, weights_for_infer, setup)
        weights_for_infer = new_weights
        positions = timed("push", push_body, states["push"], step, current, predicted, setup)
        if fires(step, config.diag_every):
            timed("diagnostics", diagnostics_body, states["diagnostics"], step, positions, setup)
        if progress and (step + 1) % max(1, config.steps // 20) == 0:
            print(f"\r  {config.case}: step {step + 1}/{config.steps}  {time.perf_counter() - start:.1f}s", end="",
                  file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    if task_seconds is not None:
        task_seconds.update(seconds)
    return states
