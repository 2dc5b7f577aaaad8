"""Adadelta, Adagrad and RMSprop with torch's arguments, defaults, state names and update formulas.

Each optimizer states its formula once (`_delta`: gradient and state tensors in, the step to subtract out,
state updated in place); `_ForeachOptimizer.step` runs it foreach-style on one flat buffer per (group, dtype)
and applies the result with one fused op call (see _foreach.py), or on a single parameter's tensors for
parameters the fused op does not take."""
from .. import _C
from ..autograd import enable_grad, no_grad
from ._foreach import FlatBuffers, apply_steps, flat_grads, flat_params, fusable, grad_of
from .optimizer import Optimizer

__all__ = ["Adadelta", "Adagrad", "RMSprop"]


def _check_nonnegative(opt, **values):
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{opt}: {name} must be a number, got {type(v).__name__}")
        if not v >= 0.0:  # also refuses NaN
            raise ValueError(f"{opt}: invalid {name} value: {v} (must be >= 0)")


def _check_torch_flags(opt, capturable, differentiable, foreach):
    # foreach is accepted for torch's signature: these optimizers always take the foreach path on the CPU.
    if foreach not in (None, True, False):
        raise TypeError(f"{opt}: foreach must be None or a bool, got {foreach!r}")
    if capturable:
        raise ValueError(f"{opt}: capturable=True is for CUDA graphs; this build runs on the CPU only")
    if differentiable:
        raise NotImplementedError(f"{opt}: differentiable=True (autograd through step()) is not supported")


class _ForeachOptimizer(Optimizer):
    """step() shared by the optimizers of this file; subclasses define the state and the formula."""

    def _state_names(self, group):
        raise NotImplementedError

    def _init_state(self, p, group, st):
        st["step"] = 0
        for name in self._state_names(group):
            st[name] = _C.ops.zeros(list(p.shape), dtype=p.dtype, device=str(p.device))

    def _delta(self, group, grad, state, step):
        """Update the state tensors in place; return what p moves by, times -lr (a new tensor or a state one)."""
        raise NotImplementedError

    def _lr(self, group, step):
        return group["lr"]

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        if getattr(self, "_flat_buffers", None) is None:
            self._flat_buffers = FlatBuffers()
        flat = self._flat_buffers
        with no_grad():
            flat.begin_step()
            for g in self.param_groups:
                names, wd = self._state_names(g), g["weight_decay"]
                batches = {}
                for p in g["params"]:
                    if p.grad is None:
                        continue
                    st = self.state[p]
                    if not st:
                        self._init_state(p, g, st)
                    st["step"] += 1
                    if fusable(p) and all(fusable(st[n], p.dtype) for n in names):
                        batches.setdefault((p.dtype, st["step"]), []).append(p)
                        continue
                    # reference path: the same formula on this parameter's own tensors
                    grad = grad_of(p, g["maximize"])
                    if wd != 0:
                        grad = grad.add(p, alpha=wd)
                    delta = self._delta(g, grad, {n: st[n] for n in names}, st["step"])
                    p.add_(delta, alpha=-self._lr(g, st["step"]))
                for (_, step), ps in batches.items():
                    grad = flat_grads(ps, g["maximize"])
                    if wd != 0:
                        grad = grad.add(flat_params(ps), alpha=wd)
                    delta = self._delta(g, grad, flat.get(self.state, ps, names), step)
                    apply_steps(ps, delta, self._lr(g, step))
            flat.end_step()
        return loss


class Adadelta(_ForeachOptimizer):
    """torch.optim.Adadelta: square_avg and acc_delta running averages, step = sqrt(acc+eps)/sqrt(sq+eps)*g."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_nonnegative("Adadelta", lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: invalid rho value: {rho} (must be in [0, 1])")
        _check_torch_flags("Adadelta", capturable, differentiable, foreach)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _state_names(self, group):
        return ("square_avg", "acc_delta")

    def _delta(self, group, grad, state, step):
        rho, eps = group["rho"], group["eps"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg.mul_(rho).add_(grad * grad, alpha=1 - rho)
        std = (square_avg + eps).sqrt_()
        delta = (acc_delta + eps).sqrt_().div_(std).mul_(grad)
        acc_delta.mul_(rho).add_(delta * delta, alpha=1 - rho)
        return delta


class Adagrad(_ForeachOptimizer):
    """torch.optim.Adagrad: sum of squared gradients; lr decays as lr / (1 + (step - 1) * lr_decay).

    As in torch, the state ("step" 0 and "sum" filled with initial_accumulator_value) exists from construction."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_nonnegative("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        _check_torch_flags("Adagrad", False, differentiable, foreach)
        if fused:
            raise ValueError("Adagrad: fused=True is torch's CUDA/MPS kernel; leave fused=None (hyflow's update "
                             "is already one vectorized step per group)")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))

    def add_param_group(self, group):
        super().add_param_group(group)
        g = self.param_groups[-1]
        for p in g["params"]:
            self._init_state(p, g, self.state[p])

    def _state_names(self, group):
        return ("sum",)

    def _init_state(self, p, group, st):
        st["step"] = 0
        st["sum"] = _C.ops.full(list(p.shape), float(group["initial_accumulator_value"]), dtype=p.dtype,
                                   device=str(p.device))

    def _lr(self, group, step):
        return group["lr"] / (1 + (step - 1) * group["lr_decay"])

    def _delta(self, group, grad, state, step):
        state_sum = state["sum"]
        state_sum.add_(grad * grad)
        return grad / state_sum.sqrt().add_(group["eps"])


class RMSprop(_ForeachOptimizer):
    """torch.optim.RMSprop, with momentum and the centered variant (normalized by the gradient's variance)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_nonnegative("RMSprop", lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        _check_torch_flags("RMSprop", capturable, differentiable, foreach)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _state_names(self, group):
        names = ["square_avg"]
        if group["momentum"] > 0:
            names.append("momentum_buffer")
        if group["centered"]:
            names.append("grad_avg")
        return tuple(names)

    def _delta(self, group, grad, state, step):
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        square_avg = state["square_avg"]
        square_avg.mul_(alpha).add_(grad * grad, alpha=1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg.add_(grad - grad_avg, alpha=1 - alpha)  # lerp_(grad, 1 - alpha)
            avg = (square_avg - grad_avg * grad_avg).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg.add_(eps)
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf.mul_(momentum).add_(grad / avg)
            return buf
        return grad / avg
