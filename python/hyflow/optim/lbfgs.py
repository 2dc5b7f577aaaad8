"""L-BFGS with torch.optim.LBFGS's arguments, closure semantics, state and iterates.

step(closure) runs up to max_iter quasi-Newton iterations on the flat vector of all parameters: the two-loop
recursion over the last history_size (s, y) pairs gives the direction, then either a fixed step (lr; the first
iteration of a run is scaled by 1 / |g|_1) or a strong-Wolfe line search (Nocedal & Wright, algorithms 3.5
and 3.6, with cubic interpolation: the same search torch runs, so both take the same steps).
Vectors are hyflow tensors (flat, the parameters' dtype); the scalars (loss, dot products, step lengths) are
Python floats."""
import math

from .. import _C
from .._shape import cat
from ..autograd import enable_grad, no_grad
from ._foreach import apply_steps, fusable
from .optimizer import Optimizer

__all__ = ["LBFGS"]


def _dot(a, b):
    return float(_C.ops.dot(a, b).item())


def _abs_max(v):
    return float(v.abs().max().item())


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clipped to bounds
    (default: between x1 and x2); the bounds' midpoint when the cubic has no minimum."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Step length along d satisfying the strong Wolfe conditions. evaluate(t) -> (loss, flat grad) at x + t d.

    Returns (loss, grad, t, evaluations)."""
    d_norm = _abs_max(d)
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    iters = 0
    # bracketing phase: grow t until [t_prev, t] contains a point satisfying the conditions
    while iters < max_ls:
        if f_new > f + c1 * t * gtd or (iters > 1 and f_new >= f_prev):
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket = [[t, f_new, g_new, gtd_new]]
            done = True
            break
        if gtd_new >= 0:
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        # extrapolate: somewhere in [t + 0.01 (t - t_prev), 10 t]
        t_next = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        iters += 1
    if iters == max_ls:
        bracket = [[0.0, f, g, gtd], [t, f_new, g_new, gtd_new]]

    # zoom phase: shrink the bracket by cubic interpolation until the conditions hold
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    stuck = False
    while not done and iters < max_ls:
        a, b = bracket[0][0], bracket[1][0]
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0][0], bracket[0][1], bracket[0][3], bracket[1][0], bracket[1][1], bracket[1][3])
        top, bottom = max(a, b), min(a, b)
        eps = 0.1 * (top - bottom)
        # a point too close to an end makes little progress: twice in a row (or outside), move it inwards
        if min(top - t, t - bottom) < eps:
            if stuck or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                stuck = False
            else:
                stuck = True
        else:
            stuck = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        iters += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = [t, f_new, g_new, gtd_new]
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = [t, f_new, g_new, gtd_new]
    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evals


class LBFGS(Optimizer):
    """torch.optim.LBFGS: one parameter group; step(closure) with a closure that recomputes the loss and its
    gradients (zero_grad, forward, backward, return loss) and may be called several times per step."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr >= 0.0:
            raise ValueError(f"LBFGS: invalid learning rate (lr) {lr!r}")
        for name, v in (("max_iter", max_iter), ("history_size", history_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"LBFGS: {name} must be a positive int, got {v!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if isinstance(max_eval, bool) or not isinstance(max_eval, int) or max_eval < 1:
            raise ValueError(f"LBFGS: max_eval must be a positive int, got {max_eval!r}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, group):
        if getattr(self, "param_groups", None):
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(group)

    # --- the parameters as one flat vector
    def _flat_grad(self):
        return cat([p.grad.reshape(-1) if p.grad is not None else _C.ops.zeros([p.numel()], dtype=p.dtype, device=str(p.device))
                    for p in self._params], 0)

    def _move(self, t, d):
        """Every parameter += t * its slice of d (one fused call when the fused op takes them all)."""
        if all(fusable(p, self._params[0].dtype) for p in self._params) and d.dtype == self._params[0].dtype:
            apply_steps(self._params, d, -t)
            return
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset:offset + n].view(p.shape), alpha=t)
            offset += n

    def _evaluate(self, closure):
        with enable_grad():
            return closure()

    def step(self, closure=None):
        if closure is None or not callable(closure):
            raise TypeError("LBFGS.step() needs a closure that re-evaluates the model (zero_grad, forward, "
                            "backward) and returns the loss")
        with no_grad():
            return self._step(closure)

    def _step(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search = group["history_size"], group["line_search_fn"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate(closure)
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if _abs_max(g) <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_g, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
            else:
                y = g - prev_g
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:  # keep only pairs that keep the inverse-Hessian estimate positive definite
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / _dot(y, y)
                # two-loop recursion: d = -H g
                al = state.setdefault("al", [None] * history_size)
                q = -g
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = _dot(old_stps[i], q) * ro[i]
                    q.add_(old_dirs[i], alpha=-al[i])
                d = r = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = _dot(old_dirs[i], r) * ro[i]
                    r.add_(old_stps[i], alpha=al[i] - be_i)

            prev_g = g.clone()
            prev_loss = loss
            # the first iteration of a run has no curvature yet: scale the step by 1/|g|_1
            t = min(1.0, 1.0 / float(g.abs().sum().item())) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(g, d)
            if gtd > -tol_change:  # not a descent direction any more
                break

            ls_evals = 0
            if line_search == "strong_wolfe":
                x0 = [p.clone() for p in self._params]

                def evaluate(step, x0=x0, d=d):
                    self._move(step, d)
                    value = float(self._evaluate(closure))
                    grad = self._flat_grad()
                    for p, x in zip(self._params, x0):
                        p.copy_(x)
                    return value, grad

                loss, g, t, ls_evals = _strong_wolfe(evaluate, t, d, loss, g, gtd, max_ls=max_eval - evals)
                self._move(t, d)
                done_grad = _abs_max(g) <= tol_grad
            else:
                self._move(t, d)
                done_grad = False
                if n_iter != max_iter:
                    # re-evaluate, except on the last iteration (the caller's next step() does it)
                    loss = float(self._evaluate(closure))
                    g = self._flat_grad()
                    done_grad = _abs_max(g) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or evals >= max_eval or done_grad:
                break
            if _abs_max(d * t) <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag, prev_flat_grad=prev_g,
                     prev_loss=prev_loss)
        return orig_loss
