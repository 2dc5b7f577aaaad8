"""The ML field solver: an hy.nn model, trained online on the running PIC simulation, that maps the charge
density on the grid to the electric field and replaces the spectral Poisson solve after a switch step.

The model is a periodic convolution with a learned kernel, E_j = sum_m K_m rho_{j-m}, applied as a circulant
matrix. Two properties are built in rather than learned, because the physics needs them exactly:

* translation invariance (a convolution): what is learned about one place holds everywhere;
* an odd kernel, K_{-m} = -K_m (so K_0 = K_{n/2} = 0): the field of a charge pushes symmetrically away from
  it. With an odd kernel sum_j rho_j E_j = 0 for every rho, so the particles still exert no net force on
  themselves and the total momentum stays conserved to round-off while the model drives the simulation;
  and sum_j E_j = 0 (no mean field), as the Poisson solve gives.

Its n/2 - 1 free values can represent the exact solver (the discrete sine transform of -1/k), so what the
network learns can be compared with the true Green's function (the figure does). It starts from zero and
learns only from the (rho, E) pairs the simulation produces; inputs and outputs are scaled by their RMS
over the first training batch (buffers, so they travel with state_dict() and checkpoints).
"""
from __future__ import annotations

import math

import hyflow as hy
import hyflow.nn as nn
import hyflow.optim as optim


class OddConvolutionField(nn.Module):
    """(B, n) charge density -> (B, n) electric field, by a periodic convolution with an odd learned kernel."""

    def __init__(self, n_cells: int, dtype=hy.float64):
        super().__init__()
        if isinstance(n_cells, bool) or not isinstance(n_cells, int) or n_cells < 4 or n_cells % 2:
            raise ValueError(f"OddConvolutionField: n_cells must be an even integer >= 4, got {n_cells!r}")
        self.n_cells = n_cells
        half = n_cells // 2 - 1                              # lags 1 .. n/2 - 1
        self.kernel_half = nn.Parameter(hy.zeros(half, dtype=dtype))
        # circulant layout: C[j, l] = K[(j - l) mod n]
        rows = hy.arange(n_cells, dtype=hy.int64)
        lags = hy.remainder(rows.unsqueeze(1) - rows.unsqueeze(0), n_cells)
        self.register_buffer("lag_index", lags.reshape(-1))
        self.register_buffer("input_scale", hy.ones(1, dtype=dtype))
        self.register_buffer("output_scale", hy.ones(1, dtype=dtype))
        self.register_buffer("normalisation_set", hy.zeros(1, dtype=dtype))

    @property
    def dtype(self):
        return self.output_scale.dtype

    def kernel(self) -> hy.Tensor:
        """The full odd kernel K_0 .. K_{n-1} in field units per unit charge density (what E = K * rho uses)."""
        zero = hy.zeros(1, dtype=self.dtype)
        odd = hy.cat([zero, self.kernel_half, zero, -hy.flip(self.kernel_half, [0])])
        return odd * (self.output_scale / self.input_scale)

    def set_normalisation(self, rho: hy.Tensor, field: hy.Tensor) -> None:
        with hy.no_grad():
            rho_rms = (rho * rho).mean().sqrt()
            field_rms = (field * field).mean().sqrt()
            self.input_scale.copy_(hy.where(rho_rms > 0, rho_rms, hy.ones_like(rho_rms)).reshape(1))
            self.output_scale.copy_(hy.where(field_rms > 0, field_rms, hy.ones_like(field_rms)).reshape(1))
            self.normalisation_set.fill_(1.0)

    def forward(self, rho: hy.Tensor) -> hy.Tensor:
        if rho.shape[-1] != self.n_cells:
            raise ValueError(f"OddConvolutionField: rho's last dim must be {self.n_cells}, got {tuple(rho.shape)}")
        circulant = self.kernel().index_select(0, self.lag_index).reshape(self.n_cells, self.n_cells)
        return rho.to(self.dtype) @ circulant.transpose(0, 1)


def make_model(n_cells: int, dtype=hy.float64) -> OddConvolutionField:
    return OddConvolutionField(n_cells, dtype=dtype)


def make_optimizer(model: nn.Module, lr: float = 2e-2) -> optim.Optimizer:
    return optim.Adam(model.parameters(), lr=lr)


def train_steps(model: OddConvolutionField, opt: optim.Optimizer, rho: hy.Tensor, field: hy.Tensor, n: int) -> list:
    """n optimiser steps on the whole (B, n) batch; returns the losses. The loss is the mean over samples of
    ||E_pred - E||^2 / ||E||^2. The first call sets the model's normalisation from this batch."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"train_steps: n must be a non-negative integer, got {n!r}")
    if rho.dim() != 2 or tuple(rho.shape) != tuple(field.shape) or rho.shape[1] != model.n_cells:
        raise ValueError(f"train_steps: rho {tuple(rho.shape)} and field {tuple(field.shape)} must both be "
                         f"(B, {model.n_cells})")
    rho, field = rho.to(model.dtype), field.to(model.dtype)
    if model.normalisation_set.item() == 0:
        model.set_normalisation(rho, field)
    # each sample's squared error relative to its own field: as a mode grows or decays over the run, the
    # weak modes (the noise) of the newest states still count, which is what the online error measures
    inverse_norm = 1.0 / (field * field).sum(dim=1, keepdim=True).clamp(min=1e-300)
    model.train()
    losses = []
    for _ in range(n):
        error = model(rho) - field
        loss = (error * error * inverse_norm).sum(dim=1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def predict_field(model: OddConvolutionField, rho: hy.Tensor) -> hy.Tensor:
    """The model's field for one (n,) density, as a contiguous float64 grid ready for pic.push."""
    model.eval()
    with hy.no_grad():
        return model(rho.unsqueeze(0))[0].to(hy.float64).contiguous()


def relative_error(pred: hy.Tensor, true: hy.Tensor) -> float:
    """||pred - true||_2 / ||true||_2 (the plain difference norm when true is zero)."""
    if tuple(pred.shape) != tuple(true.shape):
        raise ValueError(f"relative_error: shapes differ, pred {tuple(pred.shape)} vs true {tuple(true.shape)}")
    diff = math.sqrt(((pred.to(hy.float64) - true.to(hy.float64)) ** 2).sum().item())
    norm = math.sqrt((true.to(hy.float64) ** 2).sum().item())
    return diff / norm if norm > 0 else diff
