"""Typing: the checked-in stubs equal what scripts/gen_stubs.py makes from the op table, mypy reads them on a
user's script (catching real mistakes), they ship in the wheel, and hy.__all__ keeps internal ops out."""
import inspect
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import hyflow as hy

PKG = os.path.dirname(os.path.abspath(hy.__file__))
# The source tree holding these tests (the package may be installed elsewhere, e.g. in .venv).
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEN = os.path.join(REPO, "scripts", "gen_stubs.py")
STUBS = ["_C.pyi", "__init__.pyi", os.path.join("ops", "__init__.pyi"), "py.typed"]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.dirname(PKG), env.get("PYTHONPATH")) if p)
    return env


@pytest.mark.skipif(not os.path.exists(GEN), reason="scripts/gen_stubs.py is not beside this package (installed)")
def test_checked_in_stubs_match_the_op_table_and_package():
    out = subprocess.run([sys.executable, GEN, "--check"], capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 0, f"{out.stderr}\n{out.stdout}"


def test_stubs_declare_every_public_op_with_its_signature_and_doc():
    text = open(os.path.join(PKG, "__init__.pyi")).read()
    c_text = open(os.path.join(PKG, "_C.pyi")).read()
    ops_text = open(os.path.join(PKG, "ops", "__init__.pyi")).read()
    assert "def add(self: _TensorLike, other: _TensorLike, *, alpha: _Scalar = ..., out: Optional[Tensor] = ...) " \
           "-> Tensor:\n    \"\"\"self + alpha * other, broadcast.\"\"\"" in text
    for name in hy.ops.list_ops():
        info = hy.ops.schema(name)
        if not info["builtin"]:
            continue
        assert f"\ndef {name}(" in ops_text, name  # every op under hy.ops
        variants = info["variants"].split(",")
        # (a method the Python layer replaced or removed, e.g. clamp_tensor under clamp, is declared as it is)
        if "method" in variants and hasattr(hy.Tensor, name):
            assert f"    def {name}(" in c_text, name
        if "inplace" in variants and hasattr(hy.Tensor, name + "_"):
            assert f"    def {name}_(" in c_text, name
    for name in hy.__all__:
        assert f"def {name}(" in text or f" as {name}\n" in text or f"\n{name}: " in text, name
    assert "gelu_backward" not in text and "im2col" not in text and "_fused_sgd_" not in text


def test_py_typed_and_stubs_ship_in_the_wheel():
    # scikit-build-core copies every file of wheel.packages that git does not ignore
    pyproject = open(os.path.join(REPO, "pyproject.toml")).read()
    assert 'wheel.packages = ["python/hyflow"]' in pyproject
    for rel in STUBS:
        assert os.path.exists(os.path.join(PKG, rel)), rel
    if shutil.which("git") and os.path.isdir(os.path.join(REPO, ".git")) or os.path.isfile(os.path.join(REPO, ".git")):
        src = os.path.join(REPO, "python", "hyflow")
        out = subprocess.run(["git", "check-ignore", *(os.path.join(src, r) for r in STUBS)], cwd=REPO,
                             capture_output=True, text=True)
        assert out.stdout == "", f"ignored by git, so left out of the wheel: {out.stdout}"


USER_OK = """
    import hyflow as hy
    import hyflow.nn as nn
    import hyflow.optim as optim

    x: hy.Tensor = hy.randn(4, 3, requires_grad=True)
    w = hy.zeros(3, 2, dtype=hy.float32, requires_grad=True)
    y: hy.Tensor = hy.add(x, 1.0, alpha=2)
    z: hy.Tensor = (x @ w).relu().sum(dim=1, keepdim=True)
    loss: hy.Tensor = ((z - 1.0) ** 2).mean()
    loss.backward()
    g = x.grad
    shape: tuple[int, ...] = x.reshape(12).view(3, 4).shape
    n: int = x.numel()
    v: float = float(loss.item())
    t: hy.Tensor = hy.tensor([1.0, 2.0]).exp_().mul(3).to(hy.float64)
    k: hy.Tensor = hy.cat([x, x], 0)
    s: hy.Tensor = hy.ops.add(x, x)
    d: hy.dtype = t.dtype
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    gen: hy.Generator = hy.manual_seed(0)
    size: hy.Size = x.shape
    rest: hy.Size = size[1:] + (2,)
    first: int = size[0] + size.numel()
    print(y, g, shape, n, v, k, s, d, gen, rest, first)

    # torch's module path of hy.data is a real package (issue 14: mypy resolves it)
    from hyflow.utils.data import DataLoader, Dataset, TensorDataset
    from hyflow.utils.data.distributed import DistributedSampler
    dataset: Dataset = TensorDataset(x, x)
    for xb, yb in DataLoader(dataset, batch_size=2, shuffle=True):
        print(xb, yb, DistributedSampler)
"""

USER_BAD = """
    import hyflow as hy

    x = hy.randn(4, 3)
    a: str = hy.add(x, x)
    b = x.sum().no_such_method()
    c = hy.zeros(2, requires_gradd=True)
    d = hy.gelu_backward
    e: int = x.shape
"""


def test_mypy_checks_a_typed_user_script(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed (pip install mypy)")
    ok, bad = tmp_path / "user_ok.py", tmp_path / "user_bad.py"
    ok.write_text(textwrap.dedent(USER_OK))
    bad.write_text(textwrap.dedent(USER_BAD))

    def mypy(path):
        cmd = [sys.executable, "-m", "mypy", "--python-executable", sys.executable, "--no-incremental",
               "--cache-dir", str(tmp_path / "cache"), "--follow-imports=silent", "--show-error-codes", str(path)]
        return subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300)
    res = mypy(ok)
    assert res.returncode == 0, res.stdout + res.stderr
    res = mypy(bad)
    errors = [line.split(": error: ", 1)[1] for line in res.stdout.splitlines() if ": error: " in line]
    lines = [int(line.split(":")[1]) for line in res.stdout.splitlines() if ": error: " in line]
    assert lines == [5, 6, 7, 8, 9], res.stdout
    assert 'expression has type "Tensor", variable has type "str"' in errors[0]
    assert '"Tensor" has no attribute "no_such_method"' in errors[1]
    assert 'Unexpected keyword argument "requires_gradd" for "zeros"' in errors[2]
    assert 'Module has no attribute "gelu_backward"' in errors[3]
    assert '"Size"' in errors[4]


def test_all_keeps_internal_ops_out_of_the_public_namespace():
    from hyflow._functions import is_internal_op
    assert len(hy.__all__) == len(set(hy.__all__))
    assert all(hasattr(hy, name) for name in hy.__all__)
    ops = set(hy.ops.list_ops())
    assert [n for n in hy.__all__ if n in ops and is_internal_op(n)] == []
    for name in ("gelu_backward", "im2col", "col2im", "_fused_sgd_", "_fused_adam_", "max_pool2d_backward",
                 "clamp_tensor", "max_dim"):
        assert not hasattr(hy, name), name
        assert callable(getattr(hy.ops, name)), name  # still reachable as hy.ops.<name>
    for name in ("add", "matmul", "laplacian", "where", "zeros", "Tensor", "nn", "optim", "float32", "no_grad"):
        assert name in hy.__all__, name
    namespace = {}
    exec("from hyflow import *", namespace)
    assert namespace["add"] is hy.add and "slice" not in namespace and "gelu_backward" not in namespace


def test_factory_signatures_show_requires_grad():
    for fn in (hy.zeros, hy.ones, hy.randn, hy.tensor, hy.full, hy.arange, hy.zeros_like):
        sig = inspect.signature(fn)
        assert sig.parameters["requires_grad"].kind is inspect.Parameter.KEYWORD_ONLY, fn.__name__
        assert sig.return_annotation is hy.Tensor, fn.__name__
    assert list(inspect.signature(hy.zeros).parameters) == ["size", "dtype", "device", "requires_grad"]
    assert hy.zeros(2, requires_grad=True).requires_grad
