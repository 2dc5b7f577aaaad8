"""Foreach-style updates for the optimizers written over tensor ops (Adadelta, Adagrad, RMSprop).

Instead of a handful of small ops per parameter, a group's parameters of one dtype are updated together:

* their gradients are concatenated into one flat vector (one copy);
* each state tensor (square_avg, ...) lives in one flat buffer per batch, and ``opt.state[p][name]`` is a
  view into it, so ``opt.state[p]`` reads as torch's and the formula runs once on the flat buffers;
* the resulting step is applied to every parameter with one call of the fused ``_fused_sgd_`` op
  (momentum 0, weight decay 0: ``p -= lr * delta``), which spreads the lists over the thread pool.

So a step costs a fixed number of op calls per (group, dtype), whatever the number of parameters. The formula
is one function of tensors, used both on the flat buffers and, for parameters the fused op does not take
(float16/bfloat16, non-contiguous), on one parameter's own tensors (the reference path).
"""
from .. import _C
from .._shape import cat

__all__ = ["FUSED_DTYPES", "fusable", "grad_of", "FlatBuffers", "flat_grads", "flat_params", "apply_steps"]

FUSED_DTYPES = (_C.float32, _C.float64)


def fusable(t, dtype=None):
    """Tensors the fused C++ step takes: contiguous float32/float64 (all of one dtype per call)."""
    return t.dtype in FUSED_DTYPES and t.is_contiguous() and (dtype is None or t.dtype == dtype)


def grad_of(p, maximize=False):
    """p.grad in p's dtype and contiguous, negated for maximize."""
    g = p.grad
    if g.dtype != p.dtype:
        g = g.to(p.dtype)
    if not g.is_contiguous():
        g = g.contiguous()
    return -g if maximize else g


def _flat(tensors, copy=True):
    """One contiguous 1-D tensor of all elements; a single tensor is only reshaped unless copy is asked."""
    if len(tensors) > 1:
        return cat([t.reshape(-1) for t in tensors], 0)
    flat = tensors[0].reshape(-1)
    return flat.clone() if copy else flat


def _views(flat, params):
    out, offset = [], 0
    for p in params:
        n = p.numel()
        out.append(flat[offset:offset + n].view(p.shape))
        offset += n
    return out


class FlatBuffers:
    """Per-batch flat state buffers of an optimizer, rebuilt when the batch or the state tensors change.

    A batch is an ordered list of parameters of one dtype. Its buffers stay valid while opt.state[p][name] are
    still the views handed out last time (load_state_dict, unpickling or a user assignment replace them: the
    buffer is then rebuilt from the current state tensors, so nothing is lost)."""

    def __init__(self):
        self._cache = {}
        self._used = {}

    def __reduce__(self):
        # A copy (pickle, deepcopy) starts empty: the views in the cache would come back as independent tensors
        # that no longer share the flat buffer, and the keys are ids of this process's parameters.
        return (FlatBuffers, ())

    def begin_step(self):
        self._used = {}

    def end_step(self):
        # batches not stepped this time (a parameter lost its grad, ...) let their buffers go
        self._cache, self._used = self._used, {}

    def get(self, state, params, names):
        """{name: flat buffer} for the batch `params`, each state[p][name] a view of it."""
        key = tuple(id(p) for p in params)
        entry = self._cache.get(key) or self._used.get(key)
        if entry is None or not all(state[p][n] is v for n in names for p, v in zip(params, entry[n][1])):
            entry = {}
            for n in names:
                flat = _flat([state[p][n] for p in params])
                views = _views(flat, params)
                for p, v in zip(params, views):
                    state[p][n] = v
                entry[n] = (flat, views)
        self._used[key] = entry
        return {n: flat for n, (flat, _) in entry.items()}


def flat_grads(params, maximize):
    """The batch's gradients as one flat vector (read-only for the formulas: it may be p.grad itself)."""
    return _flat([grad_of(p, maximize) for p in params], copy=False)


def flat_params(params):
    """The batch's parameter values as one flat vector (read-only, for weight decay)."""
    return _flat(list(params), copy=False)


def apply_steps(params, flat_delta, lr):
    """p -= lr * delta for every parameter of a batch, delta cut from one flat vector: one fused op call."""
    _C.ops._fused_sgd_(params, _views(flat_delta, params), [], float(lr), 0.0, 0.0, 0.0, False, False, False)
