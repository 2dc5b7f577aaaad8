"""torch's default-dtype switches: hy.set_default_dtype / get_default_dtype / set_default_tensor_type.

The value lives in the C++ core (one process-wide atomic, as torch's is global rather than per thread); the
factories, type promotion of Python numbers and the float results of integer inputs read it there.
"""
import warnings

from . import _C

__all__ = ["set_default_dtype", "get_default_dtype", "set_default_tensor_type"]


def set_default_dtype(d) -> None:
    """Make ``d`` the dtype of float factories without dtype= (zeros, ones, rand, arange(0.5), tensor([1.5]),
    ...), of new layers' parameters, of Python floats meeting integer tensors (``int_tensor + 2.5``) and of
    integer inputs to float ops (``int_tensor / 2``, ``sqrt``); complex numbers follow it (complex128 under
    float64, else complex64). Only float16, bfloat16, float32 and float64 are accepted (TypeError otherwise).
    A Python float next to a float tensor stays weak: ``float32_tensor * 2.5`` is float32 whatever the
    default, as in torch."""
    _C.set_default_dtype(d)


def get_default_dtype():
    """The default floating dtype: float32 unless :func:`set_default_dtype` changed it."""
    return _C.get_default_dtype()


# torch's legacy tensor-type names -> the dtype each one makes the default. Only the floating CPU types are
# accepted by torch as a default tensor type; the others raise TypeError there too.
_TENSOR_TYPES = {"FloatTensor": _C.float32, "DoubleTensor": _C.float64, "HalfTensor": _C.float16,
                 "BFloat16Tensor": _C.bfloat16}


def set_default_tensor_type(t) -> None:
    """Deprecated torch form of :func:`set_default_dtype` (torch warns since 2.1): ``t`` is a tensor type's
    name, ``'torch.DoubleTensor'`` or ``'hyflow.DoubleTensor'`` (also Float, Half, BFloat16), and sets the
    default dtype to its dtype. hyflow has no tensor-type classes, so only the string form exists."""
    warnings.warn("hy.set_default_tensor_type() is deprecated, as torch.set_default_tensor_type() is since "
                  "PyTorch 2.1; use hy.set_default_dtype()", UserWarning, stacklevel=2)
    if not isinstance(t, str):
        raise TypeError(f"set_default_tensor_type(): expected a tensor type's name such as 'torch.DoubleTensor' "
                        f"(hyflow has no tensor-type classes), got {type(t).__name__}")
    module, _, name = t.rpartition(".")
    if module not in ("torch", "hyflow") or name not in _TENSOR_TYPES:
        kind = name if module in ("torch", "hyflow") and name.endswith("Tensor") else None
        if kind is not None:
            raise TypeError(f"set_default_tensor_type(): only floating-point types are supported as the default "
                            f"type, got {t!r}")
        raise TypeError(f"set_default_tensor_type(): unknown tensor type {t!r}; expected one of "
                        + ", ".join(f"'torch.{n}'" for n in _TENSOR_TYPES))
    _C.set_default_dtype(_TENSOR_TYPES[name])
