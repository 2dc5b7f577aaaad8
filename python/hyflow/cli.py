"""The ``hyflow`` command: run and describe workflows declared in YAML.

    hyflow run workflow.yaml --steps 500 --checkpoint-dir ckpt --resume --trace trace.json
    hyflow describe workflow.yaml > wf.dot
    hyflow version

Exit status: 0 success, 1 the workflow failed (WorkflowError), 2 bad command line or workflow file,
130 interrupted.
"""
import argparse
import logging
import os
import pathlib
import sys
import traceback

__all__ = ["main"]

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def main(argv=None):
    """Run the command line ``argv`` (default: sys.argv[1:]); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("hyflow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _version():
    from . import __version__
    return f"hyflow {__version__}"


def _parser():
    parser = argparse.ArgumentParser(prog="hyflow", description="Run and inspect hyflow workflows.")
    parser.add_argument("--version", action="version", version=_version())
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser("run", help="run a workflow YAML file and print its statistics")
    run.add_argument("file", help="workflow YAML file")
    run.add_argument("--steps", type=_non_negative, help="number of steps (overrides run.steps)")
    run.add_argument("--checkpoint-every", type=_positive, metavar="N", help="checkpoint every N steps")
    run.add_argument("--checkpoint-dir", metavar="DIR", help="checkpoint folder (overrides run.checkpoint_dir)")
    run.add_argument("--resume", action="store_true", help="resume from the latest checkpoint in the folder")
    run.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                     help="stop the run after this many seconds (overrides run.timeout)")
    run.add_argument("--trace", metavar="FILE", help="write a Chrome/Perfetto trace of the run to FILE")
    run.add_argument("--dot", metavar="FILE", help="write the task graph as Graphviz DOT to FILE")
    run.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    run.add_argument("--log-level", default="WARNING", type=str.upper,
                     choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], help="logging level (WARNING)")
    run.set_defaults(command="run", handler=_run)

    describe = commands.add_parser("describe", help="print a workflow's task graph as Graphviz DOT")
    describe.add_argument("file", help="workflow YAML file")
    describe.set_defaults(command="describe", handler=_describe)

    version = commands.add_parser("version", help="print the hyflow version")
    version.set_defaults(command="version", handler=lambda args: print(_version()) or 0)
    return parser


MAX_COUNT = 2**62  # the engine's largest step count (hyflow.workflow.graph.MAX_COUNT)


def _count(text, minimum):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int, got {text[:40]!r}") from None
    if not minimum <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be an int >= {minimum} and <= 2**62, got {text[:40]}")
    return value


def _non_negative(text):
    return _count(text, 0)


def _positive(text):
    return _count(text, 1)


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text[:40]!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive, finite number of seconds, got {text[:40]}")
    return value


def _load(path):
    """(workflow, run kwargs), or None after printing why the file cannot be used."""
    from .workflow.spec_yaml import SpecError, load_workflow
    if os.path.isdir(path) or not os.path.exists(path):
        # A Path, so that load_workflow never mistakes the argument for YAML text.
        print(f"hyflow: error: workflow file {path!r} {'is a folder' if os.path.isdir(path) else 'does not exist'}",
              file=sys.stderr)
        return None
    try:
        return load_workflow(pathlib.Path(path))
    except (SpecError, OSError, ImportError) as e:
        print(f"hyflow: error: {e}", file=sys.stderr)
        return None


def _describe(args):
    from .workflow.observe import graph_dot
    loaded = _load(args.file)
    if loaded is None:
        return EXIT_USAGE
    sys.stdout.write(graph_dot(loaded[0].describe()))
    return 0


def _run(args):
    from .workflow.observe import format_stats, graph_dot, write_text_atomically
    # The command line is the application, so it (and only it) sets up logging handlers.
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    loaded = _load(args.file)
    if loaded is None:
        return EXIT_USAGE
    wf, run_kwargs = loaded
    overrides = {"steps": args.steps, "checkpoint_every": args.checkpoint_every,
                 "checkpoint_dir": args.checkpoint_dir, "resume": True if args.resume else None,
                 "timeout": args.timeout,
                 "progress": False if args.no_progress else None}
    run_kwargs.update({k: v for k, v in overrides.items() if v is not None})
    if "steps" not in run_kwargs:
        print(f"hyflow: error: {args.file} sets no run.steps; give --steps N", file=sys.stderr)
        return EXIT_USAGE
    if args.dot:
        write_text_atomically(args.dot, graph_dot(wf.describe()))
    workflow_error = _workflow_error_class()
    try:
        result = wf.run(**run_kwargs)
    except workflow_error as e:
        if e.__cause__ is not None:  # the task's own exception, with its traceback
            traceback.print_exception(e.__cause__, file=sys.stderr)
        print(f"hyflow: {e}", file=sys.stderr)  # the engine's message names the workflow, task and step
        return EXIT_FAILED
    except (ValueError, TypeError) as e:
        # Refused before any step ran: run's own argument checks, or a checkpoint folder that belongs to
        # another workflow or is damaged beyond use. Task errors come as WorkflowError instead.
        print(f"hyflow: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if args.trace:
            _write_trace(wf, args.trace)  # after a failure too: the trace shows where it happened
    print(format_stats(result.stats))
    return 0


def _write_trace(wf, path):
    try:
        wf.trace(path)
    except Exception as e:  # a missing trace must not hide the run's own outcome
        print(f"hyflow: could not write the trace to {path}: {e}", file=sys.stderr)


def _workflow_error_class():
    from .workflow import WorkflowError
    return WorkflowError
