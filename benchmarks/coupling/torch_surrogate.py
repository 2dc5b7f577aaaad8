"""The climate example's surrogate (examples/climate/surrogate.py) in PyTorch, for the baselines.

Same architecture (linear(27 -> 2) + MLP 27 -> hidden -> hidden -> 2 with exact GELU on 3x3 stencil
patches of (h, u, v), differences to the centre), same normalisation from the first batch, same
normalised MSE, same AdamW settings, float32. NumPy float64 fields go in and come out: the baselines
convert with torch.from_numpy every step, which is part of what they cost.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import numpy_shallow_water as nsw

FIELDS = 3
PATCH_FEATURES = FIELDS * 9
OUTPUTS = 2


def stencil_patches(fields: torch.Tensor) -> torch.Tensor:
    """(N, 3, nx, ny) -> (N * nx * ny, 27): per field the centre value and neighbour - centre."""
    n = fields.shape[0]
    padded = F.pad(fields, (1, 1, 1, 1), mode="circular")
    patches = F.unfold(padded, 3).reshape(n, FIELDS, 9, -1)
    centre = patches[:, :, 4:5, :]
    not_centre = torch.ones(1, 1, 9, 1, dtype=fields.dtype)
    not_centre[0, 0, 4, 0] = 0.0
    features = patches - centre * not_centre
    return features.reshape(n, PATCH_FEATURES, -1).transpose(1, 2).reshape(-1, PATCH_FEATURES)


def fields_to_rows(fields: torch.Tensor) -> torch.Tensor:
    return fields.permute(0, 2, 3, 1).reshape(-1, fields.shape[1])


class TendencySurrogate(nn.Module):
    def __init__(self, hidden: int = 32):
        super().__init__()
        self.linear = nn.Linear(PATCH_FEATURES, OUTPUTS)
        self.mlp = nn.Sequential(nn.Linear(PATCH_FEATURES, hidden), nn.GELU(),
                                 nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, OUTPUTS))
        self.register_buffer("input_shift", torch.zeros(1, PATCH_FEATURES))
        self.register_buffer("input_scale", torch.ones(1, PATCH_FEATURES))
        self.register_buffer("output_scale", torch.ones(1, OUTPUTS))
        self.register_buffer("normalisation_set", torch.zeros(1))

    def set_normalisation(self, patches, target_rows):
        with torch.no_grad():
            std = patches.std(dim=0, keepdim=True)
            rms = (target_rows * target_rows).mean(dim=0, keepdim=True).sqrt()
            self.input_shift.copy_(patches.mean(dim=0, keepdim=True))
            self.input_scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))
            self.output_scale.copy_(torch.where(rms > 0, rms, torch.ones_like(rms)))
            self.normalisation_set.fill_(1.0)

    def forward_normalised(self, patches):
        x = (patches - self.input_shift) / self.input_scale
        return self.linear(x) + self.mlp(x)

    def forward(self, patches):
        return self.forward_normalised(patches) * self.output_scale


def make_model(seed: int, hidden: int) -> TendencySurrogate:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return TendencySurrogate(hidden)


def make_optimizer(model, lr: float, weight_decay: float = 1e-4):
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)


def state_features(h, u, v) -> torch.Tensor:
    """(3, nx, ny) float32 from the float64 NumPy fields."""
    return torch.from_numpy(np.stack([h, u, v])).to(torch.float32)


def make_batch(states, params: nsw.Params):
    """states: a list of (h, u, v) NumPy triples -> inputs (N, 3, nx, ny), exact targets (N, 2, nx, ny)."""
    inputs = torch.stack([state_features(*s) for s in states])
    targets = np.stack([np.stack(nsw.dissipation_tendency(*s, params)) for s in states])
    return inputs, torch.from_numpy(targets).to(torch.float32)


def train_steps(model, opt, inputs, targets, n: int, batch_points=None, generator=None) -> list:
    """n AdamW steps on the normalised MSE (the first call sets the normalisation), each on batch_points
    grid points drawn with replacement from `generator`, or on all of them when batch_points is None."""
    patches = stencil_patches(inputs)
    target_rows = fields_to_rows(targets)
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
            rows = torch.randint(0, points, (batch_points,), generator=generator)
            x, y = patches.index_select(0, rows), scaled_targets.index_select(0, rows)
        loss = F.mse_loss(model.forward_normalised(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def predict_tendency(model, h, u, v):
    """The surrogate's (du, dv) as float64 NumPy arrays, ready for numpy_shallow_water.step."""
    nx, ny = u.shape
    model.eval()
    with torch.no_grad():
        rows = model(stencil_patches(state_features(h, u, v).unsqueeze(0)))
        prediction = rows.reshape(1, nx, ny, -1).permute(0, 3, 1, 2)[0].to(torch.float64).numpy()
    return np.ascontiguousarray(prediction[0]), np.ascontiguousarray(prediction[1])


def relative_error(pred, true) -> float:
    pred, true = np.stack(pred).astype(np.float64), np.stack(true).astype(np.float64)
    norm_true = math.sqrt(float((true ** 2).sum()))
    diff = math.sqrt(float(((pred - true) ** 2).sum()))
    return diff / norm_true if norm_true else diff


# ---- the example's train and infer task bodies on NumPy states

class Trainer:
    """train_body: validation error on the newest state, train_iters AdamW steps, a weights snapshot."""

    def __init__(self, seed: int, hidden: int, lr: float, iters: int, batch_points, params: nsw.Params):
        self.model = make_model(seed, hidden)
        self.opt = make_optimizer(self.model, lr)
        self.seed, self.iters, self.batch_points, self.params = seed, iters, batch_points, params
        self.history = {"step": [], "loss": [], "validation_error": []}

    def __call__(self, step_index: int, batch: list) -> dict:
        inputs, targets = make_batch(batch, self.params)
        if self.model.normalisation_set.item() != 0:
            prediction = predict_tendency(self.model, *batch[-1])
            validation = relative_error(prediction, (targets[-1, 0].numpy(), targets[-1, 1].numpy()))
        else:
            validation = float("nan")
        sampler = torch.Generator().manual_seed((self.seed << 32) + step_index)
        losses = train_steps(self.model, self.opt, inputs, targets, self.iters, self.batch_points, sampler)
        self.history["step"].append(step_index)
        self.history["loss"].append(losses[-1])
        self.history["validation_error"].append(validation)
        return {name: tensor.clone() for name, tensor in self.model.state_dict().items()}


class Inferrer:
    """infer_body: load new weights; from infer_from on, predict the next step's tendency and its error."""

    def __init__(self, seed: int, hidden: int, infer_from: int, params: nsw.Params):
        self.model = make_model(seed, hidden)
        self.infer_from, self.params = infer_from, params
        self.history = {"step": [], "error": []}

    def __call__(self, step_index: int, state, weights):
        if weights is not None:
            self.model.load_state_dict(weights)
        if step_index < self.infer_from:
            return None
        prediction = predict_tendency(self.model, *state)
        exact = nsw.dissipation_tendency(*state, self.params)
        self.history["step"].append(step_index)
        self.history["error"].append(relative_error(prediction, exact))
        return prediction
