"""Chrome traces, DOT graphs, the stats table and the progress bar."""
import io
import json
import re
import shutil
import sys
import types

import pytest

from hyflow.workflow import observe
from hyflow.workflow.observe import Progress, chrome_trace, format_stats, graph_dot, merge_traces, render_svg


def event(task, step, start, end, status="ok", **extra):
    return dict(task=task, step=step, attempt=0, thread=1, start_us=start, end_us=end, status=status, **extra)


EVENTS = [event("simulate", 0, 0, 10), event("train", 0, 10, 30, "retried"), event("simulate", 1, 30, 35),
          event("train", 0, 35, 50)]


def test_chrome_trace_rows_per_task_and_a_process_per_rank(tmp_path):
    path = tmp_path / "trace.json"
    trace = chrome_trace(EVENTS, path, workflow="demo", rank=3)
    assert json.loads(path.read_text()) == trace
    xs = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [(e["name"], e["ts"], e["dur"], e["pid"], e["tid"]) for e in xs] == [
        ("simulate", 0, 10, 3, 0), ("train", 10, 20, 3, 1), ("simulate", 30, 5, 3, 0), ("train", 35, 15, 3, 1)]
    assert xs[1]["args"] == {"step": 0, "attempt": 0, "status": "retried", "thread": 1}
    meta = {(e["name"], e["tid"]): e["args"] for e in trace["traceEvents"] if e["ph"] == "M"}
    assert meta[("process_name", 0)] == {"name": "rank 3"}
    assert meta[("thread_name", 0)] == {"name": "simulate"} and meta[("thread_name", 1)] == {"name": "train"}
    assert trace["otherData"] == {"workflow": "demo"}


def test_task_names_fix_the_row_order_and_event_rank_wins():
    trace = chrome_trace([event("b", 0, 0, 1, rank=1), event("a", 0, 1, 2)], task_names=["a", "b"])
    rows = {(e["pid"], e["name"]): e["tid"] for e in trace["traceEvents"] if e["ph"] == "X"}
    assert rows == {(1, "b"): 1, (0, "a"): 0}


def test_merge_traces_keeps_every_rank_once(tmp_path):
    r0 = chrome_trace(EVENTS, rank=0, workflow="demo")
    r1 = chrome_trace(EVENTS, rank=1, workflow="demo")
    merged = merge_traces([r0, r1, r1], tmp_path / "all.json")
    names = [e["args"]["name"] for e in merged["traceEvents"] if e.get("name") == "process_name"]
    assert names == ["rank 0", "rank 1"]
    assert sum(e["ph"] == "X" for e in merged["traceEvents"]) == 12
    assert json.loads((tmp_path / "all.json").read_text()) == merged
    with pytest.raises(TypeError, match=r"traces\[0\]"):
        merge_traces([{"no": "events"}])


@pytest.mark.parametrize("bad, message", [({"task": "a"}, "lacks step"), (event("a", 0, 5, 1), "start_us <= end_us"),
                                          (event("a", 0, 0, 1, "weird"), "status must be")])
def test_bad_events_raise(bad, message):
    with pytest.raises(ValueError, match=message):
        chrome_trace([bad])


DESC = {
    "name": 'my "wf"',
    "tasks": [
        {"name": "simulate", "inputs": [], "outputs": ["states"], "every": 1, "offset": 0, "when": None,
         "retries": 0, "ranks": None},
        {"name": 'train "big" model', "inputs": [{"kind": "channel", "name": "states"}], "outputs": [],
         "every": 10, "offset": 5, "when": None, "retries": 2, "ranks": "0"},
        {"name": "back\\slash\nnewline", "inputs": [{"kind": "task", "name": "simulate"}], "outputs": ["extra"],
         "every": 1, "offset": 0, "when": "after_warmup", "retries": 0, "ranks": "last"},
    ],
    "channels": [{"name": "states", "capacity": 8, "policy": "block", "delay": 1}],
}
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unquote(text):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def test_graph_dot_is_valid_and_escapes_names():
    dot = graph_dot(DESC)
    body = QUOTED.sub("Q", dot)
    assert '"' not in body and body.count("{") == body.count("}") == 1   # every quote is paired
    for line in body.strip().splitlines()[1:-1]:
        assert line.rstrip().endswith(";"), line
    strings = [_unquote(s) for s in QUOTED.findall(dot)]
    assert 'task:train "big" model' in strings and "task:back\\slash\nnewline" in strings
    assert 'train "big" model\nevery 10 (offset 5)\nretries 2\nranks 0' in strings
    assert "back\\slash\nnewline\nwhen after_warmup\nranks last" in strings
    assert "states\ncapacity 8, block\ndelay 1" in strings
    assert '"task:simulate" -> "channel:states";' in dot
    assert '"channel:states" -> "task:train \\"big\\" model" [style=dashed' in dot
    assert '"task:simulate" -> "task:back\\\\slash\\nnewline";' in dot
    assert '"channel:extra" [shape=cylinder' in dot          # named only as an output: still a node


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' is not installed")
def test_graphviz_accepts_the_dot():
    assert "<svg" in render_svg(graph_dot(DESC))


def test_render_svg_without_graphviz_returns_none(monkeypatch):
    monkeypatch.setattr(observe.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "graphviz", None)      # import graphviz -> ImportError
    assert render_svg("digraph {}") is None


def test_format_stats_table():
    stats = {"steps": 100, "wall_s": 1.5,
             "tasks": {"simulate": {"calls": 100, "skipped": 0, "failed": 0, "retries": 0, "total_s": 0.25,
                                    "mean_ms": 2.5, "max_ms": 9.75},
                       "train_long_name": {"calls": 10, "skipped": 90, "failed": 1, "retries": 2, "total_s": 1.0,
                                           "mean_ms": 100.0, "max_ms": 300.0}},
             "channels": {"states": {"pushed": 100, "consumed": 98, "dropped": 2, "max_depth": 8,
                                     "producer_wait_s": 0.125}}}
    text = format_stats(stats)
    lines = text.splitlines()
    assert lines[0] == "100 steps, 1.500 s wall"
    assert lines[1] == ""
    header = lines[2].split()
    assert header == ["task", "calls", "skipped", "failed", "retries", "total", "s", "mean", "ms", "max", "ms"]
    table = lines[2:6]
    assert len({len(line) for line in table}) == 1                  # fixed width, numbers right-aligned
    assert lines[5].split() == ["train_long_name", "10", "90", "1", "2", "1.000", "100.000", "300.000"]
    assert "states" in text and "0.125" in text and "max depth" in text
    assert format_stats({"tasks": {"a": {"calls": 1}}}).splitlines()[-1].split() == ["a", "1", "-", "-", "-", "-", "-", "-"]


class FakeStream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def _without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


def test_progress_is_silent_when_stderr_is_not_a_terminal(monkeypatch):
    _without_tqdm(monkeypatch)
    monkeypatch.setattr(sys, "stderr", FakeStream(tty=False))
    with Progress(10) as bar:
        bar.update_to(5)
    assert sys.stderr.getvalue() == ""


def test_progress_text_bar_without_tqdm(monkeypatch):
    _without_tqdm(monkeypatch)
    monkeypatch.setattr(sys, "stderr", FakeStream(tty=True))
    with Progress(4, desc="run") as bar:
        for n in range(1, 5):
            bar.update_to(n)
    out = sys.stderr.getvalue()
    assert out.startswith("\rrun: [") and out.endswith("] 4/4 100%\n")


def test_progress_uses_tqdm_when_installed(monkeypatch):
    calls = []

    class FakeTqdm:
        def __init__(self, **kw):
            calls.append(("init", kw["total"], kw["desc"]))

        def update(self, n):
            calls.append(("update", n))

        def close(self):
            calls.append(("close",))

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    with Progress(10, enabled=True, desc="x") as bar:
        bar.update_to(3)
        bar.update_to(10)
    assert calls == [("init", 10, "x"), ("update", 3), ("update", 7), ("close",)]


def _fake_jupyter_kernel(monkeypatch):
    """An IPython module whose shell says it is a Jupyter kernel, as tqdm.autonotebook checks."""
    ipython = types.ModuleType("IPython")
    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)


def test_progress_shows_by_default_in_a_jupyter_kernel(monkeypatch):
    # A kernel's stderr is no terminal, yet the notebook shows it under the cell: the bar is on by default.
    _without_tqdm(monkeypatch)
    _fake_jupyter_kernel(monkeypatch)
    monkeypatch.setattr(sys, "stderr", FakeStream(tty=False))
    with Progress(2, desc="nb") as bar:
        bar.update_to(2)
    assert sys.stderr.getvalue().endswith("] 2/2 100%\n")


def test_progress_falls_back_to_tqdm_text_bar_when_the_notebook_widget_cannot_start(monkeypatch):
    # tqdm.auto in a kernel without ipywidgets raises ImportError when the bar is built
    made = []

    class WidgetTqdm:
        def __init__(self, **kw):
            raise ImportError("IProgress not found. Please update jupyter and ipywidgets.")

    class TextTqdm:
        def __init__(self, **kw):
            made.append(kw["total"])

        def close(self):
            made.append("closed")

    auto, std = types.ModuleType("tqdm.auto"), types.ModuleType("tqdm.std")
    auto.tqdm, std.tqdm = WidgetTqdm, TextTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    monkeypatch.setitem(sys.modules, "tqdm.std", std)
    with Progress(5, enabled=True):
        pass
    assert made == [5, "closed"]


def test_workflow_display_renders_the_svg_once(monkeypatch):
    # Jupyter calls every _repr_*_ method: the SVG must come from one call, in one mime type.
    from hyflow.workflow import Workflow
    rendered = []

    def fake_render(dot):
        rendered.append(dot)
        return "<svg>graph</svg>"

    monkeypatch.setattr(observe, "render_svg", fake_render)
    wf = Workflow("shown")
    wf.task(lambda ctx: None, name="only")
    reprs = sorted(name for name in dir(wf) if name.startswith("_repr_") and name.endswith("_"))
    assert reprs == ["_repr_mimebundle_"]
    bundle = wf._repr_mimebundle_()
    assert bundle == {"image/svg+xml": "<svg>graph</svg>", "text/plain": repr(wf)} and len(rendered) == 1
    monkeypatch.setattr(observe, "render_svg", lambda dot: None)  # no Graphviz: the DOT text, escaped
    bundle = wf._repr_mimebundle_()
    assert bundle["text/html"].startswith("<pre>digraph &quot;shown&quot;") and "image/svg+xml" not in bundle
