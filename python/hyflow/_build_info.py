"""hy.build_info(): what this build of hyflow compiled in."""

from . import _C


def build_info():
    """A dict describing this build: version, compiler, BLAS, and which optional backends are compiled in.

    ``mpi``/``cuda``/``nccl`` say whether the backend is compiled in; ``*_toolkit`` whether CMake found
    the toolkit at build time. ``cuda`` is True when libhyflow_cuda.so was built (``cuda_version``,
    ``cuda_archs``: the toolkit and ``HYFLOW_CUDA_ARCHS`` it was built with); ``cuda_available`` whether it
    is loaded with a GPU in this process, else ``cuda_unavailable_reason`` says why (no driver, no GPU,
    ``HYFLOW_DISABLE_CUDA``). ``nccl`` is True when the NCCL communicator library was built,
    ``cublas`` when the CUDA matmul kernels were, ``cufft`` when the CUDA FFT kernels were, ``cusolver`` when
    the CUDA kernels of hy.linalg's decompositions and solvers were (docs/cuda.md).

    ``cpu_baseline`` is the CPU the whole build targets (``x86-64-v2``, or ``native`` for a
    ``HYFLOW_NATIVE=ON`` build), ``cpu_variants`` the ISA variants of the hot kernels compiled
    (``default`` is the baseline's own), and ``cpu_capability`` the one this process runs: the best the
    CPU supports, capped by the ``HYFLOW_CPU_CAPABILITY`` environment variable (docs/development.md).

    ``lapack`` is True when LAPACK (from the BLAS library or beside it) is linked: hy.linalg's
    decompositions and solvers need it and raise NotImplementedError without it (docs/linalg.md).

    ``gemm_f32`` is the library float32 matrix products (matmul, linear, convolution) run on now:
    ``"onednn"`` (its sgemm, in a build with oneDNN), ``"blas"`` or ``"eigen"``; the environment variable
    ``HYFLOW_SGEMM=blas`` moves them from oneDNN to the BLAS (docs/design.md, "Library choices").

    ``lowp_gemm_kernel`` is what bfloat16 matmul runs on now: hyflow's own ``"amx_bf16"`` or
    ``"avx512_bf16"`` kernel (the best the CPU and Linux allow), ``"onednn"``, or ``None`` (computed in
    float32); ``HYFLOW_LOWP_GEMM`` (``avx512_bf16``, ``onednn``, ``fallback``) caps it. ``lowp_gemm`` is
    the library compiled in (``"onednn 2.6.3"``; ``None`` without one), ``lowp_gemm_isa`` the instruction
    set that library picked on this CPU, ``lowp_gemm_active`` False while bfloat16 products take the
    float32 path, and ``cpu_lowp_features`` the low-precision instructions the CPU has (``avx512_bf16``,
    ``avx512_fp16``, ``amx_bf16``, ``amx_tile``). See docs/amp.md, "Kernels".
    """
    c = _C._build_config()
    cuda = _C._cuda_status()
    cuda_ok = bool(cuda["loaded"]) and _C._cuda_device_count() > 0
    on = lambda v: str(v).upper() in ("ON", "TRUE", "1", "YES")  # noqa: E731
    return {
        "version": c["version"],
        "compiler": c["compiler"],
        "build_type": c["build_type"],
        "arch_flags": c["arch_flags"],
        "cpu_baseline": c["cpu_baseline"],
        "cpu_variants": list(c["cpu_variants"]),
        "cpu_capability": _C._cpu_capability(),
        "blas": c["blas"] or "eigen (no external BLAS)",
        "lapack": bool(c["lapack"]),
        "threads": _C.get_num_threads(),
        "gemm_f32": c["gemm_f32_library"],
        "lowp_gemm": c["lowp_gemm_library"] or None,
        "lowp_gemm_isa": c["lowp_gemm_isa"] or None,
        "lowp_gemm_kernel": c["lowp_gemm_kernel"] or None,
        "lowp_gemm_active": bool(c["lowp_gemm_kernel"]),
        "cpu_lowp_features": list(c["cpu_lowp_features"]),
        "mpi": on(c.get("mpi", False)),
        "mpi_toolkit": on(c["mpi_toolkit"]),
        "cuda": bool(cuda["built"]),
        "cuda_toolkit": on(c["cuda_toolkit"]),
        "cuda_version": cuda["cuda_version"] or None,
        "cuda_archs": cuda["archs"].split(";") if cuda["built"] else [],
        "cuda_available": cuda_ok,
        "cuda_unavailable_reason": None if cuda_ok else (cuda["reason"] or "no CUDA GPU is present"),
        "cublas": bool(cuda["cublas"]),
        "cufft": bool(cuda["cufft"]),
        "cusolver": bool(cuda["cusolver"]),
        "nccl": bool(_C._dist.has_nccl),
        "nccl_toolkit": on(c["nccl_toolkit"]),
        "devices": ["cpu", "cuda"] if cuda_ok else ["cpu"],
    }
