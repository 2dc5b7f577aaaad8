"""``hy.accelerator``: torch's device-agnostic accelerator queries, answered by ``hy.cuda`` (docs/cuda.md):
without a usable GPU, ``hy.accelerator.current_accelerator()`` is None and code falls back to the CPU."""
from . import cuda as _cuda
from ._device import device as _device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "synchronize"]


def is_available():
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """The accelerator device type (``hy.device("cuda")``) or None when there is none."""
    return _device("cuda") if _cuda.is_available() else None


def device_count():
    return _cuda.device_count()


def _no_accelerator():
    # torch's words when no accelerator is present
    return RuntimeError("Cannot access accelerator device when none is available.")


def current_device_index():
    """The index of the current CUDA device (``hy.cuda.current_device()``); RuntimeError without one."""
    if not _cuda.is_available():
        raise _no_accelerator()
    return _cuda.current_device()


def synchronize(device=None, /):
    """Wait for the work queued on ``device`` (an index, "cuda:i" or hy.device; default the current one) to
    finish, as ``hy.cuda.synchronize``; RuntimeError without an accelerator, as in torch."""
    if not _cuda.is_available():
        raise _no_accelerator()
    if isinstance(device, _device):
        device = str(device)
    _cuda.synchronize(device)
