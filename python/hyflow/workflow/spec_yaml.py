"""Workflows declared in YAML, built through the public Workflow API.

    wf, run_kwargs = load_workflow("examples/climate/surrogate.yaml")
    result = wf.run(**run_kwargs)

The schema is in docs/workflow.md ("Declaring a workflow in YAML"). Every problem raises SpecError naming
the file, the key path and line (``surrogate.yaml: tasks.train.every (line 12): expected an int >= 1 and
<= 2**62, got 'ten'``), including for files that are not YAML text at all (binary, nested too deeply, too
big). PyYAML is needed only here and is imported on first use.
"""
import difflib
import importlib
import math
import numbers
import os
import reprlib
import sys

__all__ = ["load_workflow", "SpecError"]

POLICIES = ("block", "latest", "drop_oldest")
MAX_COUNT = 2**62  # hyflow.workflow.graph.MAX_COUNT: the largest count the engine takes
MAX_THREADS = 1024  # the C++ engine's kMaxThreads (csrc/workflow/graph_spec.h)
COMPILE_OPTIONS = ("dynamic", "mode")  # hyflow.workflow.graph._COMPILE_OPTIONS: a task's compile dict keys
COMPILE_MODES = ("default", "max-autotune")  # hyflow.compiler.api._MODES
MAX_BYTES = 16 * 1024 * 1024  # a workflow file is a few KB: refuse to parse a huge one


class SpecError(ValueError):
    """A workflow YAML file that does not describe a valid workflow."""


def load_workflow(path_or_text, *, workflow_cls=None):
    """``(workflow, run_kwargs)`` from a YAML file path or YAML text.

    Relative ``pythonpath`` entries and ``run.checkpoint_dir`` are resolved against the YAML file's
    folder (the current folder for text). ``workflow_cls`` replaces hyflow.workflow.Workflow (tests).
    """
    text, source, base = _read_source(path_or_text)
    doc, lines = _parse(text, source)
    spec = _Checker(source, lines).document(doc)
    for directory in reversed([os.path.normpath(os.path.join(base, d)) for d in spec["pythonpath"]]):
        if not os.path.isdir(directory):
            raise SpecError(f"{source}: pythonpath: {directory!r} is not a directory")
        if directory not in sys.path:
            sys.path.insert(0, directory)
    tasks = {}
    for name, settings in spec["tasks"].items():
        tasks[name] = dict(settings)
        for key in ("fn", "when"):
            if key in settings:
                tasks[name][key] = _resolve_callable(settings[key], f"{source}: tasks.{name}.{key}")
    wf = _build(workflow_cls or _default_workflow_class(), spec, tasks, source)
    run_kwargs = dict(spec["run"])
    if "checkpoint_dir" in run_kwargs:
        run_kwargs["checkpoint_dir"] = os.path.normpath(os.path.join(base, run_kwargs["checkpoint_dir"]))
    return wf, run_kwargs


def _default_workflow_class():
    from . import Workflow  # the engine's package; imported late so this module stands alone
    return Workflow


# --------------------------------------------------------------------------------- reading

def _read_source(path_or_text):
    """(text, name for messages, folder that relative paths start from)."""
    if isinstance(path_or_text, os.PathLike) or (
            isinstance(path_or_text, str) and "\n" not in path_or_text
            and (path_or_text.endswith((".yaml", ".yml")) or os.path.isfile(path_or_text))):
        path = os.fspath(path_or_text)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        except FileNotFoundError:
            raise FileNotFoundError(f"workflow file {path!r} does not exist") from None
        if len(data) > MAX_BYTES:
            raise SpecError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB; not a workflow file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SpecError(f"{path}: not UTF-8 text (byte {e.start} is {data[e.start:e.start + 1]!r}); "
                            "a workflow file is YAML text") from None
        return text, path, os.path.dirname(os.path.abspath(path))
    if not isinstance(path_or_text, str):
        raise TypeError(f"load_workflow: expected a path or YAML text, got {type(path_or_text).__name__}")
    return path_or_text, "<yaml text>", os.getcwd()


def _yaml():
    try:
        import yaml
    except ImportError:
        raise ImportError("reading workflow YAML files needs PyYAML: pip install pyyaml "
                          "(or pip install 'hyflow[workflow]')") from None
    return yaml


def _parse(text, source):
    """The YAML document and {(id(mapping), key): line} for error messages."""
    yaml = _yaml()
    lines = {}

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node):
        loader.flatten_mapping(node)
        out = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                duplicate = key in out
            except TypeError:
                raise SpecError(f"{source}: line {line}: a mapping key must be a plain value, got {key!r:.60}")
            if duplicate:
                raise SpecError(f"{source}: line {line}: key {key!r} appears twice in the same mapping")
            out[key] = loader.construct_object(value_node, deep=True)
            lines[(id(out), key)] = line
        return out

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    if "\x00" in text:
        raise SpecError(f"{source}: contains NUL bytes; a workflow file is YAML text")
    try:
        doc = yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise SpecError(f"{source}: invalid YAML: {e}") from None
    except RecursionError:
        raise SpecError(f"{source}: nested too deeply to be a workflow file") from None
    except SpecError:
        raise
    except Exception as e:  # e.g. ValueError: an int of more than 4300 digits
        raise SpecError(f"{source}: invalid YAML: {type(e).__name__}: {e}") from None
    return doc, lines


# --------------------------------------------------------------------------------- checking

class _Checker:
    """Validates the document's shape and names; returns plain dicts with only the given keys."""

    def __init__(self, source, lines):
        self.source, self.lines = source, lines

    def fail(self, path, problem, parent=None):
        line = self.lines.get((id(parent), path[-1])) if parent is not None and path else None
        where = ".".join(str(p) for p in path) or "the document"
        at = f" (line {line})" if line else ""
        raise SpecError(f"{self.source}: {where}{at}: {problem}")

    def mapping(self, value, path, keys, parent=None, required=()):
        if value is None and not required:
            value = {}
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_show(value)}", parent)
        for key in value:
            if key not in keys:
                hint = _did_you_mean(key, keys)
                self.fail(path + (key,), f"unknown key{hint}; allowed: {', '.join(keys)}", value)
        for key in required:
            if key not in value:
                self.fail(path, f"missing required key {key!r}", parent)
        return value

    def document(self, doc):
        top = self.mapping(doc, (), ("name", "seed", "pythonpath", "channels", "tasks", "run"),
                           required=("name", "tasks"))
        spec = {"name": self.string(top, "name", ()), "pythonpath": self.pythonpath(top)}
        if "seed" in top:
            spec["seed"] = self.integer(top, "seed", (), minimum=0, maximum=2**64 - 1)
        spec["channels"] = self.channels(top)
        spec["tasks"] = self.tasks(top, spec["channels"])
        spec["run"] = self.run(top)
        return spec

    def pythonpath(self, top):
        value = top.get("pythonpath", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(("pythonpath",), f"expected a folder or a list of folders, got {_show(value)}", top)
        return value

    def channels(self, top):
        channels = top.get("channels") or {}
        if not isinstance(channels, dict):
            self.fail(("channels",), f"expected a mapping of channel name -> settings, got {_show(channels)}", top)
        out = {}
        for name, settings in channels.items():
            path = ("channels", name)
            self.name(name, path, channels)
            settings = self.mapping(settings, path, ("capacity", "policy", "delay"), channels)
            spec = {}
            if "capacity" in settings:
                spec["capacity"] = self.integer(settings, "capacity", path, minimum=1)
            if "policy" in settings:
                spec["policy"] = self.choice(settings, "policy", path, POLICIES)
            if "delay" in settings:
                spec["delay"] = self.choice(settings, "delay", path, (0, 1))
            out[name] = spec
        return out

    def tasks(self, top, channels):
        tasks = top["tasks"]
        if not isinstance(tasks, dict) or not tasks:
            self.fail(("tasks",), f"expected a non-empty mapping of task name -> settings, got {_show(tasks)}", top)
        for name in tasks:
            self.name(name, ("tasks", name), tasks)
            if name in channels:
                self.fail(("tasks", name), f"{name!r} is also a channel name; inputs could not tell them apart",
                          tasks)
        out = {}
        keys = ("fn", "inputs", "outputs", "every", "offset", "when", "retries", "ranks", "timeout", "compile")
        for name, settings in tasks.items():
            path = ("tasks", name)
            settings = self.mapping(settings, path, keys, tasks, required=("fn",))
            spec = {"fn": self.import_path(settings, "fn", path)}
            if "when" in settings:
                spec["when"] = self.import_path(settings, "when", path)
            if "inputs" in settings:
                spec["inputs"] = self.names(settings, "inputs", path, {**channels, **tasks}, "channel or task")
            if "outputs" in settings:
                spec["outputs"] = self.names(settings, "outputs", path, channels, "channel")
            for key, minimum in (("every", 1), ("offset", 0), ("retries", 0)):
                if key in settings:
                    spec[key] = self.integer(settings, key, path, minimum=minimum)
            if "ranks" in settings:
                spec["ranks"] = self.ranks(settings, path)
            if "timeout" in settings:
                spec["timeout"] = self.seconds(settings, "timeout", path)
            if "compile" in settings:
                spec["compile"] = self.compile_options(settings, path)
            out[name] = spec
        return out

    def run(self, top):
        keys = ("steps", "checkpoint_every", "checkpoint_dir", "keep_checkpoints", "resume", "progress", "threads",
                "lookahead", "timeout")
        settings = self.mapping(top.get("run"), ("run",), keys, top)
        out = {}
        for key in keys:
            if key in settings and key not in ("checkpoint_dir", "resume", "progress", "timeout"):
                out[key] = self.integer(settings, key, ("run",), minimum=0 if key == "steps" else 1,
                                        maximum=MAX_THREADS if key == "threads" else MAX_COUNT)
        if "timeout" in settings:
            out["timeout"] = self.seconds(settings, "timeout", ("run",))
        if "checkpoint_dir" in settings:
            out["checkpoint_dir"] = self.string(settings, "checkpoint_dir", ("run",))
        for key in ("resume", "progress"):
            if key in settings:
                value = settings[key]
                if not isinstance(value, bool) and not (key == "progress" and value is None):
                    self.fail(("run", key), f"expected true or false, got {_show(value)}", settings)
                out[key] = value
        return out

    # ---- leaves ----
    def name(self, name, path, parent):
        if not isinstance(name, str) or not name:
            self.fail(path, f"names must be non-empty strings, got {_show(name)}", parent)

    def string(self, parent, key, path):
        value = parent[key]
        if not isinstance(value, str) or not value:
            self.fail(path + (key,), f"expected a non-empty string, got {_show(value)}", parent)
        return value

    def integer(self, parent, key, path, minimum, maximum=MAX_COUNT):
        value = parent[key]
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
            limit = "2**62" if maximum == MAX_COUNT else maximum
            self.fail(path + (key,), f"expected an int >= {minimum} and <= {limit}, got {_show(value)}", parent)
        return value

    def seconds(self, parent, key, path):
        value = parent[key]
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        try:
            ok = ok and 0 < float(value) < math.inf
        except OverflowError:
            ok = False
        if not ok:
            self.fail(path + (key,), f"expected a positive, finite number of seconds, got {_show(value)}", parent)
        return float(value)

    def choice(self, parent, key, path, options):
        value = parent[key]
        if isinstance(value, bool) or value not in options:
            self.fail(path + (key,), f"expected one of {', '.join(map(str, options))}, got {_show(value)}", parent)
        return value

    def import_path(self, parent, key, path):
        value = parent[key]
        module, _, attr = value.partition(":") if isinstance(value, str) else ("", "", "")
        if not module or not attr or ":" in attr:
            self.fail(path + (key,), f"expected 'module:function', got {_show(value)}", parent)
        return value

    def names(self, parent, key, path, known, kind):
        value = parent[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(path + (key,), f"expected a list of {kind} names, got {_show(value)}", parent)
        for i, name in enumerate(value):
            if not isinstance(name, str) or name not in known:
                hint = _did_you_mean(name, known) if isinstance(name, str) else f" {_show(name)}"
                self.fail(path + (key,), f"item {i}: unknown {kind}{hint}", parent)
        return list(value)

    def compile_options(self, parent, path):
        """``compile:`` is what ``@wf.task(compile=...)`` takes: true, false, or a mapping of hy.compile
        options. Checked here (not only by wf.task) so a mistake names its key and line."""
        value = parent["compile"]
        if isinstance(value, bool):
            return value
        if not isinstance(value, dict):
            self.fail(path + ("compile",), f"expected true, false or a mapping of hy.compile options "
                                           f"(dynamic, mode), got {_show(value)}", parent)
        where = path + ("compile",)
        self.mapping(value, where, COMPILE_OPTIONS, parent)
        if "dynamic" in value and not isinstance(value["dynamic"], bool) and value["dynamic"] is not None:
            self.fail(where + ("dynamic",), f"expected true, false or null, got {_show(value['dynamic'])}", value)
        if "mode" in value:
            self.choice(value, "mode", where, COMPILE_MODES)
        return dict(value)

    def ranks(self, parent, path):
        value = parent["ranks"]
        ok = (isinstance(value, str) and value) or (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
        if not ok:
            self.fail(path + ("ranks",), f"expected a rank selector (all, first, last, an int, '0:-1', [0, 2]), got {_show(value)}",
                      parent)
        return value


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 40, 40, 40


def _show(value):
    """A short repr of any parsed value: bounded in depth and width, so an alias bomb or a huge int in a
    hostile file costs nothing to describe."""
    text = _REPR.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _did_you_mean(name, options):
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f" {_show(name)} (did you mean {close[0]!r}?)" if close else f" {_show(name)}"


# --------------------------------------------------------------------------------- resolving

def _resolve_callable(spec, where):
    """The object a 'module:attr.attr' string names, which must be callable."""
    module_name, _, attr_path = spec.partition(":")
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise SpecError(f"{where}: cannot import module {module_name!r} ({e}); "
                            f"is its folder listed in pythonpath?") from None
        raise SpecError(f"{where}: importing module {module_name!r} failed: {e}") from e
    except Exception as e:  # the user's module raised while importing
        raise SpecError(f"{where}: importing module {module_name!r} raised {type(e).__name__}: {e}") from e
    owner = f"module {module_name!r}"
    for i, attr in enumerate(attr_path.split(".")):
        if not hasattr(obj, attr):
            raise SpecError(f"{where}: {owner} has no attribute {attr!r}")
        obj = getattr(obj, attr)
        owner = repr(module_name + ":" + ".".join(attr_path.split(".")[:i + 1]))
    if not callable(obj):
        raise SpecError(f"{where}: {spec!r} is a {type(obj).__name__}, not a callable")
    return obj


# --------------------------------------------------------------------------------- building

def _build(workflow_cls, spec, tasks, source):
    def step(path, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError) as e:  # the engine's own checks, pointed back at the YAML key
            raise SpecError(f"{source}: {path}: {e}") from e

    kwargs = {"seed": spec["seed"]} if "seed" in spec else {}
    wf = step("name", workflow_cls, spec["name"], **kwargs)
    for name, settings in spec["channels"].items():
        step(f"channels.{name}", wf.channel, name, **settings)
    for name, settings in tasks.items():
        settings = dict(settings)
        fn = settings.pop("fn")
        step(f"tasks.{name}", wf.task, fn, name=name, **settings)
    return wf
