"""``hy.cuda``: queries that device-agnostic PyTorch code makes (``if hy.cuda.is_available(): ...``).

hyflow's CUDA backend is issue 12; until it is built in, CUDA is never available: the queries answer so,
and calls that need a GPU raise ``RuntimeError`` saying why (as torch does when built without CUDA).
"""
from .._build_info import build_info as _build_info

__all__ = ["is_available", "device_count", "current_device", "synchronize", "manual_seed", "manual_seed_all",
           "is_bf16_supported", "get_device_name", "set_device", "empty_cache"]


def _built():
    return bool(_build_info().get("cuda"))


def is_available():
    """True when hyflow was built with its CUDA backend and a GPU is present (never, for now)."""
    return False


def device_count():
    return 0


def _no_cuda(what):
    why = "hyflow was built without its CUDA backend" if not _built() else "no CUDA GPU is present"
    return RuntimeError(f"hy.cuda.{what}(): CUDA is not available ({why}); use device='cpu'")


def current_device():
    raise _no_cuda("current_device")


def set_device(device):
    raise _no_cuda("set_device")


def synchronize(device=None):
    raise _no_cuda("synchronize")


def get_device_name(device=None):
    raise _no_cuda("get_device_name")


def is_bf16_supported(including_emulation=True):
    return False


def manual_seed(seed):
    """No CUDA generator exists: nothing to seed (torch silently does the same without CUDA)."""


def manual_seed_all(seed):
    """No CUDA generator exists: nothing to seed."""


def empty_cache():
    """No device allocator exists: nothing to free."""
