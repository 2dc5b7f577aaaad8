"""``hy.device``: device objects as torch has them (``.type``, ``.index``), so device-agnostic code runs.

``Tensor.device`` returns one; it compares equal to its string (``t.device == "cpu"``) and hashes like it,
so code written against the former string form keeps working. Every API taking ``device=`` accepts a
string or a device object.
"""
from . import _C

__all__ = ["device"]

_KNOWN_TYPES = ("cpu", "cuda")


class device:  # noqa: N801 (torch's spelling)
    """A device: ``hy.device("cpu")``, ``hy.device("cuda:1")``, ``hy.device("cuda", 1)``, or a device."""

    __slots__ = ("_type", "_index", "_text")

    def __init__(self, type, index=None):  # noqa: A002 (torch's argument name)
        if isinstance(type, device):
            if index is not None:
                raise ValueError("hy.device: give an index only with a device type string")
            self._type, self._index = type._type, type._index
        else:
            if not isinstance(type, str):
                raise TypeError(f"hy.device: type must be a string such as 'cpu' or 'cuda:0', got "
                                f"{builtins_type(type).__name__}")
            kind, sep, num = type.partition(":")
            if kind not in _KNOWN_TYPES:
                raise RuntimeError(f"hy.device: unknown device type {kind!r} (known: {', '.join(_KNOWN_TYPES)})")
            if sep:
                if index is not None:
                    raise ValueError(f"hy.device: type {type!r} already names an index; do not pass index too")
                if not num.isdigit():
                    raise RuntimeError(f"hy.device: invalid device string {type!r}")
                index = int(num)
            if index is not None:
                if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                    raise ValueError(f"hy.device: index must be a non-negative int, got {index!r}")
            self._type, self._index = kind, index
        self._text = self._type if self._index is None else f"{self._type}:{self._index}"

    @property
    def type(self):  # noqa: A003
        return self._type

    @property
    def index(self):
        return self._index

    def __str__(self):
        return self._text

    def __repr__(self):
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __eq__(self, other):
        if isinstance(other, device):
            return self._text == other._text
        if isinstance(other, str):
            return self._text == other
        return NotImplemented

    def __hash__(self):
        return hash(self._text)

    def __reduce__(self):
        return (device, (self._text,))


import builtins as _builtins  # noqa: E402

builtins_type = _builtins.type

# Tensor.device: the C++ getter returns the device string; wrap it once per distinct string.
_raw_device = _C.Tensor.device.fget
_cache = {}


def raw_device(t):
    """The device string of tensor ``t`` without building an object (hot paths: the compiler's guards)."""
    return _raw_device(t)


def _tensor_device(self):
    text = _raw_device(self)
    d = _cache.get(text)
    if d is None:
        d = _cache[text] = device(text)
    return d


_C.Tensor.device = property(_tensor_device, doc="The tensor's device (a hy.device; equal to its string).")
