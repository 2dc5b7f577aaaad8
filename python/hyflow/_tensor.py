"""Python-level Tensor methods: the ones whose logic is argument juggling, not math."""
import warnings

from . import _C
from ._C import Tensor
from ._device import device as _device

__all__ = []


def _dims(args, what):
    if len(args) == 1 and not isinstance(args[0], int) and hasattr(args[0], "__len__"):
        return tuple(args[0])
    return tuple(args)


def _reshape(self, *shape) -> Tensor:
    return _C.ops.reshape(self, _dims(shape, "shape"))


def _view(self, *shape) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], _C.dtype):
        raise TypeError("view(dtype) is not supported; use .to(dtype)")
    return _C.ops.view(self, _dims(shape, "shape"))


def _permute(self, *dims) -> Tensor:
    return _C.ops.permute(self, _dims(dims, "dims"))


def _expand(self, *shape) -> Tensor:
    return _C.ops.expand(self, _dims(shape, "shape"))


def _move_to_device(t, device, non_blocking):
    """The bytes of ``t`` on ``device`` (the CUDA backend copies; without CUDA this raises naming why).
    Differentiable: the gradient moves back to ``t``'s device."""
    if t.requires_grad and _C._autograd.is_grad_enabled():
        from .autograd.function import Function

        class DeviceMove(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.source = str(x.device)
                return _C._to_device(x, str(device), bool(non_blocking))

            @staticmethod
            def backward(ctx, grad):
                return _C._to_device(grad, ctx.source, False)

        return DeviceMove.apply(t)
    return _C._to_device(t, str(device), bool(non_blocking))


def _warn_if_dropping_imag(self, dtype):
    """torch's warning for a complex tensor cast to a real dtype (the imaginary parts are dropped)."""
    if self.dtype.is_complex:
        target = dtype if isinstance(dtype, _C.dtype) else _C.promote_types(dtype, dtype)
        if not target.is_complex:
            warnings.warn("Casting complex values to real discards the imaginary part", UserWarning, stacklevel=3)


def _to(self, *args, dtype=None, device=None, copy=False, non_blocking=False, memory_format=None) -> Tensor:
    """to(dtype), to(device), to(other_tensor), to(device, dtype) — like torch.Tensor.to.

    non_blocking overlaps a host<->device copy with the host only for pinned memory (pin_memory()); memory_format is a layout hint
    (see hyflow.contiguous_format)."""
    if memory_format is not None:
        from ._tensor_compat import check_memory_format
        check_memory_format("to", memory_format)
    flags = [a for a in args if isinstance(a, bool)]  # torch's positional (..., non_blocking, copy)
    if len(flags) > 2:
        raise TypeError(f"to(): expected at most two positional flags (non_blocking, copy), got {len(flags)}")
    if len(flags) == 2:
        copy = flags[1]
    for a in (a for a in args if not isinstance(a, bool)):
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, _device) or (isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda")):
            device = a
        else:
            dtype = a
    if device is not None and str(device) != self.device:
        self = _move_to_device(self, device, non_blocking)
    if dtype is None:
        return self.clone() if copy else self
    _warn_if_dropping_imag(self, dtype)
    return _C.ops.to_dtype(self, dtype, copy)


def _type_method(dt):
    def convert(self) -> Tensor:
        _warn_if_dropping_imag(self, dt)
        return _C.ops.to_dtype(self, dt, False)
    convert.__name__ = dt.name
    convert.__doc__ = f"self converted to {dt!r}."
    return convert


for _name, _fn in {"reshape": _reshape, "view": _view, "permute": _permute, "expand": _expand, "to": _to}.items():
    _fn.__name__ = _name
    setattr(Tensor, _name, _fn)
for _name, _dt in {"float": _C.float32, "double": _C.float64, "half": _C.float16, "bfloat16": _C.bfloat16,
                   "int": _C.int32, "long": _C.int64, "bool": _C.bool, "cfloat": _C.complex64,
                   "cdouble": _C.complex128}.items():
    setattr(Tensor, _name, _type_method(_dt))

# Tensor.max / Tensor.min pick among three ops by their arguments (python/hyflow/_reductions.py).
from ._reductions import max as _max, min as _min  # noqa: E402
Tensor.max, Tensor.min = _max, _min


def _deepcopy(self, memo):
    """copy.deepcopy(t): a new leaf with copied data (and .grad), like torch; non-leaf tensors refuse."""
    if id(self) in memo:
        return memo[id(self)]
    if not self.is_leaf:
        raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                           "protocol at the moment; use t.detach().clone()")
    new = self.detach().clone()
    if self.requires_grad:
        new.requires_grad_(True)
        if self.grad is not None:
            new.grad = self.grad.detach().clone()
    memo[id(self)] = new
    return new


Tensor.__deepcopy__ = _deepcopy
