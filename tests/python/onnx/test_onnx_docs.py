"""docs/onnx.md's op coverage table is generated from the op table (scripts/gen_onnx_coverage.py): it must be
up to date, as the type stubs must (test_stubs.py). Also: hyflow works without onnx/onnxruntime."""
import os
import subprocess
import sys
import textwrap

import pytest

from _ort import require

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GEN = os.path.join(REPO, "scripts", "gen_onnx_coverage.py")


@pytest.mark.skipif(not os.path.exists(GEN), reason="scripts/gen_onnx_coverage.py is not beside these tests")
def test_coverage_table_is_up_to_date():
    require()
    out = subprocess.run([sys.executable, GEN, "--check"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr + out.stdout


def test_hyflow_without_onnx_packages_says_what_to_install(tmp_path):
    # A meta-path finder that hides onnx and onnxruntime: hyflow imports, hy.onnx raises ImportError.
    script = textwrap.dedent("""
        import sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("onnx", "onnxruntime"):
                    raise ImportError(f"No module named {name!r} (hidden)")
        sys.meta_path.insert(0, Hide())
        import hyflow as hy
        assert float(hy.ones(2).sum()) == 2.0
        try:
            hy.onnx
        except ImportError as err:
            assert "pip install onnx onnxruntime" in str(err), err
            print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr + out.stdout
