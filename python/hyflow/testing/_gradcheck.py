"""gradcheck / gradgradcheck: compare autograd's Jacobian with central finite differences in float64."""
import numpy as np

from .. import _C
from .._C import Tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical Jacobians differ."""


def _as_tuple(x):
    return x if isinstance(x, tuple) else tuple(x) if isinstance(x, list) else (x,)


def _diff_outputs(out):
    return [o for o in _as_tuple(out) if isinstance(o, Tensor) and o.dtype in (_C.float32, _C.float64)]


def _np(t):
    return np.array(t.detach().contiguous().numpy(), dtype=np.float64)


def _numerical_jacobians(func, inputs, diff_idx, eps):
    """J[k][o] has shape (numel of input k, numel of output o)."""
    base = list(inputs)
    jac = []
    if True:  # grad mode stays on: gradgradcheck's function differentiates inside
        for k in diff_idx:
            x = _np(inputs[k])
            cols = []
            for i in range(x.size):
                vals = []
                for sign in (1.0, -1.0):
                    xp = x.copy()
                    xp.flat[i] += sign * eps
                    args = list(base)
                    args[k] = _C.from_numpy(xp).to(inputs[k].dtype).requires_grad_(True)
                    vals.append([_np(o).ravel() for o in _diff_outputs(func(*args))])
                cols.append([(p - m) / (2 * eps) for p, m in zip(vals[0], vals[1])])
            jac.append([np.stack([c[o] for c in cols]) if cols else np.zeros((0, 0))
                        for o in range(len(cols[0]) if cols else 0)])
    return jac


def _analytical_jacobians(outputs, inputs, diff_idx):
    from ..autograd import grad
    jac = [[np.zeros((inputs[k].numel(), o.numel())) for o in outputs] for k in diff_idx]
    for oi, o in enumerate(outputs):
        if not o.requires_grad:
            continue
        for j in range(o.numel()):
            onehot = np.zeros(o.numel())
            onehot[j] = 1.0
            g_out = _C.from_numpy(onehot.reshape(tuple(o.shape))).to(o.dtype)
            grads = grad(o, [inputs[k] for k in diff_idx], grad_outputs=g_out, retain_graph=True,
                         allow_unused=True)
            for kk, (k, g) in enumerate(zip(diff_idx, grads)):
                if g is None:
                    continue
                if tuple(g.shape) != tuple(inputs[k].shape):
                    raise GradcheckError(f"gradient for input {k} has shape {tuple(g.shape)}, "
                                         f"expected {tuple(inputs[k].shape)}")
                jac[kk][oi][:, j] = _np(g).ravel()
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check the gradients of ``func(*inputs)`` with respect to the inputs that require grad against
    central finite differences. Inputs should be float64. Returns True, or raises GradcheckError (False
    with raise_exception=False) naming the output, the input and the worst element."""
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    try:
        if not diff_idx:
            raise GradcheckError("gradcheck expects at least one input tensor with requires_grad=True")
        for i in diff_idx:
            if inputs[i].dtype != _C.float64:
                raise GradcheckError(f"input {i} is {inputs[i].dtype}; gradcheck needs float64 inputs")
        outputs = _diff_outputs(func(*inputs))
        analytical = _analytical_jacobians(outputs, inputs, diff_idx)
        numerical = _numerical_jacobians(func, inputs, diff_idx, eps)
        for kk, k in enumerate(diff_idx):
            for oi in range(len(outputs)):
                a, n = analytical[kk][oi], numerical[kk][oi]
                if a.shape != n.shape:
                    raise GradcheckError(f"Jacobian shape mismatch for output {oi} w.r.t. input {k}: "
                                         f"{a.shape} vs {n.shape}")
                bad = ~np.isclose(a, n, rtol=rtol, atol=atol, equal_nan=False)
                if bad.any():
                    i, j = np.argwhere(bad)[0]
                    raise GradcheckError(
                        f"Jacobian mismatch for output {oi} with respect to input {k} at {bad.sum()} of {a.size} "
                        f"entries; first at (input element {i}, output element {j}): analytical {a[i, j]!r} vs "
                        f"numerical {n[i, j]!r}\nnumerical:\n{n}\nanalytical:\n{a}")
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
                  seed=0):
    """gradcheck of the gradient itself: checks second derivatives of ``func`` (create_graph=True) with
    respect to the inputs and to the output gradients (random float64 ones unless given)."""
    from ..autograd import grad
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outputs = [o for o in _diff_outputs(func(*inputs)) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(_C.from_numpy(rng.standard_normal(tuple(o.shape)).reshape(tuple(o.shape)))
                             .to(o.dtype).requires_grad_(True) for o in outputs)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first_grad(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = [o for o in _diff_outputs(func(*ins)) if o.requires_grad]
        gs = grad(outs, [ins[i] for i in diff_idx], grad_outputs=gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grad, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
