"""A workflow declared in YAML is the same graph as its Python declaration (describe() compares equal),
and `python -m hyflow run` runs a YAML workflow end to end on the real engine: statistics, trace,
checkpoints, resume, and a failing task's exit status."""
import importlib
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("yaml")

from hyflow.workflow import Workflow, load_workflow  # noqa: E402

TASKS = textwrap.dedent('''
    """Task functions of the YAML workflow (imported through its pythonpath)."""
    import os

    import hyflow as hy


    def simulate(ctx):
        u = ctx.state.setdefault("u", hy.zeros(4))
        ctx.state["u"] = u + 1
        return ctx.state["u"]


    def train(ctx, batch):
        ctx.state["seen"] = ctx.state.get("seen", 0) + len(batch)
        if os.environ.get("FAIL_TRAIN_AT") == str(ctx.step):
            raise RuntimeError(f"train diverged at {ctx.step}")
        return float(batch[-1].sum().item())


    def infer(ctx, state, loss):
        return state * 2


    def correct(ctx, fixes):
        if not fixes:  # a feedback input does not gate firing: correct runs every step
            return
        ctx.state["fixes"] = ctx.state.get("fixes", 0) + len(fixes)
        with open(os.environ["STEP_LOG"], "a") as f:
            f.write(f"{ctx.step}\\n")


    def after_warmup(ctx):
        return ctx.step >= 2
''')

YAML = textwrap.dedent('''
    name: yaml-surrogate
    seed: 3
    pythonpath: [.]
    channels:
      states: {capacity: 4, policy: block}
      losses: {policy: latest}
      fixes: {capacity: 8, policy: drop_oldest}
    tasks:
      simulate: {fn: "{mod}:simulate", outputs: [states]}
      correct: {fn: "{mod}:correct", inputs: [fixes], ranks: "0:-1"}       # fixes: a feedback edge
      train: {fn: "{mod}:train", inputs: [states], outputs: [losses], every: 2, offset: 1, retries: 1}
      infer: {fn: "{mod}:infer", inputs: [simulate, train], when: "{mod}:after_warmup", ranks: last,
              outputs: [fixes]}
    run:
      steps: 8
      checkpoint_every: 3
      checkpoint_dir: ckpt
''')


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with the tasks module (a name of its own per test) and the YAML file."""
    mod = f"yaml_tasks_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{mod}.py").write_text(TASKS)
    (tmp_path / "wf.yaml").write_text(YAML.replace("{mod}", mod))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path, mod
    sys.modules.pop(mod, None)


def python_declaration(mod):
    m = importlib.import_module(mod)
    wf = Workflow("yaml-surrogate", seed=3)
    states = wf.channel("states", capacity=4, policy="block")
    losses = wf.channel("losses", policy="latest")
    fixes = wf.channel("fixes", capacity=8, policy="drop_oldest")
    simulate = wf.task(m.simulate, outputs=[states])
    wf.task(m.correct, inputs=[fixes], ranks="0:-1")
    train = wf.task(m.train, inputs=[states], outputs=[losses], every=2, offset=1, retries=1)
    wf.task(m.infer, inputs=[simulate, train], when=m.after_warmup, ranks="last", outputs=[fixes])
    return wf


def test_yaml_and_python_declare_the_same_graph(project):
    folder, mod = project
    from_yaml, run_kwargs = load_workflow(folder / "wf.yaml")
    assert from_yaml.describe() == python_declaration(mod).describe()
    assert run_kwargs == {"steps": 8, "checkpoint_every": 3, "checkpoint_dir": str(folder / "ckpt")}
    described = from_yaml.describe()
    assert [c["delay"] for c in described["channels"]] == [0, 0, 1]  # fixes goes back to the earlier `correct`
    assert from_yaml.to_dot() == python_declaration(mod).to_dot()


def test_yaml_and_python_run_to_the_same_result(project, monkeypatch):
    folder, mod = project
    monkeypatch.setenv("STEP_LOG", str(folder / "steps.log"))
    from_yaml, _ = load_workflow(folder / "wf.yaml")
    a, b = from_yaml.run(steps=8), python_declaration(mod).run(steps=8)
    assert a.state["simulate"]["u"].tolist() == b.state["simulate"]["u"].tolist() == [8.0] * 4
    assert a.state["train"] == b.state["train"] == {"seen": 8}
    assert a.state["correct"] == b.state["correct"]


def hyflow_cli(folder, *args, env=None):
    env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "hyflow", "run", "wf.yaml", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


def test_hyflow_run_cli_end_to_end(project):
    folder, _ = project
    log = folder / "steps.log"
    done = hyflow_cli(folder, "--no-progress", "--trace", "trace.json", "--dot", "wf.dot", env={"STEP_LOG": str(log)})
    assert done.returncode == 0 and done.stdout.startswith("8 steps"), done.stderr
    for task in ("simulate", "train", "infer", "correct"):
        assert task in done.stdout
    trace = json.loads((folder / "trace.json").read_text())
    names = {e.get("name") for e in trace["traceEvents"]}
    assert {"simulate", "train"} <= names or any("simulate" in str(n) for n in names), names
    assert (folder / "wf.dot").read_text().startswith('digraph "yaml-surrogate"')
    assert sorted(os.listdir(folder / "ckpt")) == ["LATEST", "step-00000003", "step-00000006"]
    # infer runs at 3, 5, 7 (train's steps from step 2 on); correct sees each fix one step later
    assert log.read_text().split() == ["4", "6"]

    # --resume with more steps continues from the newest checkpoint (step 6): step 6 runs again (at least
    # once for side effects), with the fix of step 5 that the checkpoint kept in the channel
    done = hyflow_cli(folder, "--no-progress", "--resume", "--steps", "10", env={"STEP_LOG": str(log)})
    assert done.returncode == 0 and done.stdout.startswith("4 steps"), done.stderr
    assert log.read_text().split() == ["4", "6", "6", "8"]


def test_hyflow_run_cli_reports_a_failing_task(project):
    folder, _ = project
    done = hyflow_cli(folder, "--no-progress", "--checkpoint-dir", "other",
                      env={"STEP_LOG": str(folder / "log"), "FAIL_TRAIN_AT": "3"})
    assert "task 'train' failed at step 3 after 2 attempt(s)" in done.stderr
    assert "RuntimeError: train diverged at 3" in done.stderr
    assert done.returncode == 1, done.stderr[-2000:]
