import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the opinfo package of tests/python


def pytest_collection_modifyitems(config, items):
    # This hook sees every collected test of the session: only the GPU tests of this folder are skipped.
    import hyflow as hy
    if hy.cuda.is_available():
        return
    skip = pytest.mark.skip(reason=f"CUDA is not available: {hy.cuda.unavailable_reason()}")
    for item in items:
        if HERE in pathlib.Path(str(item.path)).resolve().parents:
            item.add_marker(skip)
