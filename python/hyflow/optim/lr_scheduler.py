"""Learning-rate schedulers: StepLR, CosineAnnealingLR, LambdaLR, LinearLR (warmup), SequentialLR.

Closed-form schedules (lr as a function of the epoch counter) matching torch's values, except where torch's
own recurrence on the group's current lr gives other values: the first step of a new scheduler (it keeps
the lr of an optimizer restored from a checkpoint) and LinearLR."""
import math

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LambdaLR", "LinearLR", "SequentialLR"]


class LRScheduler:
    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        if last_epoch == -1:
            self._initial_step()
        else:
            self.step()

    def lr_at(self, base_lr, epoch):
        raise NotImplementedError

    def _initial_step(self):
        """Epoch 0 as torch computes it: the group's *current* lr times the schedule's factor at epoch 0
        (1 for StepLR and CosineAnnealingLR, start_factor for LinearLR), not the closed form over
        initial_lr. They differ for an optimizer restored from a checkpoint (lr already decayed,
        initial_lr saved with it): the scheduler built over it must keep that lr, and its own
        load_state_dict then restores the epoch without touching the optimizer."""
        self.last_epoch += 1
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = g["lr"] * (self.lr_at(base, 0) / base) if base else self.lr_at(base, 0)
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)

    def step(self):
        self.last_epoch += 1
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self.lr_at(base, self.last_epoch)
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambda", "_schedulers")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if step_size <= 0:
            raise ValueError(f"StepLR: step_size must be positive, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class LambdaLR(LRScheduler):
    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(optimizer.param_groups)
        self.lr_lambda = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(self.lr_lambda) != n:
            raise ValueError(f"LambdaLR: expected {n} lr_lambdas, got {len(self.lr_lambda)}")
        self._i = 0
        super().__init__(optimizer, last_epoch)

    def _initial_step(self):
        self.step()  # torch's LambdaLR recomputes base_lr * lr_lambda(0), even over a restored optimizer

    def step(self):
        self.last_epoch += 1
        for g, base, fn in zip(self.optimizer.param_groups, self.base_lrs, self.lr_lambda):
            g["lr"] = base * fn(self.last_epoch)
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]


class LinearLR(LRScheduler):
    """Linear warmup: factor goes from start_factor to end_factor over total_iters steps."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError("LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1]")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        t = min(epoch, self.total_iters) / self.total_iters if self.total_iters else 1.0
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * t)

    def step(self):
        # torch's recurrence on the group's current lr, not the closed form: the two agree on a fresh run,
        # but after a resume (a new LinearLR over a restored optimizer starts from the decayed lr times
        # start_factor) only the recurrence gives torch's values.
        # Epoch 0 reached by step() (a restart inside SequentialLR) is torch's closed form, as its step(0).
        self.last_epoch += 1
        e, span = self.last_epoch, self.end_factor - self.start_factor
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            if e == 0:
                g["lr"] = base * self.start_factor
            elif e <= self.total_iters:
                g["lr"] = g["lr"] * (1.0 + span / (self.total_iters * self.start_factor + (e - 1) * span))
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]


class SequentialLR:
    """Run schedulers one after another, switching at the given milestones (e.g. warmup then cosine)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expected {len(schedulers) - 1} milestones, got {len(milestones)}")
        self.optimizer, self._schedulers, self.milestones = optimizer, list(schedulers), list(milestones)
        self.last_epoch = last_epoch + 1
        for g, base in zip(optimizer.param_groups, schedulers[0].base_lrs):
            g["lr"] = base
        s0 = schedulers[0]
        s0.last_epoch -= 1
        s0.step()
        self._last_lr = s0.get_last_lr()

    def step(self):
        self.last_epoch += 1
        idx = sum(1 for m in self.milestones if m <= self.last_epoch)
        s = self._schedulers[idx]
        if idx > 0 and self.milestones[idx - 1] == self.last_epoch:
            s.last_epoch = -1
            s.step()
        else:
            s.step()
        self._last_lr = s.get_last_lr()

    def get_last_lr(self):
        return list(self._last_lr)
