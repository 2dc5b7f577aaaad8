"""Property-based fuzz tests (hypothesis, fixed seed, bounded examples): creation, indexing, binary /
unary / reduction ops, in-place and out= paths, each compared with NumPy. A case must give the right
value or raise an allowed Python exception (fuzz_support.ALLOWED_ERRORS) -- never crash.

Each property runs in a child interpreter: a crash then fails one test and names the case that
caused it (the child logs every case before running it) instead of killing pytest. More examples:
HYFLOW_FUZZ_EXAMPLES=5000; a fresh seed: HYFLOW_FUZZ_RANDOM=1 (docs/development.md).
"""
import os

import pytest

from fuzz_child import describe_exit, run_python

pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis (pip install hypothesis)")

FUZZ_DIR = os.path.dirname(os.path.abspath(__file__))

PROPERTIES = [
    ("fuzz_props_tensors", "creation"),
    ("fuzz_props_tensors", "from_numpy"),
    ("fuzz_props_tensors", "getitem"),
    ("fuzz_props_tensors", "setitem"),
    ("fuzz_props_ops", "binary_ops"),
    ("fuzz_props_ops", "unary_ops"),
    ("fuzz_props_ops", "reductions"),
    ("fuzz_props_inplace", "inplace_ops"),
    ("fuzz_props_inplace", "out_argument"),
]

_CHILD = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
importlib.import_module(sys.argv[2]).PROPERTIES[sys.argv[3]]()
"""


@pytest.mark.parametrize("module,name", PROPERTIES, ids=[name for _, name in PROPERTIES])
def test_property(module, name, tmp_path):
    case_file = tmp_path / "last_case.txt"
    # Hypothesis keeps a cache in ./.hypothesis unless told otherwise: keep it out of the source tree.
    r = run_python(["-c", _CHILD, FUZZ_DIR, module, name], HYFLOW_FUZZ_CASE_FILE=str(case_file),
                   HYPOTHESIS_STORAGE_DIRECTORY=str(tmp_path / "hypothesis"))
    if r.returncode != 0:
        last = case_file.read_text() if case_file.exists() else "(no case was logged)"
        output = (r.stdout + r.stderr)[-8000:]
        pytest.fail(f"fuzz property {name} {describe_exit(r.returncode)}; last case run:\n  {last}\n\n{output}",
                    pytrace=False)
