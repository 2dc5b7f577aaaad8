"""hyflow.nn.utils: clip_grad_norm_, clip_grad_value_, parameters_to_vector."""
import math

from .. import _C
from .._C import Tensor
from ..autograd import no_grad

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so their joint norm is at most max_norm; returns the norm before clipping."""
    grads = _grads(parameters)
    if not grads:
        return _C.ops.zeros([])
    norm_type = float(norm_type)
    with no_grad():
        if math.isinf(norm_type):
            norms = [g.abs().amax() for g in grads]
            total = _C.ops.stack([n.to(_C.float64) for n in norms]).amax()
        else:
            norms = [_C.ops.norm(g, norm_type) for g in grads]
            total = _C.ops.norm(_C.ops.stack([n.to(_C.float64) for n in norms]), norm_type)
        total_f = float(total.item())
        if error_if_nonfinite and not math.isfinite(total_f):
            raise RuntimeError(f"clip_grad_norm_(): the total norm of order {norm_type} of the gradients is "
                               "non-finite; set error_if_nonfinite=False to skip this check")
        coef = float(max_norm) / (total_f + 1e-6)
        if coef < 1.0:
            for g in grads:
                g.mul_(_C.ops.full([], coef, dtype=g.dtype))
    return total.to(grads[0].dtype)


def clip_grad_value_(parameters, clip_value):
    with no_grad():
        for g in _grads(parameters):
            _C.ops.clamp(g, -clip_value, clip_value, out=g)


def parameters_to_vector(parameters):
    return _C.ops.cat([p.reshape([-1]) for p in parameters])
