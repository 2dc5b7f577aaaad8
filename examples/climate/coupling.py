"""The coupled run of the climate example: what each task does, and a plain Python loop that runs them.

Five tasks, each a function of (its own state dict, the step, its inputs):

    forcing      -> the wind forcing for this step's time                           (every step)
    simulate     -> one shallow-water step; dissipation exact, or the surrogate's
                    tendency once `infer` delivers one                              (every step)
    train        -> a few AdamW steps on the states since its last call             (every train_every)
    infer        -> the surrogate's tendency for the next step, and its error
                    against the exact dissipation                    (every step; output from switch_step - 1)
    diagnostics  -> mass, energy, Courant number; fails the run on NaN or a CFL blow-up (every diag_every)

climate.py wires the same functions into a hyflow.workflow.Workflow (tasks and channels); `run_loop`
calls them in the workflow's declaration order with the same data flow, so both give the same
numbers. The loop is the reference the workflow is tested against and what the benchmarks compare with.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time

import hyflow as hy

import shallow_water as sw
import surrogate as sg

TASKS = ("forcing", "simulate", "train", "infer", "diagnostics")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's numbers (the command-line flags of climate.py)."""

    nx: int = 64
    ny: int = 64
    steps: int = 3000
    train_every: int = 10
    train_iters: int = 16         # AdamW steps per training call
    batch_points: int = 2048      # grid points sampled for each AdamW step
    switch_step: int = 2000       # from this step on the surrogate replaces the exact dissipation
    diag_every: int = 10
    seed: int = 0
    hidden: int = 32
    lr: float = 3e-3
    forcing_amplitude: float = 0.03
    viscosity: float = 1e-3       # harmonic viscosity nu of the dissipation (Params.nu)
    surrogate_runtime: str = "eager"   # "ort": the surrogate's inference runs in ONNX Runtime (surrogate_ort.py)
    compile: bool = True          # the solver step runs compiled (hy.compile / @wf.task(compile=True))

    def __post_init__(self):
        for name in ("nx", "ny", "steps", "train_every", "train_iters", "batch_points", "switch_step", "diag_every",
                     "hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"RunConfig: {name} must be an int, got {type(value).__name__}")
        for name in ("steps", "train_every", "train_iters", "batch_points", "diag_every", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"RunConfig: {name} must be >= 1, got {getattr(self, name)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 30:
            raise ValueError(f"RunConfig: seed must be an int in [0, 2**30), got {self.seed!r}")
        if self.nx < 3 or self.ny < 3:
            raise ValueError(f"RunConfig: nx and ny must be >= 3, got {self.nx} x {self.ny}")
        if self.switch_step < self.train_every:
            raise ValueError(f"RunConfig: switch_step ({self.switch_step}) must be >= train_every "
                             f"({self.train_every}): the surrogate needs one training before it takes over")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"RunConfig: lr must be positive, got {self.lr}")
        if not isinstance(self.compile, bool):
            raise TypeError(f"RunConfig: compile must be a bool, got {type(self.compile).__name__}")
        if not self.forcing_amplitude >= 0:
            raise ValueError(f"RunConfig: forcing_amplitude must be >= 0, got {self.forcing_amplitude}")
        if not (self.viscosity >= 0 and math.isfinite(self.viscosity)):
            raise ValueError(f"RunConfig: viscosity must be >= 0 and finite, got {self.viscosity}")
        if self.surrogate_runtime not in ("eager", "ort"):
            raise ValueError(f"RunConfig: surrogate_runtime must be 'eager' or 'ort', got {self.surrogate_runtime!r}")

    @property
    def train_offset(self) -> int:
        """train fires at steps train_every - 1, 2 train_every - 1, ...: each time with train_every new states."""
        return self.train_every - 1

    @property
    def infer_from(self) -> int:
        """infer at step s predicts the tendency simulate uses at step s + 1."""
        return self.switch_step - 1


class Setup:
    """What every task shares and never changes: the config, the grid parameters (with the time step
    picked from the initial state) and the forcing pattern. Rebuilt identically on resume."""

    def __init__(self, config: RunConfig):
        self.config = config
        params = sw.Params(nx=config.nx, ny=config.ny, nu=config.viscosity)
        self.initial = sw.initial_state(params, seed=config.seed)
        self.params = sw.with_stable_dt(params, self.initial)
        self.forcing = sw.WindForcing(amplitude=config.forcing_amplitude)
        self.forcing_pattern = self.forcing.pattern(self.params)
        self.solver = make_solver(self.params)


def make_solver(params: sw.Params):
    """The solver step as a function of tensors only, (h, u, v, forcing, tendency) -> (h, u, v): the pure
    tensor code hy.compile traces (a State or Params argument would be guarded by identity, and the model
    time is plain Python arithmetic done outside). tendency None means the exact dissipation."""
    def solver_step(h, u, v, forcing, tendency):
        return sw.step(sw.State(h, u, v, 0.0), params, momentum_tendency=tendency, forcing=forcing).fields()
    return solver_step


# ---- the task bodies (state: the task's own dict, checkpointed by the workflow)

def forcing_body(step: int, setup: Setup):
    fu, fv = setup.forcing_pattern
    return fu * setup.forcing.factor(step * setup.params.dt), fv


def simulate_body(state: dict, step: int, forcing, tendency, setup: Setup, solver=None) -> dict:
    """Advance the model one step. tendency: the surrogate's (du, dv), or None for the exact dissipation.
    solver: setup.solver, possibly compiled (the workflow passes ctx.compile(setup.solver)); None runs it
    eagerly.

    Returns the new state as State.as_dict(): plain data, so channels holding it can be checkpointed.
    """
    params = setup.params
    if "h" not in state:
        initial = setup.initial
        state.update(h=initial.h, u=initial.u, v=initial.v, t=initial.t, surrogate_steps=0,
                     initial_mass=sw.total_mass(initial, params), initial_energy=sw.total_energy(initial, params))
    current = sw.State(state["h"], state["u"], state["v"], state["t"])
    h, u, v = (solver or setup.solver)(current.h, current.u, current.v, forcing, tendency)
    new = sw.State(h, u, v, current.t + params.dt)   # sw.step's own time update
    state.update(h=new.h, u=new.u, v=new.v, t=new.t)
    if tendency is not None:
        state["surrogate_steps"] += 1
    return new.as_dict()   # step() never writes in place, so consumers may keep it as long as they like


def train_body(state: dict, step: int, batch: list, setup: Setup) -> dict:
    """Train on `batch` (the states since the last call, as dicts); returns a snapshot of the weights for infer."""
    config = setup.config
    batch = [sw.State.from_dict(item) for item in batch]
    # `not in` is also true after a resume, when the checkpointed weights wait for an object to load into
    if "model" not in state:
        state["model"] = sg.make_model(config.seed, hidden=config.hidden)
    if "opt" not in state:
        state["opt"] = sg.make_optimizer(state["model"], lr=config.lr)
    model, opt = state["model"], state["opt"]
    history = state.setdefault("history", {"step": [], "loss": [], "validation_error": []})
    inputs, targets = sg.make_batch(batch, setup.params)
    # error on the newest state before the model has seen it: an honest measure of how well it generalises
    if model.normalisation_set.item() != 0:
        prediction = sg.predict_tendency(model, batch[-1])
        validation = sg.relative_error(prediction, (targets[-1, 0], targets[-1, 1]))
    else:
        validation = float("nan")
    # minibatches drawn from a generator seeded by (seed, step): the same on every run and after a resume
    sampler = hy.Generator(seed=(config.seed << 32) + step)
    losses = sg.train_steps(model, opt, inputs, targets, config.train_iters, config.batch_points, sampler)
    history["step"].append(step)
    history["loss"].append(losses[-1])
    history["validation_error"].append(validation)
    # a copy: the optimiser updates the parameters in place while infer may still be using this snapshot
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def infer_body(state: dict, step: int, current: dict, weights, setup: Setup):
    """The surrogate's tendency for `current` (which simulate uses next step), recording its error;
    None before step switch_step - 1. `weights`: new weights from train, or None.

    It runs (and reads its inputs) every step, also before the switch: an unread input would keep
    every state since step 0 alive in the workflow's channel.
    """
    if "model" not in state:   # first call, or after a resume: then the checkpointed weights load into it
        state["model"] = sg.make_model(setup.config.seed, hidden=setup.config.hidden)
    if weights is not None:
        state["model"].load_state_dict(weights)
        state["has_weights"] = True
    if step < setup.config.infer_from:
        return None
    if not state.get("has_weights", False):
        raise RuntimeError(f"infer at step {step}: no weights have arrived from train yet")
    current = sw.State.from_dict(current)
    if setup.config.surrogate_runtime == "ort":
        # The exported copy is a cache of the weights, kept on the setup (not in the checkpointed state):
        # remade when new weights arrived, and on the first inference after a resume.
        if weights is not None or getattr(setup, "ort_surrogate", None) is None:
            import surrogate_ort
            setup.ort_surrogate = surrogate_ort.OrtSurrogate(state["model"], threads=1)
        prediction = setup.ort_surrogate.predict_tendency(current)
    else:
        prediction = sg.predict_tendency(state["model"], current)
    exact = sw.dissipation_tendency(current, setup.params)
    history = state.setdefault("history", {"step": [], "error": []})
    history["step"].append(step)
    history["error"].append(sg.relative_error(prediction, exact))
    return prediction


def diagnostics_body(state: dict, step: int, current: dict, setup: Setup) -> None:
    """Record mass, energy and the Courant number; raise on NaN or a Courant number above 1."""
    params = setup.params
    current = sw.State.from_dict(current)
    if not sw.is_finite(current):
        raise FloatingPointError(f"diagnostics: the model state holds NaN or inf after step {step}")
    courant = sw.check_cfl(current, params, limit=1.0)
    history = state.setdefault("history", {"step": [], "time": [], "mass": [], "energy": [], "courant": []})
    history["step"].append(step)
    history["time"].append(current.t)
    history["mass"].append(sw.total_mass(current, params))
    history["energy"].append(sw.total_energy(current, params))
    history["courant"].append(courant)


# ---- the plain loop

def fires(step: int, every: int, offset: int = 0) -> bool:
    return step >= offset and (step - offset) % every == 0


def run_loop(setup: Setup, progress: bool = False, task_seconds: dict | None = None) -> dict:
    """Run all tasks in a plain Python loop; returns {task name: its final state dict}.

    The local variables play the channels: `unread_states` (train's queue), `unread_weights` (the
    newest weights infer has not read) and `next_tendency` (infer's output for the next step).
    task_seconds: when given, filled with the seconds spent in each task's body.
    """
    config = setup.config
    states = {name: {} for name in TASKS}
    seconds = {name: 0.0 for name in TASKS}

    def timed(name, fn, *args):
        begin = time.perf_counter()
        value = fn(*args)
        seconds[name] += time.perf_counter() - begin
        return value

    unread_states, unread_weights, next_tendency = [], None, None
    solver = hy.compile(setup.solver) if config.compile else setup.solver
    start = time.perf_counter()
    for step in range(config.steps):
        forcing = timed("forcing", forcing_body, step, setup)
        current = timed("simulate", simulate_body, states["simulate"], step, forcing, next_tendency, setup, solver)
        unread_states.append(current)
        if fires(step, config.train_every, config.train_offset):
            unread_weights = timed("train", train_body, states["train"], step, unread_states, setup)
            unread_states = []
        next_tendency = timed("infer", infer_body, states["infer"], step, current, unread_weights, setup)
        unread_weights = None
        if fires(step, config.diag_every):
            timed("diagnostics", diagnostics_body, states["diagnostics"], step, current, setup)
        if progress and (step + 1) % max(1, config.steps // 20) == 0:
            print(f"\r  step {step + 1}/{config.steps}  {time.perf_counter() - start:.1f}s", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    if task_seconds is not None:
        task_seconds.update(seconds)
    return states


def final_state(task_states: dict) -> sw.State:
    sim = task_states["simulate"]
    return sw.State(sim["h"], sim["u"], sim["v"], sim["t"])
