"""Automatic differentiation (mirrors csrc/autograd/): backward, grad, grad mode and Function.

    x = hy.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()                      # x.grad == 2 * x
    (gx,) = hy.autograd.grad((x.sin()).sum(), x, create_graph=True)   # higher order: gx.sum().backward()
"""
from .. import _C
from .._C import Tensor
from .function import Function, FunctionCtx
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)

__all__ = ["backward", "grad", "zero_grads", "Function", "FunctionCtx", "no_grad", "enable_grad", "inference_mode",
           "set_grad_enabled", "is_grad_enabled", "is_inference_mode_enabled"]


def _as_tuple(x):
    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _grads(outputs, grad_outputs):
    g = _as_tuple(grad_outputs)
    if not g:
        return [None] * len(outputs)
    if len(g) != len(outputs):
        raise ValueError(f"grad_outputs has {len(g)} entries but there are {len(outputs)} outputs")
    return [x if x is None or isinstance(x, Tensor) else hy_tensor_like(x, o) for x, o in zip(g, outputs)]


def hy_tensor_like(value, like):
    return _C.ops.full(tuple(like.shape), value, dtype=like.dtype, device=str(like.device))


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of `tensors` into the .grad of every leaf they depend on."""
    if inputs is not None:
        raise NotImplementedError("backward(inputs=...) is not supported yet; use hy.autograd.grad")
    outs = _as_tuple(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    _C._autograd.backward(outs, _grads(outs, grad_tensors), bool(retain_graph), bool(create_graph))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False,
         materialize_grads=False):
    """Gradients of `outputs` with respect to `inputs` (a tuple), without touching .grad."""
    outs, ins = _as_tuple(outputs), _as_tuple(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    res = _C._autograd.grad(outs, ins, _grads(outs, grad_outputs), bool(retain_graph), bool(create_graph),
                            bool(allow_unused or materialize_grads))
    if materialize_grads:
        res = tuple(_C.ops.zeros(tuple(i.shape), dtype=i.dtype, device=str(i.device)) if r is None else r for r, i in zip(res, ins))
    return res


def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute the gradient of this tensor w.r.t. graph leaves (accumulated into their .grad)."""
    backward(self, None if gradient is None else (gradient,), retain_graph, create_graph, inputs)


Tensor.backward = _tensor_backward
Tensor.data = property(lambda self: self.detach(), doc="This tensor's values, cut from the graph.")


def zero_grads(tensors, set_to_none=True):
    """Reset ``.grad`` of each tensor: to None (frees memory, the default) or to zeros in place."""
    for t in tensors:
        if t.grad is None:
            continue
        if set_to_none:
            t.grad = None
        else:
            with no_grad():
                t.grad.zero_()
