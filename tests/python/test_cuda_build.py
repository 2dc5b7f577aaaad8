"""The CUDA backend as a CPU-only machine sees it (docs/cuda.md): the library is built and exports its
entry point, the import works without a driver and says why CUDA is unavailable, build_info reports
what was built, device requests fail with that reason, and the coverage table in docs/cuda.md is current."""
import ctypes
import os
import pathlib
import subprocess
import sys

import pytest

import hyflow as hy

ROOT = pathlib.Path(__file__).resolve().parents[2]
INFO = hy.build_info()
needs_library = pytest.mark.skipif(not INFO["cuda"], reason="hyflow was built without its CUDA backend")
without_gpu = pytest.mark.skipif(INFO["cuda_available"], reason="a GPU is present (tests/python/cuda covers it)")


def cuda_library():
    return pathlib.Path(hy._C.__file__).parent / "libhyflow_cuda.so"


def test_build_info_reports_the_cuda_fields():
    for key in ("cuda", "cuda_toolkit", "cuda_version", "cuda_archs", "cuda_available", "cuda_unavailable_reason",
                "cublas", "cufft", "cusolver", "nccl", "nccl_toolkit", "devices"):
        assert key in INFO, key
    assert INFO["cuda_available"] == hy.cuda.is_available()
    assert ("cuda" in INFO["devices"]) == INFO["cuda_available"]
    assert (INFO["cuda_unavailable_reason"] is None) == INFO["cuda_available"]


@needs_library
def test_library_is_built_and_exports_its_entry_point():
    lib = cuda_library()
    assert lib.exists(), lib
    nm = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True)
    assert " T hyflow_cuda_register" in nm.stdout
    assert INFO["cuda_archs"] and INFO["cuda_version"]


@needs_library
def test_entry_point_answers_the_probe_without_touching_cuda():
    # A null registry is the loader's version probe: it must not need a driver.
    fn = ctypes.CDLL(str(cuda_library())).hyflow_cuda_register
    fn.restype, fn.argtypes = ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_char_p]
    assert fn(None, b"").decode() == INFO["version"]


@needs_library
def test_core_does_not_link_cuda():
    core = pathlib.Path(hy._C.__file__).parent / "libhyflow_core.so"
    deps = subprocess.run(["ldd", str(core)], capture_output=True, text=True).stdout
    assert "libcuda" not in deps and "libcudart" not in deps and "libhyflow_cuda" not in deps


@without_gpu
def test_import_without_a_driver_says_why():
    reason = hy.cuda.unavailable_reason()
    assert not hy.cuda.is_available() and hy.cuda.device_count() == 0
    assert reason == INFO["cuda_unavailable_reason"]
    if INFO["cuda"]:
        assert "libcuda.so.1" in reason or "GPU" in reason, reason
    else:
        assert "built without" in reason


@needs_library
def test_disabling_cuda_by_environment():
    env = dict(os.environ, HYFLOW_DISABLE_CUDA="1")
    out = subprocess.run([sys.executable, "-c", "import hyflow as hy; print(hy.build_info()['cuda_unavailable_reason'])"],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert "HYFLOW_DISABLE_CUDA" in out


@without_gpu
def test_device_requests_fail_with_the_reason():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        hy.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        hy.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        hy.ones(2).cuda()
    x = hy.ones(2)
    assert x.pin_memory() is x  # nothing to pin for: device-agnostic code keeps running
    with pytest.raises(RuntimeError, match="not available"):
        hy.cuda.memory_allocated()
    with pytest.raises(RuntimeError, match="not available"):
        hy.cuda.Stream()
    with pytest.raises(RuntimeError, match="not available"):
        hy.cuda.synchronize()
    with pytest.raises(RuntimeError, match=r"get_device_properties\(\): CUDA is not available"):
        hy.cuda.get_device_properties(0)
    assert not hy.ones(2).is_pinned()
    hy.cuda.empty_cache()  # nothing cached: a no-op, not an error


def test_current_cuda_device_is_process_wide_and_named_by_plain_cuda():
    # "cuda" without an index is the current device (hy.cuda.set_device), read in C++ when a device string is
    # parsed; here without a GPU only the stored index can be checked, and the error names the resolved device.
    import threading
    from hyflow import _C
    assert _C._cuda_current_device() == 0
    try:
        _C._cuda_set_current_device(3)
        seen = []
        t = threading.Thread(target=lambda: seen.append(_C._cuda_current_device()))
        t.start()
        t.join()
        assert seen == [3]  # process-wide, unlike torch's per-thread current device
        if not hy.cuda.is_available():
            with pytest.raises(RuntimeError, match="cuda:3"):
                hy.zeros(2, device="cuda")
    finally:
        _C._cuda_set_current_device(0)
    with pytest.raises(ValueError, match="index"):
        _C._cuda_set_current_device(-1)
    if not hy.cuda.is_available():
        with pytest.raises(RuntimeError, match="not available"):
            hy.cuda.set_device(0)
        with pytest.raises(RuntimeError, match="not available"):
            hy.cuda.device(0)
        with hy.cuda.device(None):  # None: no change, as torch
            pass


@without_gpu
def test_moves_without_cuda_name_the_reason():
    x = hy.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        x.to("cuda")  # the differentiable path reaches the same check
    assert x.to("cpu") is x  # same device: nothing to move
    model = hy.nn.Linear(2, 3)
    weight = model.weight
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        model.to("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        model.cuda()
    assert model.cpu() is model and model.weight is weight  # nothing moved: the same Parameter


@pytest.mark.skipif(not INFO["cufft"], reason="hyflow was built without cuFFT")
def test_library_links_cufft_where_it_was_found():
    # The FFT kernels call cuFFT directly: libcufft is a NEEDED entry of the library, found through its
    # DT_RPATH (the folder CMake found it in; site-packages/nvidia/cu13/lib beside an installed hyflow).
    lib = cuda_library()
    dyn = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "libcufft.so" in dyn
    assert "(RPATH)" in dyn
    ldd = subprocess.run(["ldd", str(lib)], capture_output=True, text=True).stdout
    line = next(l for l in ldd.splitlines() if "libcufft" in l)
    assert "not found" not in line, line
    syms = subprocess.run(["nm", "-D", "--undefined-only", str(lib)], capture_output=True, text=True, check=True).stdout
    for fn in ("cufftMakePlanMany64", "cufftExecC2C", "cufftExecD2Z", "cufftExecZ2D", "cufftSetWorkArea"):
        assert fn in syms, fn


@pytest.mark.skipif(not INFO["cublas"], reason="hyflow was built without cuBLAS")
def test_library_links_cublaslt_where_cublas_was_found():
    # addmm's bias epilogue calls cuBLASLt directly (csrc/cuda/cublas/gemm_lt.cpp): libcublasLt is NEEDED too.
    lib = cuda_library()
    dyn = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "libcublasLt.so" in dyn
    syms = subprocess.run(["nm", "-D", "--undefined-only", str(lib)], capture_output=True, text=True, check=True).stdout
    for fn in ("cublasLtMatmul", "cublasLtMatmulAlgoGetHeuristic", "cublasLtMatmulDescSetAttribute"):
        assert fn in syms, fn


@needs_library
def test_stream_gate_kernel_is_compiled():
    out = subprocess.run(["strings", str(cuda_library())], capture_output=True, text=True).stdout
    assert "stream_gate_kernel" in out


def test_allow_cublaslt_switch_without_a_gpu():
    # Stored (and handed to the backend when one is loaded): programs that set it run on any machine.
    flags = hy.backends.cuda.matmul
    assert flags.allow_cublaslt is True
    flags.allow_cublaslt = False
    try:
        assert flags.allow_cublaslt is False and "allow_cublaslt=False" in repr(flags)
    finally:
        flags.allow_cublaslt = True
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match="allow_cublaslt must be a bool"):
            flags.allow_cublaslt = bad
    assert flags.allow_cublaslt is True


@without_gpu
def test_cublaslt_stats_and_stream_gate_without_a_gpu_say_why():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        hy._C._cuda_cublaslt_stats(0)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        hy._C._cuda_stream_gate(0)


@pytest.mark.skipif(INFO["cufft"] or not INFO["cuda"], reason="only for a CUDA build without cuFFT")
def test_fft_kernels_of_a_build_without_cufft_say_why():
    out = subprocess.run(["strings", str(cuda_library())], capture_output=True, text=True).stdout
    assert "built without cuFFT" in out


@pytest.mark.skipif(not INFO["cusolver"], reason="hyflow was built without cuSOLVER")
def test_library_links_cusolver_where_it_was_found():
    # hy.linalg's CUDA kernels call cuSOLVER (and cuBLAS's trsm) directly: libcusolver is a NEEDED entry of the
    # library, found through its DT_RPATH; libcusolver finds cuSPARSE and nvJitLink through its own $ORIGIN.
    lib = cuda_library()
    dyn = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "libcusolver.so" in dyn and "libcublas.so" in dyn
    assert "(RPATH)" in dyn
    ldd = subprocess.run(["ldd", str(lib)], capture_output=True, text=True).stdout
    for name in ("libcusolver", "libcusparse", "libnvJitLink"):
        line = next(l for l in ldd.splitlines() if name in l)
        assert "not found" not in line, line
    syms = subprocess.run(["nm", "-D", "--undefined-only", str(lib)], capture_output=True, text=True, check=True).stdout
    for fn in ("cusolverDnXgetrf", "cusolverDnXgetrs", "cusolverDnXpotrf", "cusolverDnXgeqrf", "cusolverDnDorgqr",
               "cusolverDnXsyevd", "cusolverDnXgesvd", "cusolverDnSetStream", "cublasDtrsm_v2"):
        assert fn in syms, fn
    # Without cuSOLVER the ops would say why; with it, that message is not compiled in.
    strings = subprocess.run(["strings", str(lib)], capture_output=True, text=True).stdout
    assert "built without cuSOLVER" not in strings


@pytest.mark.skipif(INFO["cusolver"] or not INFO["cuda"], reason="only for a CUDA build without cuSOLVER")
def test_linalg_kernels_of_a_build_without_cusolver_say_why():
    out = subprocess.run(["strings", str(cuda_library())], capture_output=True, text=True).stdout
    assert "has no CUDA kernel yet (built without cuSOLVER" in out


@without_gpu
def test_record_stream_refuses_cpu_tensors():
    with pytest.raises(ValueError, match="CUDA tensor"):
        hy.ones(3).record_stream(None)


@without_gpu
def test_cufft_plan_cache_without_a_gpu_says_why():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        hy.backends.cuda.cufft_plan_cache.size
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        hy.backends.cuda.cufft_plan_cache[0].clear()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        hy.backends.cuda.cufft_plan_cache.max_size = 8


def test_coverage_table_is_current():
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_cuda_coverage.py"), "--check"], check=True)


@without_gpu
def test_nccl_backend_without_cuda_says_why():
    import hyflow.distributed as dist
    with pytest.raises(RuntimeError, match="backend='nccl'.*CUDA is not available"):
        dist.init(backend="nccl")
    assert not dist.is_initialized()


def test_raw_nccl_all_reduce_refuses_other_communicators():
    # Only an NCCL communicator has an NCCL handle to call ncclAllReduce on.
    with pytest.raises(ValueError, match="expected an NCCL communicator, got local"):
        hy._C._dist.nccl_raw_all_reduce(hy._C._dist.local_world(), hy.ones(4), 10, 2)
    assert hy._C._dist.local_world().device == "cpu"


@pytest.mark.skipif(not INFO["nccl"], reason="hyflow was built without its NCCL communicator")
def test_nccl_library_is_built_and_exports_its_entry_point():
    lib = pathlib.Path(hy._C.__file__).parent / "libhyflow_nccl.so"
    nm = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True)
    assert " T hyflow_nccl_world" in nm.stdout
    assert " T hyflow_nccl_raw_all_reduce" in nm.stdout  # benchmarks/bench_nccl.py's raw NCCL loop
    # Its probe answers without CUDA or NCCL being touched (libnccl must still be loadable).
    fn = ctypes.CDLL(str(lib)).hyflow_nccl_world
    fn.restype, fn.argtypes = ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p]
    assert fn(None, None, b"").decode() == INFO["version"]


@needs_library
@without_gpu
def test_loader_survives_a_driver_without_a_gpu(tmp_path):
    # A stand-in libcuda.so.1 with no driver API: the loader gets past its probe, loads libhyflow_cuda and
    # calls its entry point, whose CUDA runtime then finds no usable GPU. That must be a reason, not a crash.
    import shutil
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the stand-in driver")
    src = tmp_path / "fake.c"
    src.write_text("int hyflow_fake_driver(void) { return 0; }\n")
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp_path / "libcuda.so.1"), "-Wl,-soname,libcuda.so.1", str(src)],
                   check=True)
    env = dict(os.environ, LD_LIBRARY_PATH=f"{tmp_path}:{os.environ.get('LD_LIBRARY_PATH', '')}")
    out = subprocess.run([sys.executable, "-c", "import hyflow as hy; print(hy.cuda.is_available()); "
                          "print(hy.build_info()['cuda_unavailable_reason'])"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    available, reason = out.stdout.splitlines()[:2]
    assert available == "False"
    assert "libcuda.so.1 could not be loaded" not in reason  # the stand-in was found
    assert "GPU" in reason or "driver" in reason, reason
