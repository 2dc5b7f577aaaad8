"""An online-trained ML surrogate of the shallow-water model's dissipation, in hyflow.nn.

The exact dissipation (shallow_water.dissipation_tendency) at a velocity point depends only on the 3x3
neighbourhood of cells around it: viscosity is linear in that stencil, the quadratic drag -c_d |u| u / h
is not. The surrogate is an MLP applied at every grid point to that point's 3x3 stencil patch:

    patch  = the 3x3 neighbourhood of (h, u, v) on the periodic grid (hy.pad mode='circular' + im2col):
             for each field its centre value and the 8 differences neighbour - centre (27 features)
    output = linear(patch) + mlp(patch)   -> (du, dv) at that point, in units of the output scale

Why differences rather than raw neighbour values: for smooth fields the raw neighbours are almost equal,
so the viscosity nu * (sum of neighbours - 4 centre) / dx^2 is a small difference of large, nearly
collinear inputs, an ill-conditioned regression a few Adam steps cannot fit. The differences are small
and nearly uncorrelated, and after normalisation the viscosity is an O(1) linear function of them,
which the linear path learns quickly; the MLP path learns the quadratic drag.

Normalisation (per-feature mean and std of the patches, RMS of the targets) is set from the first
training batch and kept in buffers, so it travels with state_dict() and checkpoints.
"""
from __future__ import annotations

import math

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F
import hyflow.optim as optim

import shallow_water as sw

FIELDS = 3                   # h, u, v
PATCH_FEATURES = FIELDS * 9  # a 3x3 stencil patch of each field
OUTPUTS = 2                  # du, dv


def stencil_patches(fields: hy.Tensor) -> hy.Tensor:
    """(N, 3, nx, ny) fields -> (N * nx * ny, 27) rows: per field the centre value and neighbour - centre.

    Row r = (n * nx + i) * ny + j belongs to grid point (i, j) of sample n; its features are ordered
    field-major, then the 3x3 offsets row by row (offset 4 is the centre).
    """
    if fields.dim() != 4 or fields.shape[1] != FIELDS:
        raise ValueError(f"stencil_patches: fields must be (N, {FIELDS}, nx, ny), got {tuple(fields.shape)}")
    n = fields.shape[0]
    padded = hy.pad(fields, [1, 1, 1, 1], mode="circular")
    patches = F.unfold(padded, 3).reshape(n, FIELDS, 9, -1)          # (N, 3, 9, L)
    centre = patches[:, :, 4:5, :]
    not_centre = hy.ones(1, 1, 9, 1, dtype=fields.dtype)
    not_centre[0, 0, 4, 0] = 0.0
    features = patches - centre * not_centre                         # centre keeps its value
    return features.reshape(n, PATCH_FEATURES, -1).transpose(1, 2).reshape(-1, PATCH_FEATURES)


def rows_to_fields(rows: hy.Tensor, n: int, nx: int, ny: int) -> hy.Tensor:
    """(N * nx * ny, C) per-point rows -> (N, C, nx, ny) fields (the inverse layout of stencil_patches)."""
    return rows.reshape(n, nx, ny, -1).permute(0, 3, 1, 2).contiguous()


def fields_to_rows(fields: hy.Tensor) -> hy.Tensor:
    """(N, C, nx, ny) -> (N * nx * ny, C)."""
    return fields.permute(0, 2, 3, 1).reshape(-1, fields.shape[1])


class TendencySurrogate(nn.Module):
    """(M, 27) stencil patches -> (M, 2) dissipation tendency (du, dv)."""

    def __init__(self, hidden: int = 32, dtype=hy.float32, generator=None):
        super().__init__()
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"TendencySurrogate: hidden must be a positive integer, got {hidden!r}")
        layer = dict(dtype=dtype, generator=generator)
        self.linear = nn.Linear(PATCH_FEATURES, OUTPUTS, **layer)
        self.mlp = nn.Sequential(nn.Linear(PATCH_FEATURES, hidden, **layer), nn.GELU(),
                                 nn.Linear(hidden, hidden, **layer), nn.GELU(),
                                 nn.Linear(hidden, OUTPUTS, **layer))
        self.register_buffer("input_shift", hy.zeros(1, PATCH_FEATURES, dtype=dtype))
        self.register_buffer("input_scale", hy.ones(1, PATCH_FEATURES, dtype=dtype))
        self.register_buffer("output_scale", hy.ones(1, OUTPUTS, dtype=dtype))
        self.register_buffer("normalisation_set", hy.zeros(1, dtype=dtype))

    @property
    def dtype(self):
        return self.output_scale.dtype

    def set_normalisation(self, patches: hy.Tensor, target_rows: hy.Tensor) -> None:
        """Per-feature mean/std of the patches and RMS of the targets (a constant feature gets scale 1)."""
        with hy.no_grad():
            std = patches.std(dim=0, keepdim=True)
            rms = (target_rows * target_rows).mean(dim=0, keepdim=True).sqrt()
            self.input_shift.copy_(patches.mean(dim=0, keepdim=True))
            self.input_scale.copy_(hy.where(std > 0, std, hy.ones_like(std)))
            self.output_scale.copy_(hy.where(rms > 0, rms, hy.ones_like(rms)))
            self.normalisation_set.fill_(1.0)

    def forward_normalised(self, patches: hy.Tensor) -> hy.Tensor:
        """The prediction in units of output_scale (what the loss compares)."""
        x = (patches - self.input_shift) / self.input_scale
        return self.linear(x) + self.mlp(x)

    def forward(self, patches: hy.Tensor) -> hy.Tensor:
        return self.forward_normalised(patches) * self.output_scale


def make_model(seed: int = 0, hidden: int = 32, dtype=hy.float32) -> TendencySurrogate:
    """A freshly initialised surrogate; the same seed gives the same weights."""
    return TendencySurrogate(hidden=hidden, dtype=dtype, generator=hy.Generator(seed=seed))


def make_optimizer(model: nn.Module, lr: float = 3e-3, weight_decay: float = 1e-4) -> optim.Optimizer:
    return optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)


def state_features(state: sw.State, dtype=hy.float32) -> hy.Tensor:
    """(3, nx, ny): the channels h, u, v of one state."""
    return hy.stack([state.h, state.u, state.v]).to(dtype)


def make_batch(states, params: sw.Params, dtype=hy.float32):
    """Inputs X (N, 3, nx, ny) and exact targets Y (N, 2, nx, ny) from a list of states."""
    states = list(states)
    if not states:
        raise ValueError("make_batch: states is empty")
    inputs = hy.stack([state_features(s, dtype) for s in states])
    targets = hy.stack([hy.stack(sw.dissipation_tendency(s, params)) for s in states]).to(dtype)
    return inputs, targets


def train_steps(model: TendencySurrogate, opt: optim.Optimizer, inputs: hy.Tensor, targets: hy.Tensor,
                n: int, batch_points: int | None = None, generator: hy.Generator | None = None) -> list:
    """n optimiser steps on the normalised MSE; returns the n losses (Python floats).

    inputs/targets are make_batch's (N, 3, nx, ny) and (N, 2, nx, ny): every grid point of every state
    is one sample. batch_points: sample that many points (with replacement, from `generator`) for each
    step instead of using all N * nx * ny; the loss is then that minibatch's. The first call sets the
    model's normalisation from the whole batch.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"train_steps: n must be a non-negative integer, got {n!r}")
    if batch_points is not None and (not isinstance(batch_points, int) or batch_points < 1):
        raise ValueError(f"train_steps: batch_points must be a positive integer or None, got {batch_points!r}")
    if (inputs.dim() != 4 or targets.dim() != 4 or inputs.shape[0] != targets.shape[0]
            or tuple(inputs.shape[2:]) != tuple(targets.shape[2:]) or targets.shape[1] != OUTPUTS):
        raise ValueError(f"train_steps: inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} must be "
                         f"(N, {FIELDS}, nx, ny) and (N, {OUTPUTS}, nx, ny)")
    patches = stencil_patches(inputs.to(model.dtype))       # no parameters upstream: built once per batch
    target_rows = fields_to_rows(targets.to(model.dtype))
    if model.normalisation_set.item() == 0:
        model.set_normalisation(patches, target_rows)
    scaled_targets = target_rows / model.output_scale
    model.train()
    losses = []
    points = patches.shape[0]
    for _ in range(n):
        if batch_points is None or batch_points >= points:
            x, y = patches, scaled_targets
        else:
            rows = hy.randint(0, points, (batch_points,), generator=generator)
            x, y = patches.index_select(0, rows), scaled_targets.index_select(0, rows)
        loss = F.mse_loss(model.forward_normalised(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def predict_tendency(model: TendencySurrogate, state: sw.State):
    """The surrogate's (du, dv) for one state, in the state's dtype, ready for shallow_water.step."""
    nx, ny = state.u.shape
    model.eval()
    with hy.no_grad():
        rows = model(stencil_patches(state_features(state, model.dtype).unsqueeze(0)))
        prediction = rows_to_fields(rows, 1, nx, ny)[0].to(state.u.dtype)
    return prediction[0].contiguous(), prediction[1].contiguous()


def relative_error(pred, true) -> float:
    """||pred - true|| / ||true|| (2-norm over everything); pred/true are tensors or (du, dv) pairs."""
    if isinstance(pred, (tuple, list)):
        pred = hy.stack([p.to(hy.float64) for p in pred])
    if isinstance(true, (tuple, list)):
        true = hy.stack([t.to(hy.float64) for t in true])
    if tuple(pred.shape) != tuple(true.shape):
        raise ValueError(f"relative_error: shapes differ, pred {tuple(pred.shape)} vs true {tuple(true.shape)}")
    diff = pred.to(hy.float64) - true.to(hy.float64)
    norm_true = math.sqrt((true.to(hy.float64) ** 2).sum().item())
    if norm_true == 0:
        return math.sqrt((diff ** 2).sum().item())
    return math.sqrt((diff ** 2).sum().item()) / norm_true
