"""hy.autograd.Function: a user-defined op with a Python forward and backward.

    class Exp(hy.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    y = Exp.apply(x)
"""
from .. import _C
from .._C import Tensor
from .grad_mode import no_grad

__all__ = ["Function", "FunctionCtx"]

_VERSION_ERROR = ("one of the variables needed for gradient computation has been modified by an inplace "
                  "operation: [{}] is at version {}; expected version {} instead.")


class FunctionCtx:
    """The `ctx` passed to forward and backward."""

    def __init__(self):
        self._saved = ()
        self._versions = ()
        self.needs_input_grad = ()
        self._freed = False

    def save_for_backward(self, *tensors):
        """Keep tensors for backward; modifying one in place afterwards makes backward raise."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors or None, got {type(t).__name__}")
        self._saved = tensors
        self._versions = tuple(None if t is None else t._version for t in tensors)

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError("Trying to backward through the graph a second time (or directly access saved "
                               "tensors after they have already been freed). Specify retain_graph=True if you "
                               "need to backward through the graph a second time.")
        for t, v in zip(self._saved, self._versions):
            if t is not None and t._version != v:
                raise RuntimeError(_VERSION_ERROR.format(f"{t.dtype} tensor of shape {tuple(t.shape)}",
                                                         t._version, v))
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self._non_diff = tensors


class Function:
    """Subclass with static forward(ctx, *args) and backward(ctx, *grads); call Subclass.apply(*args)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must implement backward(ctx, ...)")

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        if not (_C._autograd.is_grad_enabled() and any(ctx.needs_input_grad)):
            return out
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        n_args = len(args)

        def backward(*grads):
            g = cls.backward(ctx, *grads)
            g = g if isinstance(g, tuple) else (g,)
            if len(g) != n_args:
                raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of gradients "
                                   f"(expected {n_args}, got {len(g)})")
            return tuple(x if isinstance(x, Tensor) else None for x in g)

        inputs = [a if isinstance(a, Tensor) and a.requires_grad else None for a in args]
        recorded = _C._autograd.record_function(cls.__name__ + "Backward", backward, inputs, outs)
        # An output saved for backward would hold its grad_fn, which holds ctx: a cycle through C++ that
        # Python's GC cannot see. Keep it without history (same memory and version counter).
        ids = {id(o) for o in outs}
        ctx._saved = tuple(t.detach() if t is not None and id(t) in ids else t for t in ctx._saved)
        return recorded[0] if single else tuple(recorded)
