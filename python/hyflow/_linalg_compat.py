"""torch's top-level and Tensor-method spellings of linear algebra (torch.det, torch.inverse, x.det(),
x.inverse(), ...): each is hy.linalg's function under the older name, with torch's defaults for that name."""
from . import linalg as _linalg
from ._C import Tensor

__all__ = ["det", "inverse", "logdet", "slogdet", "pinverse", "matrix_power"]


def det(input: Tensor) -> Tensor:  # noqa: A002 (torch's argument name)
    """torch.det: hy.linalg.det."""
    return _linalg.det(input)


def inverse(input: Tensor) -> Tensor:  # noqa: A002
    """torch.inverse: hy.linalg.inv."""
    return _linalg.inv(input)


def slogdet(input: Tensor):  # noqa: A002
    """torch.slogdet: hy.linalg.slogdet, (sign, logabsdet)."""
    return _linalg.slogdet(input)


def logdet(input: Tensor) -> Tensor:  # noqa: A002
    """torch.logdet: log(det(input)), -inf for a singular matrix and NaN for a negative determinant."""
    sign, logabsdet = _linalg.slogdet(input)
    return logabsdet + sign.log()  # log(1) = 0, log(0) = -inf, log(-1) = NaN


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:  # noqa: A002
    """torch.pinverse: hy.linalg.pinv with rtol=rcond (torch's default 1e-15 here, not pinv's eps * max(m, n))."""
    return _linalg.pinv(input, rtol=rcond)


def matrix_power(input: Tensor, n: int) -> Tensor:  # noqa: A002
    """torch.matrix_power: hy.linalg.matrix_power."""
    return _linalg.matrix_power(input, n)


# The Tensor methods: the same functions with self first (explicit, so the type stubs carry their signatures).
def _det(self) -> Tensor:
    return det(self)


def _inverse(self) -> Tensor:
    return inverse(self)


def _logdet(self) -> Tensor:
    return logdet(self)


def _slogdet(self):
    return slogdet(self)


def _pinverse(self, rcond: float = 1e-15) -> Tensor:
    return pinverse(self, rcond)


def _matrix_power(self, n: int) -> Tensor:
    return matrix_power(self, n)


for _name, _method in {"det": _det, "inverse": _inverse, "logdet": _logdet, "slogdet": _slogdet,
                       "pinverse": _pinverse, "matrix_power": _matrix_power}.items():
    _method.__name__ = _name
    _method.__doc__ = globals()[_name].__doc__
    setattr(Tensor, _name, _method)
