"""Module hooks: RemovableHandle and the autograd plumbing behind register_full_backward_hook.

    h = model.fc.register_forward_hook(lambda mod, args, out: print(out.shape))
    h.remove()                      # or: with model.fc.register_forward_hook(...): ...

A full backward hook sees the gradients with respect to the module's tensor inputs and outputs. Like torch,
the module's inputs and outputs pass through identity autograd nodes: the one on the outputs records the
output gradients, the one on the inputs receives all input gradients of the call together, calls the hooks
and may replace them.
"""
import itertools
import weakref

from .. import _C
from .._C import Tensor

__all__ = ["RemovableHandle"]

_next_id = itertools.count()


class RemovableHandle:
    """Returned by register_*_hook; remove() takes the hook out (a second remove() is a no-op)."""

    def __init__(self, *hook_dicts):
        self.id = next(_next_id)
        self._dicts = [weakref.ref(d) for d in hook_dicts]

    def remove(self):
        for ref in self._dicts:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _BackwardHookCall:
    """The state of one forward call with backward hooks: grad_output is filled by the output node."""

    def __init__(self, module, hooks, pre_hooks):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.inputs_hooked = False

    def wrap_inputs(self, args):
        """args with every tensor that requires grad passed through one identity node (when grad mode is on)."""
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        tensor_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(tensor_slots)
        if not positions or not _C._autograd.is_grad_enabled():
            return args
        self.inputs_hooked = True
        ins = [args[i] for i in positions]
        slots = [tensor_slots.index(i) for i in positions]   # each hooked input's place in grad_input

        def backward(*grads):
            grad_input = [None] * self.n_inputs
            for slot, g in zip(slots, grads):
                grad_input[slot] = g
            new = self._call_hooks(tuple(grad_input))
            return tuple(new[slot] for slot in slots)

        outs = _C._autograd.record_function("BackwardHookFunctionBackward", backward, ins,
                                            [a.detach() for a in ins])
        args = list(args)
        for i, o in zip(positions, outs):
            args[i] = o
        return tuple(args)

    def wrap_outputs(self, output):
        """output with its tensors passed through an identity node that records grad_output (and, when no input
        needs grad, calls the hooks itself with grad_input all None, as torch does)."""
        single = isinstance(output, Tensor)
        outs = (output,) if single else output
        if not isinstance(outs, tuple):
            return output
        positions = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not positions or not _C._autograd.is_grad_enabled():
            return output
        n_out = sum(isinstance(o, Tensor) for o in outs)
        tensor_slots = [i for i, o in enumerate(outs) if isinstance(o, Tensor)]
        slots = [tensor_slots.index(i) for i in positions]

        def backward(*grads):
            grad_output = [None] * n_out
            for slot, g in zip(slots, grads):
                grad_output[slot] = g
            grad_output = tuple(grad_output)
            for hook in list(self.pre_hooks.values()):
                result = hook(self.module, grad_output)
                if result is not None:
                    grad_output = _check_grads(result, grad_output, "backward pre-hook", "grad_output")
            self.grad_outputs = grad_output
            if not self.inputs_hooked:
                self._call_hooks((None,) * max(self.n_inputs, 1))
            return tuple(grad_output[slot] for slot in slots)

        ins = [outs[i] for i in positions]
        wrapped = _C._autograd.record_function("BackwardHookFunctionBackward", backward, ins,
                                               [o.detach() for o in ins])
        new = list(outs)
        for i, w in zip(positions, wrapped):
            new[i] = w
        return new[0] if single else tuple(new)

    def _call_hooks(self, grad_input):
        for hook in list(self.hooks.values()):
            result = hook(self.module, grad_input, self.grad_outputs)
            if result is not None:
                grad_input = _check_grads(result, grad_input, "backward hook", "grad_input")
        return grad_input


def _check_grads(result, old, what, name):
    result = (result,) if isinstance(result, Tensor) else tuple(result)
    if len(result) != len(old):
        raise RuntimeError(f"{what} returned {len(result)} gradients for {name}, but {len(old)} were expected")
    for new, prev in zip(result, old):
        if new is not None and not isinstance(new, Tensor):
            raise TypeError(f"{what} must return Tensors or None for {name}, got {type(new).__name__}")
        if new is not None and prev is not None and tuple(new.shape) != tuple(prev.shape):
            raise RuntimeError(f"{what} returned a {name} gradient of shape {tuple(new.shape)} for one of shape "
                               f"{tuple(prev.shape)}")
    return result
