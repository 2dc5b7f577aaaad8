"""SGD, Adam and AdamW with torch's update formulas.

step() updates all contiguous float32/float64 parameters of a group with one fused kernel per device and dtype
(ops _fused_sgd_ / _fused_adam_ of csrc/ops/table/optim.yaml: multi-threaded on the CPU, one multi-tensor launch
on CUDA); other parameters (float16, bfloat16, non-contiguous) take a reference path of in-place tensor ops with
the same formula."""
import math

from .. import _C
from ..autograd import no_grad
from .optimizer import Optimizer, required

__all__ = ["SGD", "Adam", "AdamW"]


_FUSED_DTYPES = (_C.float32, _C.float64)


def _fusable(t, dtype=None):
    """Tensors the fused step handles: contiguous float32/float64 tensors, CPU or CUDA (one dtype and one device
    per call)."""
    return t.dtype in _FUSED_DTYPES and t.is_contiguous() and (dtype is None or t.dtype == dtype)


def _grad(p):
    g = p.grad
    if g.dtype != p.dtype:
        g = g.to(p.dtype)
    return g if g.is_contiguous() else g.contiguous()


def _check(cond, msg):
    if not cond:
        raise ValueError(msg)


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        _check(lr is required or lr >= 0.0, f"SGD: invalid learning rate {lr}")
        _check(momentum >= 0.0, f"SGD: invalid momentum {momentum}")
        _check(weight_decay >= 0.0, f"SGD: invalid weight_decay {weight_decay}")
        _check(not nesterov or (momentum > 0 and dampening == 0),
               "SGD: nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def step(self, closure=None):
        loss = None
        if closure is not None:
            from ..autograd import enable_grad
            with enable_grad():
                loss = closure()
        with no_grad():
            for g in self.param_groups:
                lr, mom, damp, wd = g["lr"], g["momentum"], g["dampening"], g["weight_decay"]
                batches = {}
                for p in g["params"]:
                    if p.grad is None:
                        continue
                    st = self._state_for(p) if mom != 0 else {}
                    if _fusable(p):
                        first = mom != 0 and st.get("momentum_buffer") is None
                        if first:
                            st["momentum_buffer"] = _C.ops.zeros(list(p.shape), dtype=p.dtype, device=str(p.device))
                        batches.setdefault((p.dtype, str(p.device), first), []).append(p)
                        continue
                    self._step_one(p, g, st)
                for (_, _, first), ps in batches.items():
                    bufs = [self.state[p]["momentum_buffer"] for p in ps] if mom != 0 else []
                    _C.ops._fused_sgd_(ps, [_grad(p) for p in ps], bufs, lr, mom, damp, wd, g["nesterov"],
                                       g["maximize"], first)
        return loss

    def _step_one(self, p, g, st):
        """Reference path (float16/bfloat16 or non-contiguous parameters): in-place tensor ops."""
        lr, mom, damp, wd = g["lr"], g["momentum"], g["dampening"], g["weight_decay"]
        d_p = -p.grad if g["maximize"] else p.grad
        if wd != 0:
            d_p = d_p.add(p, alpha=wd)
        if mom != 0:
            buf = st.get("momentum_buffer")
            if buf is None:
                buf = d_p.clone()
                st["momentum_buffer"] = buf
            else:
                buf.mul_(mom).add_(d_p, alpha=1 - damp)
            d_p = d_p.add(buf, alpha=mom) if g["nesterov"] else buf
        p.add_(d_p, alpha=-lr)


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=None, amsgrad=False,
                 maximize=False):
        if weight_decay is None:
            weight_decay = 1e-2 if self._decoupled else 0.0
        _check(lr >= 0.0, f"{type(self).__name__}: invalid learning rate {lr}")
        _check(eps >= 0.0, f"{type(self).__name__}: invalid epsilon {eps}")
        _check(0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0, f"{type(self).__name__}: invalid betas {betas}")
        _check(weight_decay >= 0.0, f"{type(self).__name__}: invalid weight_decay {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def step(self, closure=None):
        loss = None
        if closure is not None:
            from ..autograd import enable_grad
            with enable_grad():
                loss = closure()
        with no_grad():
            for g in self.param_groups:
                lr, (b1, b2), eps, wd = g["lr"], g["betas"], g["eps"], g["weight_decay"]
                batches = {}
                for p in g["params"]:
                    if p.grad is None:
                        continue
                    st = self._state_for(p)
                    if not st:
                        st["step"] = 0
                        st["exp_avg"] = _C.ops.zeros(list(p.shape), dtype=p.dtype, device=str(p.device))
                        st["exp_avg_sq"] = _C.ops.zeros(list(p.shape), dtype=p.dtype, device=str(p.device))
                        if g["amsgrad"]:
                            st["max_exp_avg_sq"] = _C.ops.zeros(list(p.shape), dtype=p.dtype, device=str(p.device))
                    st["step"] += 1
                    if _fusable(p) and all(_fusable(st[k], p.dtype) and st[k].device == p.device
                                           for k in st if k != "step"):
                        batches.setdefault((p.dtype, str(p.device), st["step"]), []).append(p)
                    else:
                        self._step_one(p, g, st)
                for (_, _, step), ps in batches.items():
                    sts = [self.state[p] for p in ps]
                    _C.ops._fused_adam_(ps, [_grad(p) for p in ps], [s["exp_avg"] for s in sts],
                                        [s["exp_avg_sq"] for s in sts],
                                        [s["max_exp_avg_sq"] for s in sts] if g["amsgrad"] else [],
                                        lr, b1, b2, wd, eps, step, g["amsgrad"], self._decoupled, g["maximize"])
        return loss

    def _step_one(self, p, g, st):
        """Reference path (float16/bfloat16 or non-contiguous parameters): in-place tensor ops."""
        lr, (b1, b2), eps, wd = g["lr"], g["betas"], g["eps"], g["weight_decay"]
        grad = -p.grad if g["maximize"] else p.grad
        step = st["step"]
        if wd != 0:
            if self._decoupled:
                p.mul_(1 - lr * wd)
            else:
                grad = grad.add(p, alpha=wd)
        m, v = st["exp_avg"], st["exp_avg_sq"]
        m.add_(grad - m, alpha=1 - b1)              # lerp_(grad, 1 - b1)
        v.mul_(b2).add_(grad * grad, alpha=1 - b2)
        bc1 = 1 - b1 ** step
        bc2_sqrt = math.sqrt(1 - b2 ** step)
        src = v
        if g["amsgrad"]:
            st["max_exp_avg_sq"].copy_(_C.ops.maximum(st["max_exp_avg_sq"], v))
            src = st["max_exp_avg_sq"]
        denom = (src.sqrt() / bc2_sqrt).add_(_C.ops.full([], eps, dtype=p.dtype))
        p.add_(m / denom, alpha=-lr / bc1)


class AdamW(Adam):
    """Adam with decoupled weight decay (default weight_decay=1e-2), as torch.optim.AdamW."""
    _decoupled = True
