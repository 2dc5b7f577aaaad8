"""``hy.cuda``: the CUDA backend's Python surface (docs/cuda.md), shaped like ``torch.cuda``.

libhyflow_cuda is loaded at import only when hyflow was built with it and a CUDA driver is present;
otherwise every query answers "not available" and calls that need a GPU raise ``RuntimeError`` naming
the reason (``hy.build_info()["cuda_unavailable_reason"]``).
"""
import contextlib as _contextlib

from .. import _C

__all__ = ["is_available", "device_count", "current_device", "synchronize", "manual_seed", "manual_seed_all",
           "is_bf16_supported", "get_device_name", "get_device_properties", "CudaDeviceProperties", "set_device", "empty_cache", "memory_allocated",
           "memory_reserved", "max_memory_allocated", "reset_peak_memory_stats", "Stream", "Event",
           "current_stream", "default_stream", "stream", "unavailable_reason", "device"]


def unavailable_reason():
    """Why CUDA is not available in this process (None when it is)."""
    s = _C._cuda_status()
    if s["loaded"] and _C._cuda_device_count() > 0:
        return None
    return s["reason"] or "no CUDA GPU is present"


def is_available():
    """True when libhyflow_cuda is loaded (built, driver present) and at least one GPU is visible."""
    return unavailable_reason() is None


def device_count():
    return _C._cuda_device_count()


def _no_cuda(what):
    return RuntimeError(f"hy.cuda.{what}(): CUDA is not available ({unavailable_reason()}); use device='cpu'")


def _index(device, what):
    if not is_available():
        raise _no_cuda(what)
    if device is None:
        return _C._cuda_current_device()
    if isinstance(device, int):
        index = device
    else:
        text = str(device)
        if not text.startswith("cuda"):
            raise ValueError(f"hy.cuda.{what}(): expected a CUDA device, got {device!r}")
        index = int(text.split(":")[1]) if ":" in text else _C._cuda_current_device()
    if not 0 <= index < device_count():
        raise ValueError(f"hy.cuda.{what}(): device {index} does not exist ({device_count()} CUDA device(s))")
    return index


def current_device():
    """The device that ``"cuda"`` without an index names (0 until ``set_device``)."""
    return _index(None, "current_device")


def set_device(device):
    """Make ``device`` (an index, ``"cuda:N"`` or a ``hy.device``) what ``"cuda"`` names from now on: tensors
    made with ``device="cuda"``, ``.cuda()``/``.to("cuda")``, streams and memory queries without a device.
    Process-wide, not per thread as in torch (docs/cuda.md, "Devices and tensors"): a rank that picks its GPU
    once (``set_device(local_rank)``) gets it in the workflow engine's worker threads too."""
    _C._cuda_set_current_device(_index(device, "set_device"))


class device:  # noqa: N801 (torch's spelling)
    """``with hy.cuda.device(1): ...``: ``set_device`` for the block, the previous device restored after it.
    ``None`` or a negative index changes nothing (torch's convention)."""

    def __init__(self, device):  # noqa: A002
        self._index = None
        if device is not None and not (isinstance(device, int) and device < 0):
            self._index = _index(device, "device")
        self._previous = None

    def __enter__(self):
        if self._index is not None:
            self._previous = _C._cuda_current_device()
            _C._cuda_set_current_device(self._index)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            _C._cuda_set_current_device(self._previous)
            self._previous = None
        return False


def synchronize(device=None):
    _C._cuda_synchronize(_index(device, "synchronize"))


def get_device_name(device=None):
    return _C._cuda_device_name(_index(device, "get_device_name"))


class CudaDeviceProperties:
    """What ``get_device_properties`` returns. torch's field names where torch has one; ``memory_bandwidth``
    (bytes/s) is hyflow's: the theoretical peak, 2 transfers per memory clock x the bus width."""

    __slots__ = ("name", "major", "minor", "total_memory", "multi_processor_count", "L2_cache_size",
                 "memory_clock_rate", "memory_bus_width", "memory_bandwidth")

    def __init__(self, fields):
        for k in self.__slots__:
            setattr(self, k, fields[k])

    def __repr__(self):
        return (f"CudaDeviceProperties(name={self.name!r}, major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // 2**20}MB, multi_processor_count={self.multi_processor_count}, "
                f"L2_cache_size={self.L2_cache_size // 2**20}MB, memory_clock_rate={self.memory_clock_rate}kHz, "
                f"memory_bus_width={self.memory_bus_width}bit, memory_bandwidth={self.memory_bandwidth / 1e9:.0f}GB/s)")


def get_device_properties(device=None):
    """Name, compute capability (major, minor), total_memory (bytes), multi_processor_count,
    L2_cache_size (bytes), memory_clock_rate (kHz), memory_bus_width (bits) and memory_bandwidth (the
    theoretical peak in bytes/s) of a CUDA device. RuntimeError naming why when CUDA is unavailable."""
    return CudaDeviceProperties(_C._cuda_device_properties(_index(device, "get_device_properties")))


def is_bf16_supported(including_emulation=True):
    return is_available()  # sm_80 and newer, the oldest architecture the backend is built for


def manual_seed(seed):
    """CUDA draws come from hyflow's one Philox generator, the CPU's (docs/cuda.md): ``hy.manual_seed`` seeds
    both devices, so this CUDA-only seed has nothing of its own to set."""


def manual_seed_all(seed):
    """See manual_seed."""


def empty_cache():
    """Give the caching allocator's unused blocks back to the driver (no-op without CUDA)."""
    _C._cuda_empty_cache()


def memory_allocated(device=None):
    """Bytes held by live CUDA tensors on ``device`` (size classes included)."""
    return _C._cuda_memory_stats(_index(device, "memory_allocated"))["allocated"]


def memory_reserved(device=None):
    """Bytes the caching allocator holds from the driver on ``device`` (live + cached)."""
    return _C._cuda_memory_stats(_index(device, "memory_reserved"))["reserved"]


def max_memory_allocated(device=None):
    return _C._cuda_memory_stats(_index(device, "max_memory_allocated"))["max_allocated"]


def reset_peak_memory_stats(device=None):
    _C._cuda_reset_peak_memory_stats(_index(device, "reset_peak_memory_stats"))


class Stream:
    """A CUDA stream. Kernels, copies and allocations of this thread go to the current stream."""

    def __init__(self, device=None, priority=0, *, _handle=None):
        self.device_index = _index(device, "Stream")
        self._owned = _handle is None
        self.cuda_stream = _C._cuda_stream_create(self.device_index) if _handle is None else _handle

    def synchronize(self):
        _C._cuda_stream_synchronize(self.device_index, self.cuda_stream)

    def wait_event(self, event):
        if event._handle is not None:  # an event never recorded has nothing to wait for
            _C._cuda_stream_wait_event(self.device_index, self.cuda_stream, event._handle)

    def wait_stream(self, other):
        self.wait_event(other.record_event())

    def record_event(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def query(self):
        return self.record_event().query()

    def __eq__(self, other):
        return isinstance(other, Stream) and other.cuda_stream == self.cuda_stream

    def __hash__(self):
        return hash(self.cuda_stream)

    def __del__(self):
        if getattr(self, "_owned", False) and self.cuda_stream:
            try:
                _C._cuda_stream_destroy(self.cuda_stream)
            except Exception:  # noqa: BLE001 (interpreter shutdown)
                pass


class Event:
    """A CUDA event: record on a stream, wait for it, time between two.

    As in torch, the CUDA event is made at the first ``record``, on the device of the stream it is
    recorded on (a CUDA event belongs to one device); before that, ``query`` is True and waiting on it
    returns at once."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        if not is_available():
            raise _no_cuda("Event")
        self._timing = bool(enable_timing)
        self._handle = None
        self.device_index = None

    def record(self, stream=None):
        stream = stream or current_stream()
        if self._handle is None:
            self._handle = _C._cuda_event_create(stream.device_index, self._timing)
            self.device_index = stream.device_index
        elif stream.device_index != self.device_index:
            raise ValueError(f"Event.record: the event belongs to cuda:{self.device_index} (where it was first "
                             f"recorded), the stream to cuda:{stream.device_index}")
        _C._cuda_event_record(self._handle, stream.device_index, stream.cuda_stream)

    def synchronize(self):
        if self._handle is not None:
            _C._cuda_event_synchronize(self._handle)

    def query(self):
        return self._handle is None or _C._cuda_event_query(self._handle)

    def wait(self, stream=None):
        (stream or current_stream()).wait_event(self)

    def elapsed_time(self, end_event):
        """Milliseconds from this event to ``end_event`` (both made with enable_timing=True and recorded)."""
        if self._handle is None or end_event._handle is None:
            raise RuntimeError("Event.elapsed_time: both events must be recorded first")
        return _C._cuda_event_elapsed_ms(self._handle, end_event._handle)

    def __del__(self):
        if getattr(self, "_handle", None):
            try:
                _C._cuda_event_destroy(self._handle)
            except Exception:  # noqa: BLE001
                pass


def current_stream(device=None):
    index = _index(device, "current_stream")
    return Stream(index, _handle=_C._cuda_current_stream(index))


def default_stream(device=None):
    return Stream(_index(device, "default_stream"), _handle=0)


@_contextlib.contextmanager
def stream(s):
    """``with hy.cuda.stream(s):`` — work of this thread inside goes to ``s`` (None: no change)."""
    if s is None:
        yield
        return
    previous = _C._cuda_current_stream(s.device_index)
    _C._cuda_set_current_stream(s.device_index, s.cuda_stream)
    try:
        yield
    finally:
        _C._cuda_set_current_stream(s.device_index, previous)
