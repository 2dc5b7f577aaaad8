"""``torch.backends.cuda``: ``is_built()``, the ``matmul`` precision flags and ``cufft_plan_cache``.

``matmul.allow_tf32`` (default False, as torch) and the reduced-precision-reduction flags are stored and
never read: hyflow's CUDA GEMMs use cuBLAS's default math (no TF32) and its CPU GEMMs have no such mode.
``matmul.allow_cublaslt`` (hyflow's own, default True) lets ``addmm`` with a bias vector (``nn.Linear`` on
2-D input) add the bias in cuBLASLt's epilogue; False runs it on plain cuBLAS (docs/cuda.md).

``cufft_plan_cache`` is the per-device cache of cuFFT plans the CUDA FFTs use (docs/cuda.md): ``size``
(plans held), ``max_size`` (settable; least recently used plans are destroyed beyond it, 0 turns caching
off) and ``clear()``, for the current device or ``cufft_plan_cache[i]``."""
from .. import _C


def is_built():
    """True when this hyflow was compiled with its CUDA backend (a GPU need not be present: see hy.cuda)."""
    return bool(_C._cuda_status()["built"])


class _MatmulFlags:
    """``hy.backends.cuda.matmul``: torch's flags with torch's defaults (stored, not read by hyflow) and
    ``allow_cublaslt``, which the CUDA backend reads."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True
        self._allow_cublaslt = True

    @property
    def allow_cublaslt(self):
        """Whether addmm with a bias vector may use cuBLASLt's bias epilogue (default True)."""
        return self._allow_cublaslt

    @allow_cublaslt.setter
    def allow_cublaslt(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"matmul.allow_cublaslt must be a bool, got {type(value).__name__}")
        _C._cuda_set_allow_cublaslt(value)  # a no-op without a loaded CUDA backend
        self._allow_cublaslt = value

    def __repr__(self):
        return (f"hyflow.backends.cuda.matmul(allow_tf32={self.allow_tf32}, allow_fp16_reduced_precision_"
                f"reduction={self.allow_fp16_reduced_precision_reduction}, allow_bf16_reduced_precision_"
                f"reduction={self.allow_bf16_reduced_precision_reduction}, allow_cublaslt={self.allow_cublaslt})")


matmul = _MatmulFlags()


class _CufftPlanCache:
    """One device's cuFFT plan cache (``hy.backends.cuda.cufft_plan_cache[i]``)."""

    def __init__(self, device_index):
        self.device_index = device_index

    def _check(self):
        from .. import cuda
        if not cuda.is_available():
            raise RuntimeError(f"cufft_plan_cache: CUDA is not available ({cuda.unavailable_reason()})")
        if not 0 <= self.device_index < cuda.device_count():
            raise ValueError(f"cufft_plan_cache: device {self.device_index} does not exist "
                             f"({cuda.device_count()} CUDA device(s))")

    @property
    def size(self):
        """The number of plans cached for this device."""
        self._check()
        return _C._cuda_fft_plan_cache(self.device_index)["size"]

    @property
    def max_size(self):
        """The most plans kept (default 4096, as torch); beyond it the least recently used are destroyed."""
        self._check()
        return _C._cuda_fft_plan_cache(self.device_index)["max_size"]

    @max_size.setter
    def max_size(self, value):
        self._check()
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"cufft_plan_cache.max_size must be an int, got {type(value).__name__}")
        _C._cuda_set_fft_plan_cache_max_size(self.device_index, value)

    def clear(self):
        """Destroy every cached plan of this device."""
        self._check()
        _C._cuda_clear_fft_plan_cache(self.device_index)

    def __repr__(self):
        return f"hyflow.backends.cuda.cufft_plan_cache[{self.device_index}]"


class _CufftPlanCacheManager:
    """``hy.backends.cuda.cufft_plan_cache``: ``[i]`` is device i's cache; ``size``, ``max_size`` and
    ``clear()`` on the manager itself act on the current device's, as in torch."""

    def __getitem__(self, device):
        if isinstance(device, int) and not isinstance(device, bool):
            return _CufftPlanCache(device)
        text = str(device)
        if not text.startswith("cuda"):
            raise ValueError(f"cufft_plan_cache: expected a CUDA device, got {device!r}")
        return _CufftPlanCache(int(text.split(":")[1]) if ":" in text else self._current())

    @staticmethod
    def _current():
        from .. import cuda
        return cuda.current_device() if cuda.is_available() else 0

    def __getattr__(self, name):
        if name in ("size", "max_size", "clear"):
            return getattr(_CufftPlanCache(self._current()), name)
        raise AttributeError(name)

    def __setattr__(self, name, value):
        if name == "max_size":
            _CufftPlanCache(self._current()).max_size = value
        else:
            raise AttributeError(f"cufft_plan_cache has no settable attribute {name!r}")


cufft_plan_cache = _CufftPlanCacheManager()
