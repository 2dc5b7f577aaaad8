"""hy.set_default_dtype / get_default_dtype against torch (issue 14): every factory, type promotion of Python
numbers, layers' parameters, a training step in float64, the process-wide scope, repr, compile guards."""
import threading
import warnings

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn

torch = pytest.importorskip("torch")

FLOATS = ["float16", "bfloat16", "float32", "float64"]


@pytest.fixture
def restore_default():
    """Every test here changes the process-wide default: put hyflow's and torch's back afterwards."""
    before, tbefore = hy.get_default_dtype(), torch.get_default_dtype()
    yield
    hy.set_default_dtype(before)
    torch.set_default_dtype(tbefore)


def _both(name):
    hy.set_default_dtype(getattr(hy, name))
    torch.set_default_dtype(getattr(torch, name))


def _name(dt):
    return str(dt).replace("torch.", "").replace("hyflow.", "")


def test_default_is_float32():
    assert hy.get_default_dtype() == hy.float32
    assert hy.zeros(2).dtype == hy.float32 and hy.tensor([1.5]).dtype == hy.float32


@pytest.mark.parametrize("bad", [hy.int32, hy.int64, hy.bool, hy.complex64, hy.complex128, "int64"])
def test_non_floating_dtypes_are_refused(bad, restore_default):
    with pytest.raises(TypeError, match="only floating-point types are supported as the default type.*got "
                       + (bad if isinstance(bad, str) else bad.name)):
        hy.set_default_dtype(bad)
    assert hy.get_default_dtype() == hy.float32      # unchanged
    with pytest.raises(TypeError):
        torch.set_default_dtype(getattr(torch, bad if isinstance(bad, str) else bad.name))


def test_non_dtype_argument_is_a_type_error(restore_default):
    with pytest.raises(TypeError, match="expected a dtype"):
        hy.set_default_dtype(object())


def test_names_are_accepted(restore_default):
    hy.set_default_dtype("float64")
    assert hy.get_default_dtype() == hy.float64


# Factory calls written once, run on hyflow and on torch (same names and arguments).
FACTORIES = {
    "empty": lambda m: m.empty(2),
    "zeros": lambda m: m.zeros(2, 3),
    "ones": lambda m: m.ones(2),
    "full_float": lambda m: m.full((2,), 1.5),
    "full_int": lambda m: m.full((2,), 3),
    "full_bool": lambda m: m.full((2,), True),
    "rand": lambda m: m.rand(3),
    "randn": lambda m: m.randn(3),
    "randint": lambda m: m.randint(0, 5, (3,)),
    "arange_int": lambda m: m.arange(4),
    "arange_float_end": lambda m: m.arange(3.0),
    "arange_float_step": lambda m: m.arange(0, 1, 0.25),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "logspace": lambda m: m.logspace(0, 2, 3),
    "eye": lambda m: m.eye(3),
    "tensor_list": lambda m: m.tensor([1.5, 2.0]),
    "tensor_scalar": lambda m: m.tensor(1.5),
    "tensor_mixed": lambda m: m.tensor([1, 2.5]),
    "tensor_int": lambda m: m.tensor([1, 2]),
    "tensor_bool": lambda m: m.tensor([True]),
    "tensor_numpy_f32": lambda m: m.tensor(np.ones(2, dtype=np.float32)),
    "tensor_numpy_f64": lambda m: m.tensor(np.ones(2)),
    "as_tensor_list": lambda m: m.as_tensor([0.5]),
    "zeros_like_f32": lambda m: m.zeros_like(m.ones(2, dtype=m.float32)),
    "explicit_dtype": lambda m: m.zeros(2, dtype=m.float32),
}


@pytest.mark.parametrize("default", FLOATS)
@pytest.mark.parametrize("case", list(FACTORIES))
def test_factory_dtypes_match_torch(case, default, restore_default):
    _both(default)
    fn = FACTORIES[case]
    got, want = fn(hy), fn(torch)
    assert _name(got.dtype) == _name(want.dtype), f"{case} under {default}"
    assert tuple(got.shape) == tuple(want.shape)


@pytest.mark.parametrize("default", FLOATS)
def test_factory_values_under_each_default(default, restore_default):
    _both(default)
    np.testing.assert_allclose(hy.linspace(0, 1, 5).float().numpy(), torch.linspace(0, 1, 5).float().numpy(),
                               rtol=1e-2)
    np.testing.assert_allclose(hy.logspace(0, 2, 3).float().numpy(), torch.logspace(0, 2, 3).float().numpy(),
                               rtol=1e-2)
    np.testing.assert_array_equal(hy.arange(0, 1, 0.25).float().numpy(), torch.arange(0, 1, 0.25).float().numpy())
    np.testing.assert_array_equal(hy.eye(3).float().numpy(), torch.eye(3).float().numpy())
    r = hy.rand(1000).float().numpy()
    assert 0 <= r.min() and r.max() < 1      # a 16-bit draw keeps only its significand's bits: never 1.0


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_complex_follows_the_default(default, restore_default):
    _both(default)
    for fn in (lambda m: m.tensor(1j), lambda m: m.tensor([1 + 2j, 3.0]), lambda m: m.full((2,), 1j)):
        assert _name(fn(hy).dtype) == _name(fn(torch).dtype)
    i = hy.tensor([1, 2], dtype=hy.int32)
    assert _name((i + 1j).dtype) == _name((torch.tensor([1, 2], dtype=torch.int32) + 1j).dtype)
    f = hy.ones(2, dtype=hy.float32)
    assert (f + 1j).dtype == hy.complex64     # weak: the float32 tensor decides the width



@pytest.mark.parametrize("default", FLOATS)
def test_one_default_complex_dtype_for_factories_promotion_and_fft(default, restore_default):
    """The core's default complex dtype (complex128 under float64, else complex64) is the one rule: the
    factories, promotion of Python complex numbers and the transforms of integer inputs all give it."""
    hy.set_default_dtype(getattr(hy, default))
    want = hy.complex128 if default == "float64" else hy.complex64
    assert hy._C.get_default_complex_dtype() == want
    assert hy.tensor(1j).dtype == hy.full((2,), 1j).dtype == want
    assert (hy.tensor([1, 2]) + 1j).dtype == want
    assert hy.fft.fft(hy.tensor([1, 2, 3, 4])).dtype == want


PROMOTIONS = {
    "int32 + float": lambda m, i, f: i + 2.5,
    "float + int32": lambda m, i, f: 2.5 * i,
    "bool + float": lambda m, i, f: (i > 1) + 1.5,
    "int32 / int32": lambda m, i, f: i / i,
    "int32 / int": lambda m, i, f: i / 2,
    "sqrt(int32)": lambda m, i, f: m.sqrt(i),
    "exp(bool)": lambda m, i, f: m.exp(i > 1),
    "float32 * float": lambda m, i, f: f * 2.5,
    "float32 + 0-d float64": lambda m, i, f: f + m.tensor(1.0, dtype=m.float64),
    "int32 + 0-d float32": lambda m, i, f: i + m.tensor(1.0, dtype=m.float32),
    "int32 + int": lambda m, i, f: i + 3,
    "mean(float32)": lambda m, i, f: f.mean(),
}


@pytest.mark.parametrize("default", FLOATS)
@pytest.mark.parametrize("case", list(PROMOTIONS))
def test_promotion_matches_torch(case, default, restore_default):
    _both(default)
    fn = PROMOTIONS[case]
    got = fn(hy, hy.tensor([1, 2], dtype=hy.int32), hy.ones(2, dtype=hy.float32))
    want = fn(torch, torch.tensor([1, 2], dtype=torch.int32), torch.ones(2, dtype=torch.float32))
    assert _name(got.dtype) == _name(want.dtype), f"{case} under {default}"
    np.testing.assert_allclose(got.float().numpy(), want.float().numpy(), rtol=1e-2)


def test_fft_of_integers_and_frequencies(restore_default):
    _both("float64")
    x = hy.tensor([1, 2, 3, 4])
    assert hy.fft.fft(x).dtype == hy.complex128 == getattr(hy, _name(torch.fft.fft(torch.tensor([1, 2, 3, 4])).dtype))
    assert hy.fft.fftfreq(4).dtype == hy.float64 and hy.fft.rfftfreq(4).dtype == hy.float64
    assert hy.finfo().dtype == "float64" == torch.finfo().dtype


LAYERS = {
    "Linear": lambda m: m.nn.Linear(3, 4),
    "Conv2d": lambda m: m.nn.Conv2d(2, 3, 3),
    "Conv1d": lambda m: m.nn.Conv1d(2, 3, 3),
    "ConvTranspose2d": lambda m: m.nn.ConvTranspose2d(2, 3, 3),
    "BatchNorm1d": lambda m: m.nn.BatchNorm1d(3),
    "LayerNorm": lambda m: m.nn.LayerNorm(3),
    "GroupNorm": lambda m: m.nn.GroupNorm(1, 3),
    "Embedding": lambda m: m.nn.Embedding(5, 2),
    "LSTM": lambda m: m.nn.LSTM(3, 4),
    "MultiheadAttention": lambda m: m.nn.MultiheadAttention(4, 2),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layers_take_the_default_dtype(name, restore_default):
    _both("float64")
    mine, theirs = LAYERS[name](hy), LAYERS[name](torch)
    got = {k: _name(v.dtype) for k, v in mine.state_dict().items()}
    want = {k: _name(v.dtype) for k, v in theirs.state_dict().items()}
    assert got == want and "float64" in got.values()
    hy.set_default_dtype(hy.float32)                 # restoring float32 restores float32 layers
    assert all(p.dtype == hy.float32 for p in LAYERS[name](hy).parameters())


def test_a_training_script_runs_in_float64_and_float32_again(restore_default):
    def script():
        hy.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        opt = hy.optim.SGD(model.parameters(), lr=0.1)
        x, y = hy.randn(16, 4), hy.rand(16, 1)
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return model, x, loss
    hy.set_default_dtype(hy.float64)
    model, x, loss = script()
    assert x.dtype == loss.dtype == hy.float64
    assert all(p.dtype == hy.float64 and p.grad.dtype == hy.float64 for p in model.parameters())
    hy.set_default_dtype(hy.float32)
    model, x, loss = script()
    assert x.dtype == loss.dtype == hy.float32
    assert all(p.dtype == hy.float32 for p in model.parameters())


def test_the_default_is_process_wide_not_per_thread(restore_default):
    hy.set_default_dtype(hy.float64)
    seen = {}
    t = threading.Thread(target=lambda: seen.update(dtype=hy.get_default_dtype(), made=hy.zeros(1).dtype))
    t.start()
    t.join()
    assert seen == {"dtype": hy.float64, "made": hy.float64}

    def set_in_thread():
        hy.set_default_dtype(hy.float16)
    t = threading.Thread(target=set_in_thread)
    t.start()
    t.join()
    assert hy.get_default_dtype() == hy.float16


def test_repr_names_the_non_default_float(restore_default):
    _both("float64")
    assert repr(hy.tensor([1.5])) == repr(torch.tensor([1.5]))
    assert repr(hy.tensor([1.5], dtype=hy.float32)) == repr(torch.tensor([1.5], dtype=torch.float32)).replace(
        "torch.", "hyflow.")
    assert repr(hy.tensor([1j])) == repr(torch.tensor([1j]))


def test_compile_retraces_when_the_default_changes(restore_default):
    f = hy.compile(lambda x: x / 2 + hy.ones(3))
    x = hy.tensor([1, 2, 3])
    assert f(x).dtype == hy.float32
    hy.set_default_dtype(hy.float64)
    assert f(x).dtype == hy.float64
    hy.set_default_dtype(hy.float32)
    assert f(x).dtype == hy.float32


def test_set_default_tensor_type(restore_default):
    with pytest.warns(UserWarning, match="deprecated"):
        hy.set_default_tensor_type("torch.DoubleTensor")
    assert hy.get_default_dtype() == hy.float64
    with pytest.warns(UserWarning):
        hy.set_default_tensor_type("hyflow.FloatTensor")
    assert hy.get_default_dtype() == hy.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="only floating-point types"):
            hy.set_default_tensor_type("torch.IntTensor")
        with pytest.raises(TypeError, match="unknown tensor type"):
            hy.set_default_tensor_type("numpy.DoubleTensor")
        with pytest.raises(TypeError, match="tensor type's name"):
            hy.set_default_tensor_type(hy.float64)
    assert hy.get_default_dtype() == hy.float32
