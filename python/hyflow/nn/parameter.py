"""nn.Parameter: a Tensor subclass that a Module registers as a learnable parameter."""
from .. import _C
from .._C import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf tensor that is a module parameter (requires_grad=True by default).

    `Parameter(t)` shares `t`'s memory but is a new autograd leaf, like torch.nn.Parameter. Ops on a
    Parameter return plain Tensors; `isinstance(p, hy.Tensor)` holds.
    """

    __slots__ = ()   # keeps the C++ object layout, so a detached Tensor can become a Parameter

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _C.ops.empty([0])
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): data must be a hyflow.Tensor, got {type(data).__name__}")
        t = data.detach()
        t.__class__ = cls          # same C++ object layout: only the Python type changes
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, data=None, requires_grad=True):  # noqa: D107 (all work done in __new__)
        pass

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        new = Parameter(self.detach().clone(), self.requires_grad)
        if self.grad is not None:
            new.grad = self.grad.detach().clone()
        memo[id(self)] = new
        return new
