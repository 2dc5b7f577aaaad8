"""``hy.accelerator``: torch's device-agnostic accelerator queries, answered by ``hy.cuda`` (docs/cuda.md):
without a usable GPU, ``hy.accelerator.current_accelerator()`` is None and code falls back to the CPU."""
from . import cuda as _cuda
from ._device import device as _device

__all__ = ["is_available", "current_accelerator", "device_count"]


def is_available():
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """The accelerator device type (``hy.device("cuda")``) or None when there is none."""
    return _device("cuda") if _cuda.is_available() else None


def device_count():
    return _cuda.device_count()
