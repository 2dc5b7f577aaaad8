"""RNN, LSTM, GRU and their cells vs torch: load torch's state_dict, compare outputs, final states and gradients."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn

torch = pytest.importorskip("torch")


def h(a, requires_grad=False):
    return hy.tensor(np.asarray(a), dtype=hy.float64, requires_grad=requires_grad)


def npy(x):
    return x.detach().numpy()


def close(a, b):
    np.testing.assert_allclose(npy(a), npy(b), rtol=1e-10, atol=1e-12)


def flat(out):
    """(output, h_n) or (output, (h_n, c_n)) -> list of tensors."""
    output, state = out
    return [output] + (list(state) if isinstance(state, tuple) else [state])


CASES = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    ("RNN", {"bidirectional": True, "batch_first": True}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"num_layers": 3, "batch_first": True, "bias": False}),
    ("GRU", {}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
]


@pytest.mark.parametrize("kind,kwargs", CASES, ids=[f"{k}-{kw}" for k, kw in CASES])
def test_recurrent_layer_matches_torch_after_load_state_dict(kind, kwargs):
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(5, 7, **kwargs).double()
    hm = getattr(nn, kind)(5, 7, **kwargs).double()
    assert list(hm.state_dict()) == list(tm.state_dict())          # torch's names, in torch's order
    assert [tuple(v.shape) for v in hm.state_dict().values()] == [tuple(v.shape) for v in tm.state_dict().values()]
    hm.load_state_dict(tm.state_dict())
    x_np = np.random.default_rng(0).standard_normal((4, 3, 5))      # (L, N, H_in) or (N, L, H_in)
    tx, hx = torch.tensor(x_np, requires_grad=True), h(x_np, True)
    t_out, h_out = flat(tm(tx)), flat(hm(hx))
    for a, b in zip(h_out, t_out):
        close(a, b)
    weights = [np.random.default_rng(i + 1).standard_normal(tuple(t.shape)) for i, t in enumerate(t_out)]
    sum((t * torch.tensor(w)).sum() for t, w in zip(t_out, weights)).backward()
    sum((t * h(w)).sum() for t, w in zip(h_out, weights)).backward()
    close(hx.grad, tx.grad)
    for (name, hp), (_, tp) in zip(hm.named_parameters(), tm.named_parameters()):
        close(hp.grad, tp.grad)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_initial_states_and_unbatched_input(kind):
    torch.manual_seed(1)
    tm = getattr(torch.nn, kind)(4, 6, num_layers=2, bidirectional=True).double()
    hm = getattr(nn, kind)(4, 6, num_layers=2, bidirectional=True).double()
    hm.load_state_dict(tm.state_dict())
    rng = np.random.default_rng(2)
    x, h0, c0 = rng.standard_normal((5, 3, 4)), rng.standard_normal((4, 3, 6)), rng.standard_normal((4, 3, 6))
    if kind == "LSTM":
        t_args, h_args = (torch.tensor(h0), torch.tensor(c0)), (h(h0), h(c0))
    else:
        t_args, h_args = torch.tensor(h0), h(h0)
    for a, b in zip(flat(hm(h(x), h_args)), flat(tm(torch.tensor(x), t_args))):
        close(a, b)
    # unbatched: (L, H_in) with (layers * directions, H) states
    ub_t = (t_args[0][:, 0], t_args[1][:, 0]) if kind == "LSTM" else t_args[:, 0]
    ub_h = (h_args[0][:, 0], h_args[1][:, 0]) if kind == "LSTM" else h_args[:, 0]
    for a, b in zip(flat(hm(h(x[:, 0]), ub_h)), flat(tm(torch.tensor(x[:, 0]), ub_t))):
        close(a, b)


def test_dropout_between_layers_only_in_training():
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5).double()
    x = h(np.ones((6, 2, 3)))
    m.eval()
    a, b = m(x)[0], m(x)[0]
    close(a, b)
    m.train()
    hy.manual_seed(0)
    c = m(x)[0]
    hy.manual_seed(1)
    d = m(x)[0]
    assert not np.allclose(npy(c), npy(d))
    single = nn.LSTM(3, 4, num_layers=1, dropout=0.0).double().train()
    close(single(x)[0], single(x)[0])


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(kind):
    torch.manual_seed(2)
    tm = getattr(torch.nn, kind)(5, 3).double()
    hm = getattr(nn, kind)(5, 3).double()
    assert list(hm.state_dict()) == list(tm.state_dict())
    hm.load_state_dict(tm.state_dict())
    rng = np.random.default_rng(3)
    x, hx, cx = rng.standard_normal((2, 5)), rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    t_state = (torch.tensor(hx), torch.tensor(cx)) if kind == "LSTMCell" else torch.tensor(hx)
    h_state = (h(hx), h(cx)) if kind == "LSTMCell" else h(hx)
    for args_t, args_h in (((torch.tensor(x),), (h(x),)), ((torch.tensor(x), t_state), (h(x), h_state)),
                           ((torch.tensor(x[0]),), (h(x[0]),))):
        a, b = hm(*args_h), tm(*args_t)
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            close(u, v)


def test_relu_cell_and_no_bias():
    torch.manual_seed(3)
    tm = torch.nn.RNNCell(4, 2, bias=False, nonlinearity="relu").double()
    hm = nn.RNNCell(4, 2, bias=False, nonlinearity="relu").double()
    hm.load_state_dict(tm.state_dict())
    x = np.random.default_rng(4).standard_normal((3, 4))
    close(hm(h(x)), tm(torch.tensor(x)))


def test_init_range_and_repr():
    m = nn.GRU(3, 16, num_layers=2, batch_first=True)
    bound = 1 / 4
    for p in m.parameters():
        assert p.dtype == hy.float32 and float(p.abs().max().item()) <= bound
    assert repr(m) == "GRU(3, 16, num_layers=2, batch_first=True)"
    assert repr(nn.LSTMCell(2, 3)) == "LSTMCell(2, 3)"


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="hidden_size"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, dropout=2)
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(NotImplementedError, match="CPU only"):
        nn.LSTM(3, 4, device="cuda")
    m = nn.LSTM(3, 4)
    with pytest.raises(ValueError, match="input_size"):
        m(hy.randn(2, 1, 5))
    with pytest.raises(ValueError, match="2-D .* or 3-D"):
        m(hy.randn(2))
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
        m(hy.randn(2, 1, 3), hy.zeros(1, 1, 4))
    with pytest.raises(ValueError, match=r"expected h_0 of size \(1, 1, 4\)"):
        m(hy.randn(2, 1, 3), (hy.zeros(2, 1, 4), hy.zeros(2, 1, 4)))
    with pytest.raises(RuntimeError, match="same dtype"):
        m(hy.randn(2, 1, 3).double())
    with pytest.raises(ValueError, match="hidden state of size"):
        nn.GRUCell(3, 4)(hy.randn(2, 3), hy.zeros(3, 4))
