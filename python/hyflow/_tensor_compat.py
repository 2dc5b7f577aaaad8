"""Tensor pieces a PyTorch program calls that are argument juggling, or no-ops on a CPU-only build.

f"{loss:.4f}", round(t, 2), x.view_as(y), w.t(), x.cpu(), x.pin_memory(), x.contiguous(memory_format=...),
x.clone(memory_format=...), p.addcmul_(g, g, value=...) and p.addcdiv_(m, d, value=-lr): each is written with
existing ops, so autograd and the op table need nothing new.
"""
import numpy as _np

from . import _C
from ._C import Tensor

__all__ = ["memory_format", "contiguous_format", "preserve_format", "channels_last", "clone", "addcmul",
           "addcdiv"]


class memory_format:  # noqa: N801 (torch's name)
    """torch.memory_format's stand-in. hyflow tensors are row-major, so a format is a layout *hint*:
    contiguous_format and preserve_format are honoured, channels_last is accepted and ignored (the values are
    identical, only torch's stride order would differ)."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"hyflow.{self._name}"

    def __reduce__(self):
        return self._name  # pickles as the module-level constant, so identity survives


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")


# hy.float32.dtype is numpy.float32's dtype, so np.dtype(hy.float32) works (NumPy reads a .dtype attribute off
# any object it is given as a dtype) and code that only asks a tensor's dtype for NumPy's, like
# dask.array.from_array(t), accepts hyflow tensors. bfloat16 has no NumPy counterpart: TypeError.
_NUMPY_DTYPES = {"bool": _np.bool_, "int32": _np.int32, "int64": _np.int64, "float16": _np.float16,
                 "float32": _np.float32, "float64": _np.float64, "complex64": _np.complex64,
                 "complex128": _np.complex128}


def _numpy_dtype(self):
    """The NumPy dtype of this element type (np.dtype(hy.float32) == np.float32); TypeError for bfloat16."""
    np_type = _NUMPY_DTYPES.get(self.name)
    if np_type is None:
        raise TypeError(f"hyflow.{self.name} has no NumPy dtype; convert first, e.g. t.float()")
    return _np.dtype(np_type)


_C.dtype.dtype = property(_numpy_dtype)


def check_memory_format(fn, fmt):
    if not isinstance(fmt, memory_format):
        raise TypeError(f"{fn}(): memory_format must be a hyflow memory format (hy.contiguous_format, "
                        f"hy.preserve_format, hy.channels_last), got {type(fmt).__name__}")


_C_clone, _C_contiguous = _C.ops.clone, _C.ops.contiguous


def clone(input, *, memory_format=preserve_format) -> Tensor:
    """A copy of input with its own memory (recorded by autograd); memory_format as in torch.clone."""
    check_memory_format("clone", memory_format)
    return _C_clone(input)


def _contiguous(self, memory_format=contiguous_format) -> Tensor:
    if memory_format is preserve_format:
        raise RuntimeError("contiguous(): preserve memory format is unsupported by the contiguous operator")
    check_memory_format("contiguous", memory_format)
    return _C_contiguous(self)


_C_is_contiguous, _C_copy_ = Tensor.is_contiguous, Tensor.copy_


def _is_contiguous(self, memory_format=contiguous_format) -> bool:
    """Row-major contiguity; with memory_format=hy.channels_last, torch's test of a 4-D tensor's strides for
    NHWC order (dims of size 1 ignored; False for other ranks). preserve_format asks the row-major question."""
    check_memory_format("is_contiguous", memory_format)
    if memory_format is not channels_last:
        return _C_is_contiguous(self)
    if self.dim() != 4:
        return False
    sizes, strides, expected = self.shape, self.stride(), 1
    for d in (1, 3, 2, 0):
        if sizes[d] != 1:
            if strides[d] != expected:
                return False
            expected *= sizes[d]
    return True


def _copy_(self, src, non_blocking=False) -> Tensor:
    """Copy src into self in place (broadcast and converted to self's dtype). non_blocking is accepted as in
    torch; the copy is done when copy_ returns (for the asynchronous host->GPU copy use src.to(..., non_blocking))."""
    return _C_copy_(self, src)


def _format(self, spec):
    # torch formats 0-d tensors as their number; one-element tensors too here, so f"{loss:.4f}" works
    # whatever shape a loss was reduced to. A non-empty spec for more elements has no meaning: TypeError.
    if self.dim() == 0:
        return format(self.item(), spec)
    if not spec:
        return str(self)
    if self.numel() == 1:
        return format(self.item(), spec)
    raise TypeError(f"unsupported format string {spec!r} passed to Tensor.__format__ for a tensor of shape "
                    f"{tuple(self.shape)}; only 0-d and one-element tensors format as numbers (use t.item())")


def _round(self, ndigits=None) -> Tensor:
    """round(t) and round(t, n): elementwise, returning a tensor (as NumPy arrays do)."""
    return self.round(decimals=0 if ndigits is None else ndigits)


def _view_as(self, other) -> Tensor:
    return self.view(other.shape)


def _t(self) -> Tensor:
    if self.dim() > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.dim()}D")
    return self.transpose(0, 1) if self.dim() == 2 else self


def _cpu(self, memory_format=preserve_format) -> Tensor:
    check_memory_format("cpu", memory_format)
    return self if self.device == "cpu" else self.to("cpu")


def _cuda(self, device=None, non_blocking=False, memory_format=preserve_format) -> Tensor:
    check_memory_format("cuda", memory_format)
    target = "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else str(device))
    return self.to(target, non_blocking=non_blocking)


def _pin_memory(self, device=None) -> Tensor:
    """A copy in page-locked host memory (so .to("cuda", non_blocking=True) overlaps). Without CUDA there is
    nothing to overlap with, so the tensor itself (device-agnostic code keeps working on the CPU)."""
    from . import cuda
    if not cuda.is_available() or _C._is_pinned(self):
        return self
    return _C._pin_memory(self)


def _is_pinned(self, device=None) -> bool:
    return _C._is_pinned(self)


def _record_stream(self, stream) -> None:
    """Tell the CUDA caching allocator that work queued on ``stream`` uses this tensor's memory: when the
    tensor is freed, its block is not reused before the work queued on ``stream`` up to that moment has
    finished (torch.Tensor.record_stream; docs/cuda.md, "Caching allocator")."""
    from . import cuda
    if self.device.type != "cuda":
        raise ValueError(f"record_stream: expected a CUDA tensor, got one on {self.device} "
                         "(only device memory is stream-ordered)")
    if not isinstance(stream, cuda.Stream):
        raise TypeError(f"record_stream: stream must be a hy.cuda.Stream, got {type(stream).__name__}")
    _C._cuda_record_stream(self, stream.cuda_stream)


def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    """input + value * tensor1 * tensor2."""
    return _C.ops.add(input, _C.ops.mul(tensor1, tensor2), alpha=value)


def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    """input + value * tensor1 / tensor2."""
    return _C.ops.add(input, _C.ops.div(tensor1, tensor2), alpha=value)


def _addcmul(self, tensor1, tensor2, *, value=1) -> Tensor:
    return addcmul(self, tensor1, tensor2, value=value)


def _addcdiv(self, tensor1, tensor2, *, value=1) -> Tensor:
    return addcdiv(self, tensor1, tensor2, value=value)


def _addcmul_(self, tensor1, tensor2, *, value=1) -> Tensor:
    return self.add_(_C.ops.mul(tensor1, tensor2), alpha=value)


def _addcdiv_(self, tensor1, tensor2, *, value=1) -> Tensor:
    return self.add_(_C.ops.div(tensor1, tensor2), alpha=value)


_C_fill_ = Tensor.fill_


def _fill_(self, value) -> Tensor:
    """fill_ that also takes a complex value for a complex tensor (the op's Scalar is real): the real part
    and then the imaginary part are filled through the real view, so autograd and views behave as fill_."""
    from ._creation import is_complex_number
    if not is_complex_number(value):
        return _C_fill_(self, value)
    if not self.is_complex():
        raise TypeError(f"fill_(): value {value!r} is complex but the tensor is {self.dtype.name}; "
                        "fill it with a real value or use a complex tensor")
    value = complex(value)
    pairs = _C.ops.view_as_real(self)
    _C_fill_(pairs.select(-1, 0), value.real)
    _C_fill_(pairs.select(-1, 1), value.imag)
    return self


def _size_args(size):
    if len(size) == 1 and not isinstance(size[0], int) and hasattr(size[0], "__len__"):
        return tuple(size[0])
    return tuple(size)


def _new_factory(name, make):
    """Tensor.new_<name>: the factory with dtype and device defaulting to self's (as torch's new_* do)."""
    def method(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return make(_size_args(size), dtype=self.dtype if dtype is None else dtype,
                    device=self.device if device is None else device, requires_grad=requires_grad)
    method.__name__ = f"new_{name}"
    method.__doc__ = (f"A new tensor of {name} of the given size; dtype and device default to self's "
                      "(torch.Tensor.new_" + name + ").")
    return method


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor of size filled with fill_value; dtype and device default to self's."""
    from ._creation import full
    return full(_size_args((size,)), fill_value, dtype=self.dtype if dtype is None else dtype,
                device=self.device if device is None else device, requires_grad=requires_grad)


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """hy.tensor(data) with dtype and device defaulting to self's (not inferred from data), like torch."""
    from ._creation import tensor
    if isinstance(data, Tensor):
        import warnings
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
                      "or sourceTensor.detach().clone().requires_grad_(True), rather than tensor.new_tensor("
                      "sourceTensor).", UserWarning, stacklevel=2)
        data = data.detach()
    out = tensor(data, dtype=self.dtype if dtype is None else dtype,
                 device=self.device if device is None else device)
    return out.requires_grad_(True) if requires_grad else out


def _expand_as(self, other) -> Tensor:
    """self expanded (a view, no copy) to other's shape."""
    return self.expand(other.shape)


def _type_as(self, other) -> Tensor:
    """self converted to other's dtype (and moved to other's device, as torch's type string includes it);
    self itself when both already match."""
    return self.to(device=other.device, dtype=other.dtype)


def _is_cuda(self) -> bool:
    return self.device.type == "cuda"


Tensor.is_cuda = property(_is_cuda, doc="True for a tensor in CUDA memory (torch.Tensor.is_cuda).")
Tensor.clip, Tensor.clip_ = Tensor.clamp, Tensor.clamp_  # torch's aliases


for _name, _fn in {"__format__": _format, "__round__": _round, "view_as": _view_as, "t": _t, "cpu": _cpu,
                   "cuda": _cuda, "pin_memory": _pin_memory, "is_pinned": _is_pinned, "record_stream": _record_stream,
                   "clone": clone,
                   "contiguous": _contiguous, "addcmul": _addcmul, "addcdiv": _addcdiv, "addcmul_": _addcmul_,
                   "addcdiv_": _addcdiv_, "fill_": _fill_, "is_contiguous": _is_contiguous, "copy_": _copy_,
                   "new_full": _new_full, "new_tensor": _new_tensor, "expand_as": _expand_as, "type_as": _type_as}.items():
    if _name != "clone":
        _fn.__name__ = _name
    setattr(Tensor, _name, _fn)


def _install_new_factories():
    from ._creation import empty, ones, zeros
    for name, make in {"zeros": zeros, "ones": ones, "empty": empty}.items():
        setattr(Tensor, f"new_{name}", _new_factory(name, make))


_install_new_factories()
