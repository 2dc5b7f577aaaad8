"""``hy.autocast``: a thread-local region in which ops follow their op-table ``autocast`` policy.

The policy of each op is declared once, in its op-table entry (``hy.ops.autocast_spec(name)``); the
generated C++ front function applies it (csrc/amp/autocast.h), so hyflow ops called from Python, from
nn modules or from C++ all behave the same. This module only opens and closes regions.
"""
import functools
import warnings

from .. import _C

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "is_autocast_cache_enabled"]

_DEVICE_TYPES = ("cpu", "cuda")


def _cuda_available():
    try:
        from .. import cuda
        return bool(cuda.is_available())
    except ImportError:
        return False


class autocast:  # noqa: N801 (torch's spelling: a context manager used like a function)
    """Run the ops of a region in lower precision where their op-table policy allows it.

    ``dtype`` is the lower-precision dtype (``hy.bfloat16`` by default, or ``hy.float16``). ``device_type``
    is accepted for PyTorch compatibility (``"cpu"`` or ``"cuda"``); the region applies to every op called
    by this thread, whatever its device. ``enabled=False`` opens a region with autocast off (to run a
    part of an autocast region in full precision). ``cache_enabled`` (default True) reuses the cast of a
    weight (a leaf tensor that requires grad) for the rest of the outermost region.

    Use as ``with hy.autocast(...):`` or as a decorator ``@hy.autocast(...)``. Regions nest and are
    thread-local: a thread started inside a region (a workflow task, a DataLoader worker) does not inherit
    it — open one in that thread's code.
    """

    def __init__(self, device_type=None, dtype=None, enabled=True, cache_enabled=None):
        if device_type is not None:
            if not isinstance(device_type, str):
                device_type = getattr(device_type, "type", device_type)
            if not isinstance(device_type, str) or device_type.split(":")[0] not in _DEVICE_TYPES:
                raise ValueError(f"autocast: device_type must be one of {', '.join(_DEVICE_TYPES)}, "
                                 f"got {device_type!r}")
            device_type = device_type.split(":")[0]
        if not isinstance(enabled, bool):
            raise TypeError(f"autocast: enabled must be a bool, got {type(enabled).__name__}")
        if cache_enabled is not None and not isinstance(cache_enabled, bool):
            raise TypeError(f"autocast: cache_enabled must be a bool or None, got {type(cache_enabled).__name__}")
        if dtype is None:
            dtype = _C.float16 if device_type == "cuda" else _C.bfloat16
        if not isinstance(dtype, _C.dtype):
            raise TypeError(f"autocast: dtype must be a hyflow dtype (hy.bfloat16 or hy.float16), "
                            f"got {type(dtype).__name__}")
        if dtype not in (_C.float16, _C.bfloat16):
            raise ValueError(f"autocast: dtype must be hy.bfloat16 or hy.float16, got {dtype}")
        if enabled and device_type == "cuda" and not _cuda_available():
            warnings.warn("autocast: device_type 'cuda' was given but CUDA is not available; "
                          "the region is disabled", UserWarning, stacklevel=2)
            enabled = False
        self.device_type = device_type or "cpu"
        self.fast_dtype = dtype
        self.enabled = enabled
        self.cache_enabled = True if cache_enabled is None else cache_enabled

    def __enter__(self):
        _C._amp.push_region(self.enabled, self.fast_dtype, self.cache_enabled)
        return self

    def __exit__(self, exc_type, exc, tb):
        _C._amp.pop_region()
        return False

    def __call__(self, fn):
        if not callable(fn):
            raise TypeError(f"autocast used as a decorator needs a function, got {type(fn).__name__}")

        @functools.wraps(fn)
        def in_region(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self.enabled, self.cache_enabled):
                return fn(*args, **kwargs)
        return in_region

    def __repr__(self):
        return (f"autocast(device_type={self.device_type!r}, dtype={self.fast_dtype}, enabled={self.enabled}, "
                f"cache_enabled={self.cache_enabled})")


def is_autocast_enabled(device_type=None):
    """Whether the innermost autocast region of this thread is enabled."""
    return bool(_C._amp.is_enabled())


def get_autocast_dtype(device_type=None):
    """The lower-precision dtype of the innermost region of this thread (``hy.bfloat16`` outside any)."""
    return _C._amp.dtype()


def is_autocast_cache_enabled():
    return bool(_C._amp.is_cache_enabled())
