"""Complex tensors at the Python level: torch's complex helpers as compositions of table ops.

The op table has the complex building blocks (view_as_real, view_as_complex, complex; docs/tensors.md,
"Complex tensors"); real/imag are views through view_as_real, and conj/angle/abs/polar are made of real
ops on those views, so autograd and the compiler's capture only ever see table ops."""
import math

from . import _C
from ._C import Tensor

__all__ = ["complex64", "complex128", "cfloat", "cdouble", "is_complex", "real", "imag", "conj", "angle", "polar",
           "abs", "view_as_real", "view_as_complex", "complex"]

complex64 = _C.complex64
complex128 = _C.complex128
cfloat = complex64
cdouble = complex128
view_as_real = _C.ops.view_as_real
view_as_complex = _C.ops.view_as_complex
complex = _C.ops.complex  # noqa: A001 (torch.complex)


def is_complex(input) -> bool:
    """True for a complex64/complex128 tensor."""
    return input.dtype.is_complex


def real(input) -> Tensor:
    """The real parts: a view of a complex tensor (writes show in it), the tensor itself when real."""
    if not input.dtype.is_complex:
        return input
    return _C.ops.select(_C.ops.view_as_real(input), -1, 0)


def imag(input) -> Tensor:
    """The imaginary parts of a complex tensor, as a view. Real tensors raise, as in torch."""
    if not input.dtype.is_complex:
        raise RuntimeError(f"imag is not implemented for tensors with non-complex dtypes (got {input.dtype.name})")
    return _C.ops.select(_C.ops.view_as_real(input), -1, 1)


def conj(input) -> Tensor:
    """The complex conjugate (a new tensor, not torch's lazy conjugate view); real tensors are returned as is."""
    if not input.dtype.is_complex:
        return input
    return _C.ops.complex(real(input), _C.ops.neg(imag(input)))


def angle(input) -> Tensor:
    """The argument atan2(imag, real) of each element; for real tensors 0 (x >= 0) or pi (x < 0), as float."""
    if input.dtype.is_complex:
        return _C.ops.atan2(imag(input), real(input))
    x = input if input.is_floating_point() else input.to(_C.get_default_dtype())
    return (x < 0).to(x.dtype) * math.pi


def abs(input, *, out=None) -> Tensor:  # noqa: A001 (torch.abs; complex inputs give their modulus)
    """|x|; for a complex tensor the modulus sqrt(re^2 + im^2), in the real dtype of its parts."""
    if input.dtype.is_complex:
        if out is not None:
            raise TypeError("abs(): out= is not supported for complex inputs")
        re, im = real(input), imag(input)
        return _C.ops.sqrt(re * re + im * im)
    return _C.ops.abs(input, out=out)


def polar(abs, angle) -> Tensor:  # noqa: A002 (torch's argument names)
    """The complex tensor abs * (cos(angle) + 1j * sin(angle))."""
    return _C.ops.complex(abs * _C.ops.cos(angle), abs * _C.ops.sin(angle))


Tensor.is_complex = is_complex
Tensor.real = property(real, doc="The real parts (a view for complex tensors).")
Tensor.imag = property(imag, doc="The imaginary parts of a complex tensor (a view).")
Tensor.conj = conj
Tensor.angle = angle
Tensor.abs = abs
Tensor.__abs__ = abs
