"""``HYFLOW_LOG=compiler`` (or a comma list containing it) prints the compiler's decisions to stderr:
traces, recompiles and their reasons, graph breaks, pass results."""
import os
import sys


def enabled():
    return "compiler" in os.environ.get("HYFLOW_LOG", "").split(",")


def log(msg):
    if enabled():
        print(f"[hyflow.compiler] {msg}", file=sys.stderr)
