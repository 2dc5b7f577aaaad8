"""Out-of-tree C++ extensions: build tests/extension against the installed hyflow with CMake (the
recipe of docs/extending.md), load it, and call its ops through hy.ops."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import hyflow as hy

EXT_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "extension")
CMAKE = shutil.which("cmake")
NINJA = shutil.which("ninja")

pytestmark = pytest.mark.skipif(CMAKE is None, reason="cmake is not installed: cannot build a C++ extension")


def _installed():
    return os.path.isfile(os.path.join(hy.cmake_prefix_path(), "share", "cmake", "hyflow", "hyflowConfig.cmake"))


@pytest.fixture(scope="module")
def ext_lib(tmp_path_factory):
    if not _installed():
        pytest.skip("hyflow is not installed with its CMake package (developer build via HYFLOW_BUILD_DIR?)")
    build = tmp_path_factory.mktemp("ext_build")
    cfg = [CMAKE, "-S", EXT_SRC, "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
           f"-DCMAKE_PREFIX_PATH={hy.cmake_prefix_path()}"]
    if NINJA:
        cfg += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={NINJA}"]
    if shutil.which("ccache"):
        cfg.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
    for cmd in (cfg, [CMAKE, "--build", str(build)]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}"
    lib = build / "libmyscale.so"
    assert lib.exists(), sorted(p.name for p in build.iterdir())
    hy.ops.load_library(str(lib))
    return lib


def test_helpers_point_at_installed_files():
    if not _installed():
        pytest.skip("hyflow is not installed with its CMake package")
    inc = hy.get_include()
    assert os.path.isfile(os.path.join(inc, "dispatch", "registry.h"))
    assert os.path.isfile(os.path.join(inc, "core", "tensor.h"))
    assert os.path.isfile(os.path.join(inc, "hyflow", "ops", "ops_generated.h"))
    assert os.path.isfile(os.path.join(hy.cmake_prefix_path(), "libhyflow_core.so"))


def test_extension_op_is_registered(ext_lib):
    assert "myscale" in hy.ops.list_ops()
    info = hy.ops.schema("myscale")
    assert info["schema"] == "myscale(Tensor x, float a) -> Tensor"
    assert info["doc"] == "x * a, from a C++ extension"
    assert info["builtin"] is False
    assert "cpu" in info["devices"]


@pytest.mark.parametrize("dtype", [hy.float32, hy.float64])
def test_extension_op_computes(ext_lib, dtype):
    x = hy.tensor([[1.0, -2.0, 3.5], [0.0, 4.0, -1.0]], dtype=dtype)
    y = hy.ops.myscale(x, 2.0)
    assert y.dtype == dtype and tuple(y.shape) == (2, 3)
    np.testing.assert_allclose(y.numpy(), x.numpy() * 2.0)
    # keyword arguments and an int where the schema says float
    np.testing.assert_allclose(hy.ops.myscale(x=x, a=3).numpy(), x.numpy() * 3.0)


def test_extension_op_on_non_contiguous_input(ext_lib):
    x = hy.arange(12, dtype=hy.float32).reshape(3, 4).transpose(0, 1)
    np.testing.assert_allclose(hy.ops.myscale(x, -1.0).numpy(), -np.arange(12, dtype=np.float32).reshape(3, 4).T)


def test_extension_multiple_returns_and_default(ext_lib):
    x = hy.tensor([1.0, 2.0])
    a, b = hy.ops.myscale_pair(x)
    np.testing.assert_allclose(a.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(b.numpy(), [2.0, 4.0])


def test_extension_errors_cross_the_library_boundary(ext_lib):
    # A hy::TypeError thrown inside the extension reaches Python as TypeError.
    with pytest.raises(TypeError, match="myscale: expected a float32 or float64 tensor"):
        hy.ops.myscale(hy.tensor([1, 2]), 2.0)
    with pytest.raises(TypeError, match="'x'"):
        hy.ops.myscale("not a tensor", 2.0)


def test_extension_shares_the_one_core_library(ext_lib):
    # Exactly one libhyflow_core.so in the process: the extension reused the copy _C loaded.
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "libhyflow_core" in line}
    assert len(paths) == 1, paths


def test_loading_twice_is_a_clear_error(ext_lib):
    with pytest.raises(ValueError, match="already defined"):
        hy.ops.load_library(str(ext_lib))


def test_load_library_errors(tmp_path):
    with pytest.raises(ValueError, match="no file"):
        hy.ops.load_library(str(tmp_path / "missing.so"))
    bogus = tmp_path / "bogus.so"
    bogus.write_text("not a shared library")
    with pytest.raises(ValueError, match="cannot load"):
        hy.ops.load_library(str(bogus))


def test_extension_loads_in_a_fresh_process(ext_lib):
    code = ("import hyflow as hy; hy.ops.load_library(%r); "
            "print(hy.ops.myscale(hy.ones(3), 4.0).tolist())" % str(ext_lib))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[4.0, 4.0, 4.0]"
