"""Recurrent layers: RNN, LSTM, GRU and their cells, with torch's parameter names, shapes and gate order.

    lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True, bidirectional=True)
    lstm.load_state_dict(torch_lstm.state_dict())   # same names, same (i, f, g, o) gate layout
    out, (h_n, c_n) = lstm(x)                          # x (N, L, 16) -> out (N, L, 64)

Written with op-table ops, so autograd needs nothing new: each layer computes the input projection of every
time step in one GEMM, then steps through time with one (N, H) x (H, gates) GEMM per step.
"""
import math

from .. import _C
from . import functional as F
from . import init
from .layers import _empty, check_device
from .module import Module
from .parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_ops = _C.ops
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---- one time step of each kind: (input projection, hidden state(s), weights) -> new state(s) -------------
def _rnn_step(relu):
    def step(x_proj, state, w_hh, b_hh):
        pre = x_proj + F.linear(state, w_hh, b_hh)
        return pre.relu() if relu else pre.tanh()
    return step


def _lstm_step(x_proj, state, w_hh, b_hh):
    h, c = state
    i, f, g, o = _ops.chunk(x_proj + F.linear(h, w_hh, b_hh), 4, -1)   # torch's gate order
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def _gru_step(x_proj, h, w_hh, b_hh):
    x_r, x_z, x_n = _ops.chunk(x_proj, 3, -1)
    h_r, h_z, h_n = _ops.chunk(F.linear(h, w_hh, b_hh), 3, -1)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()   # b_hn stays inside r * (...), as in torch
    return n + z * (h - n)        # (1 - z) * n + z * h


def _step_fn(mode):
    return {"RNN_TANH": _rnn_step(False), "RNN_RELU": _rnn_step(True), "LSTM": _lstm_step, "GRU": _gru_step}[mode]


def _check_size(fn, what, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{fn}: {what} must be a positive int, got {value!r}")


class RNNBase(Module):
    """The multi-layer, optionally bidirectional recurrent layer behind RNN, LSTM and GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        check_device(device)
        _check_size(name, "input_size", input_size)
        _check_size(name, "hidden_size", hidden_size)
        _check_size(name, "num_layers", num_layers)
        if not (isinstance(dropout, (int, float)) and 0 <= dropout <= 1) or isinstance(dropout, bool):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported yet")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                for kind, shape in shapes:
                    setattr(self, kind + suffix, Parameter(_empty(shape, dtype)))
                    self._flat_weights_names.append(kind + suffix)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch initializes them."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name in self._flat_weights_names:
            init.uniform_(getattr(self, name), -bound, bound, generator)

    def _layer_weights(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = lambda kind: getattr(self, kind + suffix) if self.bias or kind.startswith("weight") else None  # noqa
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def forward(self, input, hx=None):
        name = type(self).__name__
        if not isinstance(input, _C.Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__} (PackedSequence is not "
                            "supported)")
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: expected a 2-D (unbatched) or 3-D input, got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                             f"got {input.shape[-1]}")
        batched = input.dim() == 3
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)                    # work time-major: (L, N, H_in)
        directions = 2 if self.bidirectional else 1
        states = self._initial_states(hx, x, directions, batched)
        step = _step_fn(self.mode)
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                state = tuple(s[k] for s in states) if self.mode == "LSTM" else states[0][k]
                out, state = self._run_direction(x, state, self._layer_weights(layer, direction), step, direction)
                outs.append(out)
                finals.append(state)
            x = outs[0] if directions == 1 else _ops.cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        output = x.transpose(0, 1) if batched and self.batch_first else x
        if not batched:
            output = output.squeeze(1)
        if self.mode == "LSTM":
            h_n = _ops.stack([h for h, _ in finals], 0)
            c_n = _ops.stack([c for _, c in finals], 0)
            if not batched:
                h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
            return output, (h_n, c_n)
        h_n = _ops.stack(finals, 0)
        return output, (h_n if batched else h_n.squeeze(1))

    def _initial_states(self, hx, x, directions, batched):
        name = type(self).__name__
        expected = (self.num_layers * directions, x.shape[1], self.hidden_size)
        if hx is None:
            zeros = _ops.zeros(list(expected), dtype=x.dtype)
            return (zeros, zeros) if self.mode == "LSTM" else (zeros,)
        given = hx if self.mode == "LSTM" else (hx,)
        if self.mode == "LSTM" and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
        states = []
        for which, t in zip(("h_0", "c_0"), given):
            if not isinstance(t, _C.Tensor):
                raise TypeError(f"{name}: {which} must be a Tensor, got {type(t).__name__}")
            if t.dim() != (3 if batched else 2):
                raise ValueError(f"{name}: for {'batched 3-D' if batched else 'unbatched 2-D'} input, {which} "
                                 f"should be {'3-D' if batched else '2-D'}, got shape {tuple(t.shape)}")
            t = t if batched else t.unsqueeze(1)
            if tuple(t.shape) != expected:
                raise ValueError(f"{name}: expected {which} of size {expected}, got {tuple(t.shape)}")
            if t.dtype != x.dtype:
                raise RuntimeError(f"{name}: input and {which} must have the same dtype, got {x.dtype} and "
                                   f"{t.dtype}")
            states.append(t)
        return tuple(states)

    @staticmethod
    def _run_direction(x, state, weights, step, direction):
        w_ih, w_hh, b_ih, b_hh = weights
        x_proj = F.linear(x, w_ih, b_ih)             # every time step's input projection in one GEMM
        steps = range(x.shape[0] - 1, -1, -1) if direction else range(x.shape[0])
        outs = [None] * x.shape[0]
        for t in steps:
            state = step(x_proj[t], state, w_hh, b_hh)
            outs[t] = state[0] if isinstance(state, tuple) else state
        return _ops.stack(outs, 0), state

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu with nonlinearity='relu')."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)


class LSTM(RNNBase):
    """Long short-term memory; forward(input, (h_0, c_0)) -> output, (h_n, c_n). Gates in torch's order i, f, g, o."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit; gates in torch's order r, z, n."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0,
                         device, dtype)


class RNNCellBase(Module):
    """One time step: weight_ih, weight_hh, bias_ih, bias_hh as in torch; input (N, H_in) or (H_in,)."""

    _mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        check_device(device)
        _check_size(name, "input_size", input_size)
        _check_size(name, "hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gate_size = _GATES[self._mode] * hidden_size
        self.weight_ih = Parameter(_empty((gate_size, input_size), dtype))
        self.weight_hh = Parameter(_empty((gate_size, hidden_size), dtype))
        if bias:
            self.bias_ih = Parameter(_empty((gate_size,), dtype))
            self.bias_hh = Parameter(_empty((gate_size,), dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator)

    def _prepare(self, input, hx, n_states):
        name = type(self).__name__
        if not isinstance(input, _C.Tensor) or input.dim() not in (1, 2):
            raise ValueError(f"{name}: expected input to be a 1-D or 2-D Tensor, got "
                             f"{tuple(input.shape) if isinstance(input, _C.Tensor) else type(input).__name__}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has inconsistent input_size: got {input.shape[-1]}, expected "
                             f"{self.input_size}")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        expected = (x.shape[0], self.hidden_size)
        if hx is None:
            states = [_ops.zeros(list(expected), dtype=x.dtype) for _ in range(n_states)]
        else:
            given = list(hx) if n_states == 2 else [hx]
            if len(given) != n_states:
                raise TypeError(f"{name}: hx must be a tuple (h, c)")
            states = []
            for t in given:
                if not isinstance(t, _C.Tensor):
                    raise TypeError(f"{name}: hidden state must be a Tensor, got {type(t).__name__}")
                t = t if batched else t.unsqueeze(0)
                if tuple(t.shape) != expected:
                    raise ValueError(f"{name}: expected hidden state of size {expected}, got {tuple(t.shape)}")
                states.append(t)
        return x, states, batched

    def _step(self, input, hx, n_states):
        x, states, batched = self._prepare(input, hx, n_states)
        state = tuple(states) if n_states == 2 else states[0]
        new = _step_fn(self._mode)(F.linear(x, self.weight_ih, self.bias_ih), state, self.weight_hh, self.bias_hh)
        if batched:
            return new
        return tuple(s.squeeze(0) for s in new) if n_states == 2 else new.squeeze(0)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        self._mode = "RNN_" + nonlinearity.upper()
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx, 1)


class LSTMCell(RNNCellBase):
    _mode = "LSTM"

    def forward(self, input, hx=None):
        """-> (h', c')."""
        return self._step(input, hx, 2)


class GRUCell(RNNCellBase):
    _mode = "GRU"

    def forward(self, input, hx=None):
        return self._step(input, hx, 1)
