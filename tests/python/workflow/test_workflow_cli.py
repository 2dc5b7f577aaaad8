"""The hyflow command line: run (overrides, stats, trace, dot, failure exit status), describe, version."""
import json
import os
import subprocess
import sys
import types

import pytest

pytest.importorskip("yaml")

import hyflow as hy  # noqa: E402
from hyflow import cli  # noqa: E402
from hyflow.workflow import spec_yaml  # noqa: E402


class FakeError(Exception):
    pass


class FakeWorkflow:
    """Enough of the engine's Workflow for the command line: build calls, describe, run, trace."""
    last = None

    def __init__(self, name, seed=None):
        self.name, self.tasks, self.channels = name, [], []
        FakeWorkflow.last = self

    def channel(self, name, **kw):
        self.channels.append({"name": name, "capacity": kw.get("capacity", 1), "policy": kw.get("policy", "block"),
                              "delay": kw.get("delay", 0)})

    def task(self, fn, name, inputs=(), outputs=(), **kw):
        self.tasks.append({"name": name, "inputs": [{"kind": "channel", "name": n} for n in inputs],
                           "outputs": list(outputs), "every": kw.get("every", 1), "offset": 0, "when": None,
                           "retries": 0, "ranks": None})

    def describe(self):
        return {"name": self.name, "tasks": self.tasks, "channels": self.channels}

    def run(self, **kwargs):
        self.run_kwargs = kwargs
        if kwargs.get("steps") == 666:
            raise FakeError("task 'train' failed at step 3: boom")
        if kwargs.get("steps") == 667:
            try:
                _load_batch()
            except OSError as e:
                raise FakeError("task 'train' failed at step 3: OSError: disk gone") from e
        return types.SimpleNamespace(stats={"steps": kwargs.get("steps"), "wall_s": 0.5,
                                            "tasks": {"sim": {"calls": 4}}, "channels": {}})

    def trace(self, path):
        with open(path, "w") as f:
            json.dump({"traceEvents": []}, f)


@pytest.fixture
def workflow_file(tmp_path, monkeypatch):
    monkeypatch.setattr(spec_yaml, "_default_workflow_class", lambda: FakeWorkflow)
    monkeypatch.setattr(cli, "_workflow_error_class", lambda: FakeError)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "wf.yaml"
    path.write_text("name: demo\nchannels:\n  states: {capacity: 4}\ntasks:\n"
                    "  sim: {fn: 'os.path:join', outputs: [states]}\n"
                    "  train: {fn: 'os.path:join', inputs: [states], every: 2}\n"
                    "run: {steps: 10, checkpoint_dir: ckpt}\n")
    return path


def test_run_applies_overrides_and_prints_stats(workflow_file, tmp_path, capsys):
    rc = cli.main(["run", str(workflow_file), "--steps", "20", "--checkpoint-every", "5", "--resume",
                   "--no-progress", "--trace", "t.json", "--dot", "wf.dot"])
    out = capsys.readouterr().out
    assert rc == 0
    assert FakeWorkflow.last.run_kwargs == {"steps": 20, "checkpoint_every": 5, "resume": True, "progress": False,
                                            "checkpoint_dir": str(tmp_path / "ckpt")}
    assert out.startswith("20 steps, 0.500 s wall") and "sim" in out
    assert json.loads((tmp_path / "t.json").read_text()) == {"traceEvents": []}
    dot = (tmp_path / "wf.dot").read_text()
    assert dot.startswith('digraph "demo"') and '"channel:states" -> "task:train"' in dot


def test_run_without_overrides_uses_the_file(workflow_file):
    assert cli.main(["run", str(workflow_file), "--checkpoint-dir", "elsewhere"]) == 0
    assert FakeWorkflow.last.run_kwargs == {"steps": 10, "checkpoint_dir": "elsewhere"}


def test_failed_workflow_exits_1_with_the_error_and_still_writes_the_trace(workflow_file, tmp_path, capsys):
    assert cli.main(["run", str(workflow_file), "--steps", "666", "--trace", "t.json"]) == 1
    err = capsys.readouterr().err
    assert "hyflow: task 'train' failed at step 3: boom" in err
    assert (tmp_path / "t.json").exists()


def test_failed_workflow_prints_the_task_traceback_it_chains(workflow_file, capsys):
    assert cli.main(["run", str(workflow_file), "--steps", "667"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and "_load_batch" in err, err
    assert err.rstrip().endswith("hyflow: task 'train' failed at step 3: OSError: disk gone")


def _load_batch():
    raise OSError("disk gone")


def test_steps_must_come_from_somewhere(workflow_file, capsys):
    workflow_file.write_text(workflow_file.read_text().replace("steps: 10, ", ""))
    assert cli.main(["run", str(workflow_file)]) == 2
    assert "sets no run.steps; give --steps N" in capsys.readouterr().err
    assert cli.main(["run", str(workflow_file), "--steps", "3"]) == 0


def test_bad_file_exits_2_with_the_spec_error(workflow_file, capsys):
    workflow_file.write_text("name: demo\ntasks:\n  sim: {fn: 'os.path:join', evry: 2}\n")
    assert cli.main(["run", str(workflow_file)]) == 2
    assert "tasks.sim.evry (line 3): unknown key 'evry'" in capsys.readouterr().err
    assert cli.main(["describe", "missing.yaml"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_describe_prints_dot(workflow_file, capsys):
    assert cli.main(["describe", str(workflow_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "demo"') and '"task:sim" -> "channel:states";' in out


def test_version_and_usage(capsys):
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"hyflow {hy.__version__}"
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"hyflow {hy.__version__}"
    assert cli.main([]) == 2
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "wf.yaml", "--steps", "-3"])
    assert e.value.code == 2


def test_python_dash_m_hyflow():
    done = subprocess.run([sys.executable, "-m", "hyflow", "version"], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"hyflow {hy.__version__}", done.stderr


# ---------------------------------------------------------------------------------------------------
# Hostile workflow files: each gives one "hyflow: error: ..." line and exit status 2, never a traceback
# (issue 15: huge ints, deep nesting, binary files and `lookahead: 1e26` gave a traceback and exit 1).
# hostile_yaml/*.yaml name what they expect on their first line; the rest are made here.
# ---------------------------------------------------------------------------------------------------
HOSTILE = os.path.join(os.path.dirname(__file__), "hostile_yaml")
GENERATED = {
    "deep_nesting.yaml": (b"name: " + b"[" * 20000 + b"]" * 20000 + b"\ntasks: {}\n", "nested too deeply"),
    "binary.yaml": (bytes(range(256)) * 4, "not UTF-8 text (byte 128 is b'\\x80')"),
    "latin1.yaml": ("name: caf\u00e9\ntasks: {}\n".encode("latin-1"), "not UTF-8 text"),
    "nul_bytes.yaml": (b"name: x\x00\ntasks: {}\n", "contains NUL bytes"),
    "int_of_5000_digits.yaml": (b"name: x\ntasks:\n  t: {fn: 'os.path:join', every: " + b"9" * 5000 + b"}\n",
                                "invalid YAML: ValueError: Exceeds the limit"),
    "oversized.yaml": (b"# " + b"x" * (spec_yaml.MAX_BYTES + 10) + b"\n", "larger than 16 MiB"),
}


def hostile_cases():
    for name in sorted(os.listdir(HOSTILE)):
        with open(os.path.join(HOSTILE, name), encoding="utf-8") as f:
            expect = f.readline().removeprefix("# expect: ").strip()
        yield pytest.param(os.path.join(HOSTILE, name), expect, id=name)
    for name, (_, expect) in GENERATED.items():
        yield pytest.param(name, expect, id=name)


@pytest.mark.parametrize("path, expect", list(hostile_cases()))
@pytest.mark.parametrize("command", ["run", "describe"])
def test_hostile_workflow_files_exit_2_with_one_clear_message(path, expect, command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if path in GENERATED:
        (tmp_path / path).write_bytes(GENERATED[path][0])
    rc = cli.main([command, path, "--no-progress"] if command == "run" else [command, path])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("hyflow: error: ") and "Traceback" not in err, err
    assert expect in err, err
    assert len(err) < 2000  # bounded, however big the bad value


def test_a_folder_or_missing_path_is_not_read_as_yaml_text(tmp_path, capsys):
    assert cli.main(["run", str(tmp_path)]) == 2
    assert f"workflow file {str(tmp_path)!r} is a folder" in capsys.readouterr().err
    assert cli.main(["describe", "no-such-file"]) == 2
    assert "'no-such-file' does not exist" in capsys.readouterr().err


def test_out_of_range_command_line_numbers_are_usage_errors(workflow_file, capsys):
    for argv in (["--steps", "9" * 30], ["--checkpoint-every", "0"], ["--timeout", "nan"], ["--timeout", "-1"]):
        with pytest.raises(SystemExit) as e:
            cli.main(["run", str(workflow_file)] + argv)
        assert e.value.code == 2
        assert "hyflow run: error: argument" in capsys.readouterr().err


def test_run_refusing_its_arguments_exits_2(workflow_file, capsys, monkeypatch):
    def refuse(self, **kwargs):
        raise ValueError("checkpoint in 'ckpt' was written by a different workflow graph")
    monkeypatch.setattr(FakeWorkflow, "run", refuse)
    assert cli.main(["run", str(workflow_file)]) == 2
    assert capsys.readouterr().err == "hyflow: error: checkpoint in 'ckpt' was written by a different workflow graph\n"


def test_python_dash_m_hyflow_with_a_hostile_file(tmp_path):
    (tmp_path / "binary.yaml").write_bytes(GENERATED["binary.yaml"][0])
    done = subprocess.run([sys.executable, "-m", "hyflow", "run", "binary.yaml"], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("hyflow: error: binary.yaml: not UTF-8 text"), done.stderr


def test_timeout_on_the_command_line_reaches_run(workflow_file):
    assert cli.main(["run", str(workflow_file), "--timeout", "2.5"]) == 0
    assert FakeWorkflow.last.run_kwargs["timeout"] == 2.5
