"""YAML workflow files: the build step through the Workflow API (a recording fake stands in for the
engine), and one clear SpecError per kind of mistake, naming file, key path and line."""
import itertools
import sys

import pytest

pytest.importorskip("yaml")

from hyflow.workflow import spec_yaml  # noqa: E402
from hyflow.workflow.spec_yaml import SpecError, load_workflow  # noqa: E402


class FakeWorkflow:
    """Records the public Workflow API calls the loader makes."""

    def __init__(self, name, seed=None):
        self.name, self.seed, self.calls = name, seed, []

    def channel(self, name, **kwargs):
        self.calls.append(("channel", name, kwargs))
        return name

    def task(self, fn, **kwargs):
        if kwargs.get("every") == 13:
            raise ValueError("every=13 is unlucky")      # an error from the engine's own checks
        self.calls.append(("task", fn, kwargs))
        return fn


USER_MODULE = """
def simulate(ctx):
    return ctx.step

def train(ctx, batch):
    pass

def infer(ctx, state):
    pass

def after_warmup(ctx):
    return ctx.step > 10

class Tools:
    @staticmethod
    def check(ctx):
        return True

NOT_CALLABLE = 3
"""

EXAMPLE = """\
name: shallow-water-surrogate
seed: 7
pythonpath: [code]
channels:
  states: {capacity: 8, policy: block}
  late: {delay: 1}
tasks:
  simulate: {fn: "wfmod_NAME:simulate", every: 1, outputs: [states, late]}
  train:    {fn: "wfmod_NAME:train", inputs: [states], every: 10, offset: 5, retries: 2, compile: true}
  infer:    {fn: "wfmod_NAME:infer", inputs: [simulate], when: "wfmod_NAME:Tools.check", ranks: last, compile: {mode: max-autotune}}
run: {steps: 2000, checkpoint_every: 100, checkpoint_dir: ckpt, resume: false}
"""


_MODULE_NUMBERS = itertools.count()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with code/wfmod_<test>.py; returns a function writing a YAML file into it."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    module = f"wfmod_{next(_MODULE_NUMBERS)}"   # a fresh name per test: sys.modules caches imports
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / f"{module}.py").write_text(USER_MODULE)
    yield lambda text, name="wf.yaml": _write(tmp_path / name, text.replace("wfmod_NAME", module)), module
    sys.modules.pop(module, None)


def _write(path, text):
    path.write_text(text)
    return path


def load(path):
    return load_workflow(path, workflow_cls=FakeWorkflow)


def test_builds_the_graph_through_the_workflow_api(project, tmp_path):
    write, module = project
    wf, run_kwargs = load(write(EXAMPLE))
    mod = sys.modules[module]
    assert (wf.name, wf.seed) == ("shallow-water-surrogate", 7)
    assert wf.calls == [
        ("channel", "states", {"capacity": 8, "policy": "block"}),
        ("channel", "late", {"delay": 1}),
        ("task", mod.simulate, {"name": "simulate", "every": 1, "outputs": ["states", "late"]}),
        ("task", mod.train, {"name": "train", "inputs": ["states"], "every": 10, "offset": 5, "retries": 2,
                             "compile": True}),
        ("task", mod.infer, {"name": "infer", "inputs": ["simulate"], "when": mod.Tools.check, "ranks": "last",
                             "compile": {"mode": "max-autotune"}}),
    ]
    assert run_kwargs == {"steps": 2000, "checkpoint_every": 100, "checkpoint_dir": str(tmp_path / "ckpt"),
                          "resume": False}


def test_yaml_text_and_minimal_file(project, monkeypatch, tmp_path):
    write, module = project
    monkeypatch.chdir(tmp_path)   # text: relative paths start from the current folder
    text = f"name: tiny\npythonpath: code\ntasks:\n  only:\n    fn: {module}:simulate\n"
    wf, run_kwargs = load_workflow(text, workflow_cls=FakeWorkflow)
    assert wf.seed is None and run_kwargs == {}
    assert wf.calls == [("task", sys.modules[module].simulate, {"name": "only"})]


def test_default_workflow_class_is_the_engines(project, monkeypatch):
    write, _ = project
    monkeypatch.setattr(spec_yaml, "_default_workflow_class", lambda: FakeWorkflow)
    assert isinstance(load_workflow(write(EXAMPLE))[0], FakeWorkflow)


BAD = [
    # (edit of EXAMPLE, expected message)
    (("seed: 7", "seed: 7\nextra: 1"), r"wf\.yaml: extra \(line 3\): unknown key 'extra'; allowed: name, seed"),
    (("every: 10,", "evry: 10,"), r"tasks\.train\.evry \(line 9\): unknown key 'evry' \(did you mean 'every'\?\)"),
    (("every: 10,", "every: ten,"), r"tasks\.train\.every \(line 9\): expected an int >= 1 and <= 2\*\*62, got 'ten'"),
    (("every: 10,", "every: true,"), r"tasks\.train\.every.*expected an int >= 1 and <= 2\*\*62, got True"),
    (("every: 10,", "every: 0,"), r"expected an int >= 1 and <= 2\*\*62, got 0"),
    (("policy: block", "policy: newest"), r"channels\.states\.policy \(line 5\): expected one of block, latest, drop_oldest"),
    (("{delay: 1}", "{delay: 2}"), r"channels\.late\.delay.*expected one of 0, 1, got 2"),
    (("inputs: [states]", "inputs: [sttes]"), r"tasks\.train\.inputs.*item 0: unknown channel or task 'sttes' \(did you mean 'states'\?\)"),
    (("outputs: [states, late]", "outputs: [states, train]"), r"tasks\.simulate\.outputs.*item 1: unknown channel 'train'"),
    (("fn: \"wfmod_NAME:train\"", "fn: train"), r"tasks\.train\.fn.*expected 'module:function', got 'train'"),
    (("fn: \"wfmod_NAME:train\"", "fn: \"wfmod_NAME:trian\""), r"tasks\.train\.fn: module 'wfmod_\w+' has no attribute 'trian'"),
    (("fn: \"wfmod_NAME:train\"", "fn: \"wfmod_NAME:Tools.nope\""), r"'wfmod_\w+:Tools' has no attribute 'nope'"),
    (("fn: \"wfmod_NAME:train\"", "fn: \"wfmod_NAME:NOT_CALLABLE\""), r"'wfmod_\w+:NOT_CALLABLE' is a int, not a callable"),
    (("fn: \"wfmod_NAME:train\"", "fn: \"no_such_module_xyz:train\""), r"cannot import module 'no_such_module_xyz'.*pythonpath"),
    (("pythonpath: [code]", "pythonpath: [nope]"), r"pythonpath: '.*nope' is not a directory"),
    (("pythonpath: [code]", "pythonpath: {a: 1}"), r"pythonpath \(line 3\): expected a folder or a list"),
    (("steps: 2000", "steps: -1"), r"run\.steps \(line 11\): expected an int >= 0 and <= 2\*\*62, got -1"),
    (("resume: false", "resume: false, threads: 0"), r"run\.threads.*expected an int >= 1 and <= 1024, got 0"),
    (("seed: 7", "seed: -1"), r"seed \(line 2\): expected an int >= 0"),
    (("resume: false", "resume: maybe"), r"run\.resume.*expected true or false, got 'maybe'"),
    (("ranks: last", "ranks: [0, x]"), r"tasks\.infer\.ranks.*expected a rank selector"),
    (("compile: true", "compile: yes please"), r"tasks\.train\.compile \(line 9\): expected true, false or a mapping of hy\.compile options"),
    (("compile: true", "compile: {fullgraph: true}"), r"tasks\.train\.compile\.fullgraph.*unknown key 'fullgraph'; allowed: dynamic, mode"),
    (("mode: max-autotune", "mode: fast"), r"tasks\.infer\.compile\.mode.*expected one of default, max-autotune, got 'fast'"),
    (("mode: max-autotune", "dynamic: 3"), r"tasks\.infer\.compile\.dynamic.*expected true, false or null, got 3"),
    (("name: shallow-water-surrogate\n", ""), r"wf\.yaml: the document: missing required key 'name'"),
    (("  late: {delay: 1}", "  simulate: {}"), r"tasks\.simulate.*'simulate' is also a channel name"),
    (("  late: {delay: 1}", "  states: {}"), r"line 6: key 'states' appears twice"),
    (("channels:", "channels: ["), r"wf\.yaml: invalid YAML"),
    (("every: 10,", "every: 13,"), r"wf\.yaml: tasks\.train: every=13 is unlucky"),
]


@pytest.mark.parametrize("edit, message", BAD, ids=[b[0][1][:24] for b in BAD])
def test_mistakes_raise_spec_error_naming_file_key_and_line(project, edit, message):
    write, _ = project
    old, new = edit
    assert old in EXAMPLE
    path = write(EXAMPLE.replace(old, new, 1))
    with pytest.raises(SpecError, match=message):
        load(path)


def test_compile_key_lists_the_options_hy_compile_and_wf_task_take():
    # spec_yaml keeps its own copies (it imports neither the engine nor the compiler); they must agree.
    from hyflow.compiler import api
    from hyflow.workflow import graph
    assert spec_yaml.COMPILE_OPTIONS == graph._COMPILE_OPTIONS
    assert spec_yaml.COMPILE_MODES == api._MODES


def test_top_level_shapes(project):
    write, _ = project
    with pytest.raises(SpecError, match=r"the document: expected a mapping, got \[1, 2\]"):
        load(write("[1, 2]\n"))
    with pytest.raises(SpecError, match=r"tasks \(line 2\): expected a non-empty mapping"):
        load(write("name: x\ntasks: {}\n"))
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_workflow("missing.yaml")


def test_missing_pyyaml_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match="pip install pyyaml"):
        load_workflow("name: x\ntasks: {}\n")
