"""The ``hyflow`` command: run and describe workflows declared in YAML.

    hyflow run workflow.yaml --steps 500 --checkpoint-dir ckpt --resume --trace trace.json
    hyflow describe workflow.yaml > wf.dot
    hyflow version

Exit status: 0 success, 1 the workflow failed (WorkflowError), 2 bad command line or workflow file,
130 interrupted.
"""
import argparse
import logging
import sys

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


def _non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _load(path):
    """(workflow, run kwargs), or None after printing why the file cannot be used."""
    from .workflow.spec_yaml import SpecError, load_workflow
    try:
        return load_workflow(path)
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
        print(f"hyflow: {e}", file=sys.stderr)  # the engine's message names the workflow, task and step
        return EXIT_FAILED
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
