"""Seeing a workflow run: Chrome/Perfetto traces, Graphviz graphs, a stats table and a progress bar.

    chrome_trace(events, "trace.json", workflow="wf", rank=0)   # open in https://ui.perfetto.dev
    merge_traces([trace_rank0, trace_rank1], "trace.json")      # one file, one process row per rank
    print(graph_dot(wf.describe()))                             # tasks as boxes, channels as cylinders
    print(format_stats(result.stats))
    with Progress(total=2000) as bar: bar.update_to(step)

Everything here reads plain dicts and writes text; nothing touches the engine or configures logging.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import time

from .._atomic import atomic_write

__all__ = ["chrome_trace", "merge_traces", "graph_dot", "render_svg", "format_stats", "Progress"]

# ------------------------------------------------------------------------------------ trace

_EVENT_FIELDS = ("task", "step", "attempt", "thread", "start_us", "end_us", "status")
_STATUSES = ("ok", "failed", "retried", "cancelled")
# Chrome's reserved colour names, so failures stand out in chrome://tracing.
_STATUS_COLOR = {"failed": "terrible", "retried": "bad", "cancelled": "grey"}


def chrome_trace(events, path=None, *, workflow="wf", rank=0, task_names=None):
    """Chrome Trace Event JSON for task runs: one process per rank, one row (tid) per task.

    ``events`` are dicts with task, step, attempt, thread, start_us, end_us, status (ok, failed,
    retried, cancelled) and optionally rank (else ``rank``). ``task_names`` fixes the row order
    (other tasks follow in order of appearance). Written atomically to ``path`` when given.
    """
    rows = {name: i for i, name in enumerate(task_names or ())}
    trace_events, used = [], set()
    for i, event in enumerate(events):
        _check_event(event, i)
        pid = event.get("rank", rank)
        tid = rows.setdefault(event["task"], len(rows))
        used.add((pid, tid))
        x = {"name": event["task"], "cat": event["status"], "ph": "X", "ts": float(event["start_us"]),
             "dur": float(event["end_us"]) - float(event["start_us"]), "pid": pid, "tid": tid,
             "args": {"step": event["step"], "attempt": event["attempt"], "status": event["status"],
                      "thread": event["thread"]}}
        if event["status"] in _STATUS_COLOR:
            x["cname"] = _STATUS_COLOR[event["status"]]
        trace_events.append(x)
    names = {tid: name for name, tid in rows.items()}
    metadata = []
    for pid in sorted({pid for pid, _ in used} | {rank}):
        metadata.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": f"rank {pid}"}})
        metadata.append({"name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0, "args": {"sort_index": pid}})
    for pid, tid in sorted(used):
        metadata.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": names[tid]}})
        metadata.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid, "args": {"sort_index": tid}})
    trace = {"traceEvents": metadata + trace_events, "displayTimeUnit": "ms", "otherData": {"workflow": workflow}}
    if path is not None:
        write_text_atomically(path, json.dumps(trace))
    return trace


def _check_event(event, i):
    if not isinstance(event, dict):
        raise TypeError(f"chrome_trace: events[{i}] must be a dict, got {type(event).__name__}")
    missing = [f for f in _EVENT_FIELDS if f not in event]
    if missing:
        raise ValueError(f"chrome_trace: events[{i}] lacks {', '.join(missing)}")
    start, end = event["start_us"], event["end_us"]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (start, end)) or end < start:
        raise ValueError(f"chrome_trace: events[{i}] needs finite start_us <= end_us, got {start!r}, {end!r}")
    if event["status"] not in _STATUSES:
        raise ValueError(f"chrome_trace: events[{i}] status must be one of {', '.join(_STATUSES)}, "
                         f"got {event['status']!r}")


def merge_traces(traces, path=None):
    """One trace from several ranks' ``chrome_trace`` results (identical metadata kept once)."""
    merged, seen, workflows = [], set(), []
    for i, trace in enumerate(traces):
        if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
            raise TypeError(f"merge_traces: traces[{i}] is not a chrome_trace result")
        workflow = trace.get("otherData", {}).get("workflow")
        if workflow is not None and workflow not in workflows:
            workflows.append(workflow)
        for event in trace["traceEvents"]:
            if event.get("ph") == "M":
                key = json.dumps(event, sort_keys=True)
                if key in seen:
                    continue
                seen.add(key)
            merged.append(event)
    # Metadata first, as chrome_trace writes it.
    merged.sort(key=lambda e: e.get("ph") != "M")
    out = {"traceEvents": merged, "displayTimeUnit": "ms",
           "otherData": {"workflow": workflows[0] if len(workflows) == 1 else workflows}}
    if path is not None:
        write_text_atomically(path, json.dumps(out))
    return out


def write_text_atomically(path, text):
    """Replace ``path`` with ``text`` so a reader sees the old or the new file, never a partial one."""
    atomic_write(os.fspath(path), [text.encode("utf-8")])


# ------------------------------------------------------------------------------------ graph

def graph_dot(desc):
    """Graphviz DOT text for a workflow description (``wf.describe()``).

    Tasks are boxes labelled with their trigger, channels cylinders labelled with capacity and policy;
    edges run task -> channel -> task and task -> task.
    """
    tasks, channels = desc.get("tasks", []), desc.get("channels", [])
    lines = [f"digraph {_quote(desc.get('name', 'workflow'))} {{",
             "  rankdir=LR;",
             f"  label={_quote(desc.get('name', 'workflow'))}; labelloc=t;",
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    channel_names = [c["name"] for c in channels]
    for c in channels:
        lines.append(f"  {_node_id('channel', c['name'])} [shape=cylinder, style=filled, fillcolor=\"#eef5ff\", "
                     f"label={_quote(_channel_label(c))}];")
    for t in tasks:
        lines.append(f"  {_node_id('task', t['name'])} [shape=box, style=\"rounded,filled\", fillcolor=\"#fff7e6\", "
                     f"label={_quote(_task_label(t))}];")
    delayed = {c["name"] for c in channels if c.get("delay")}
    for t in tasks:
        me = _node_id("task", t["name"])
        for name in t.get("outputs", []):
            lines.append(f"  {me} -> {_node_id('channel', _ensure(name, channel_names, lines))};")
        for inp in t.get("inputs", []):
            if inp["kind"] == "channel":
                name = _ensure(inp["name"], channel_names, lines)
                style = ' [style=dashed, label="delay"]' if name in delayed else ""
                lines.append(f"  {_node_id('channel', name)} -> {me}{style};")
            else:
                lines.append(f"  {_node_id('task', inp['name'])} -> {me};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _ensure(name, channel_names, lines):
    # An input/output naming a channel the description lacks still gets a node, so the DOT stays valid.
    if name not in channel_names:
        channel_names.append(name)
        lines.append(f"  {_node_id('channel', name)} [shape=cylinder, label={_quote(name)}];")
    return name


def _task_label(t):
    parts = [t["name"]]
    every, offset = t.get("every", 1), t.get("offset", 0)
    if every != 1 or offset:
        parts.append(f"every {every}" + (f" (offset {offset})" if offset else ""))
    if t.get("when"):
        parts.append(f"when {t['when']}")
    if t.get("retries"):
        parts.append(f"retries {t['retries']}")
    if t.get("timeout"):
        parts.append(f"timeout {t['timeout']:g} s")
    if t.get("ranks") is not None:
        parts.append(f"ranks {t['ranks']}")
    return "\n".join(parts)


def _channel_label(c):
    parts = [c["name"]]
    detail = [f"capacity {c['capacity']}" if c.get("capacity") is not None else None, c.get("policy")]
    detail = ", ".join(d for d in detail if d)
    if detail:
        parts.append(detail)
    if c.get("delay"):
        parts.append(f"delay {c['delay']}")
    return "\n".join(parts)


def _node_id(kind, name):
    return _quote(f"{kind}:{name}")


def _quote(text):
    """A DOT double-quoted string. Backslashes are doubled and quotes escaped; newlines become the \\n
    line break (in a label) and stay unique in an ID."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{text}"'


def render_svg(dot, timeout=30):
    """SVG text for DOT source via Graphviz's ``dot`` (or the ``graphviz`` package); None when neither
    is available. Invalid DOT raises ValueError with Graphviz's message."""
    exe = shutil.which("dot")
    if exe is not None:
        try:
            done = subprocess.run([exe, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"render_svg: graphviz 'dot' took longer than {timeout} s") from None
        if done.returncode != 0:
            raise ValueError(f"render_svg: graphviz 'dot' failed: {done.stderr.strip()}")
        return done.stdout
    try:
        import graphviz
    except ImportError:
        return None
    try:
        return graphviz.Source(dot).pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        return None


# ------------------------------------------------------------------------------------ stats

_TASK_COLUMNS = [("calls", "calls", "d"), ("skipped", "skipped", "d"), ("failed", "failed", "d"),
                 ("retries", "retries", "d"), ("total_s", "total s", ".3f"), ("mean_ms", "mean ms", ".3f"),
                 ("max_ms", "max ms", ".3f")]
_CHANNEL_COLUMNS = [("pushed", "pushed", "d"), ("consumed", "consumed", "d"), ("dropped", "dropped", "d"),
                    ("max_depth", "max depth", "d"), ("producer_wait_s", "wait s", ".3f")]


def format_stats(stats):
    """A fixed-width table of a run's per-task and per-channel counters."""
    lines = []
    head = []
    if stats.get("steps") is not None:
        head.append(f"{stats['steps']} steps")
    if stats.get("wall_s") is not None:
        head.append(f"{stats['wall_s']:.3f} s wall")
    if head:
        lines.append(", ".join(head))
    for title, rows, columns in (("task", stats.get("tasks") or {}, _TASK_COLUMNS),
                                 ("channel", stats.get("channels") or {}, _CHANNEL_COLUMNS)):
        if rows:
            if lines:
                lines.append("")
            lines.extend(_table(title, rows, columns))
    return "\n".join(lines)


def _table(title, rows, columns):
    cells = [[str(name)] + [_cell(values.get(key), fmt) for key, _, fmt in columns] for name, values in rows.items()]
    header = [title] + [label for _, label, _ in columns]
    widths = [max(len(r[i]) for r in cells + [header]) for i in range(len(header))]

    def line(row):
        return "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]).rstrip()

    return [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in cells]


def _cell(value, fmt):
    if value is None:
        return "-"
    if fmt == "d" and isinstance(value, float) and not value.is_integer():
        fmt = ".3f"
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


# ------------------------------------------------------------------------------------ progress

class Progress:
    """A progress bar over ``total`` steps: tqdm.auto when installed (a widget in Jupyter, a terminal bar
    elsewhere), else a plain stderr bar.

    ``enabled=None`` shows it when stderr is a terminal or the code runs in a Jupyter kernel, whose stderr
    is not a terminal but is shown under the cell. Never touches logging configuration.
    """

    def __init__(self, total, enabled=None, desc=None):
        if enabled is None:
            enabled = _stderr_is_tty() or _in_jupyter_kernel()
        self.total, self.desc, self.n = total, desc, 0
        self._bar = None
        self._text = None
        if not enabled:
            return
        self._bar = _tqdm_bar(total, desc)
        if self._bar is None:
            self._text = _TextBar(total, desc)

    def update_to(self, n):
        """Move the bar to absolute position ``n``."""
        delta, self.n = n - self.n, n
        if self._bar is not None:
            self._bar.update(delta)
        elif self._text is not None:
            self._text.show(n)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._text is not None:
            self._text.finish(self.n)
            self._text = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _tqdm_bar(total, desc):
    """tqdm.auto's bar, or None without tqdm. tqdm.auto picks the notebook widget in a Jupyter kernel, which
    raises ImportError when it is built if ipywidgets is missing: then tqdm's text bar, which Jupyter
    shows as well."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    try:
        return tqdm(total=total, desc=desc, unit="step", file=sys.stderr)
    except ImportError:
        from tqdm.std import tqdm as text_tqdm
        return text_tqdm(total=total, desc=desc, unit="step", file=sys.stderr)


def _in_jupyter_kernel():
    """Whether this process is a Jupyter (IPython) kernel, asked as tqdm.autonotebook asks: only when
    IPython is already imported, so a plain script never imports it."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 — a broken or partial IPython means "not a notebook"
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _stderr_is_tty():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _TextBar:
    WIDTH = 30
    INTERVAL_S = 0.1  # redraw at most this often: a fast loop must not spend its time printing

    def __init__(self, total, desc):
        self.total, self.desc, self.last = total, desc, 0.0

    def show(self, n, force=False):
        now = time.monotonic()
        if not force and now - self.last < self.INTERVAL_S and n != self.total:
            return
        self.last = now
        prefix = f"{self.desc}: " if self.desc else ""
        if self.total:
            frac = min(max(n / self.total, 0.0), 1.0)
            filled = int(frac * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            text = f"\r{prefix}[{bar}] {n}/{self.total} {frac:4.0%}"
        else:
            text = f"\r{prefix}{n} steps"
        sys.stderr.write(text)
        sys.stderr.flush()

    def finish(self, n):
        self.show(n, force=True)
        sys.stderr.write("\n")
        sys.stderr.flush()
