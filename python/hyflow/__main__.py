"""``python -m hyflow run workflow.yaml``: the same command line as ``hyflow`` (see hyflow/cli.py)."""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
