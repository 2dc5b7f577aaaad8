"""hy.autocast: each op follows its op-table `autocast` policy inside a region (csrc/amp/autocast.h)."""
import threading
import warnings

import numpy as np
import pytest

import hyflow as hy

torch = pytest.importorskip("torch")


def f32(*shape, seed=0):
    return hy.randn(*shape, generator=hy.Generator(seed=seed))


@pytest.mark.parametrize("low", [hy.bfloat16, hy.float16])
def test_lower_policy_ops_run_in_the_region_dtype(low):
    a, b = f32(4, 5), f32(5, 3, seed=1)
    with hy.autocast(dtype=low):
        assert (a @ b).dtype == low
        assert hy.mm(a, b).dtype == low
        assert hy.bmm(a.unsqueeze(0), b.unsqueeze(0)).dtype == low
    assert (a @ b).dtype == hy.float32, "the policy must end with the region"


def test_lower_policy_values_are_the_product_of_the_rounded_inputs():
    a, b = f32(16, 32), f32(32, 8, seed=1)
    with hy.autocast(dtype=hy.bfloat16):
        got = (a @ b).float().numpy()
    want = (a.to(hy.bfloat16).float().numpy() @ b.to(hy.bfloat16).float().numpy())
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-2)


def test_fp32_policy_upcasts_low_precision_inputs():
    x = f32(8).to(hy.bfloat16)
    with hy.autocast(dtype=hy.bfloat16):
        assert x.sum().dtype == hy.float32
        assert x.exp().dtype == hy.float32
        assert hy.softmax(x, 0).dtype == hy.float32
        assert f32(8).sum().dtype == hy.float32


def test_promote_policy_takes_the_widest_float_input():
    lo, hi = f32(4).to(hy.bfloat16), f32(4, seed=1)
    with hy.autocast(dtype=hy.bfloat16):
        assert (lo + hi).dtype == hy.float32
        assert (lo + lo).dtype == hy.bfloat16
        assert hy.cat([lo, hi]).dtype == hy.float32
        assert (lo * 2.5).dtype == hy.bfloat16, "a Python number takes no part in the promotion"


def test_float64_and_integer_inputs_are_left_alone():
    d = hy.randn(3, 3, dtype=hy.float64)
    i = hy.arange(9).reshape([3, 3])
    with hy.autocast(dtype=hy.bfloat16):
        assert (d @ d).dtype == hy.float64
        assert (i @ i).dtype == hy.int64
        assert (i + i).dtype == hy.int64


def test_out_argument_keeps_the_callers_dtype():
    a, b = f32(4).to(hy.bfloat16), f32(4, seed=1)
    out = hy.empty(4, dtype=hy.float32)
    with hy.autocast(dtype=hy.bfloat16):
        hy.add(b, b, out=out)
        assert out.dtype == hy.float32
        b2 = b.clone()
        b2.add_(a)  # in place: the tensor written keeps its dtype
        assert b2.dtype == hy.float32


def test_disabled_region_inside_an_enabled_one_and_nesting():
    a = f32(4, 4)
    with hy.autocast(dtype=hy.bfloat16):
        with hy.autocast(enabled=False):
            assert (a @ a).dtype == hy.float32
            assert not hy.is_autocast_enabled()
        with hy.autocast(dtype=hy.float16):
            assert (a @ a).dtype == hy.float16
            assert hy.get_autocast_dtype() == hy.float16
        assert (a @ a).dtype == hy.bfloat16
    assert hy._C._amp.region_depth() == 0


def test_region_closes_when_its_body_raises():
    with pytest.raises(KeyError):
        with hy.autocast():
            raise KeyError("x")
    assert hy._C._amp.region_depth() == 0 and not hy.is_autocast_enabled()


def test_decorator_form():
    @hy.autocast(dtype=hy.bfloat16)
    def f(a):
        return a @ a

    assert f(f32(3, 3)).dtype == hy.bfloat16
    assert not hy.is_autocast_enabled()


def test_regions_are_thread_local():
    seen = []
    with hy.autocast():
        t = threading.Thread(target=lambda: seen.append((f32(2, 2) @ f32(2, 2)).dtype))
        t.start()
        t.join()
    assert seen == [hy.float32]


def test_bad_arguments_raise_naming_them():
    with pytest.raises(ValueError, match="dtype"):
        hy.autocast(dtype=hy.float32)
    with pytest.raises(TypeError, match="dtype"):
        hy.autocast(dtype="bfloat16")
    with pytest.raises(ValueError, match="device_type"):
        hy.autocast("tpu")
    with pytest.raises(TypeError, match="enabled"):
        hy.autocast(enabled=1)
    with pytest.raises(RuntimeError, match="exit without"):
        hy._C._amp.pop_region()


def test_cuda_region_without_cuda_warns_and_is_disabled():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with hy.autocast("cuda"):
            assert (f32(2, 2) @ f32(2, 2)).dtype == hy.float32
    assert any("CUDA is not available" in str(x.message) for x in w)


# ---- autograd ----
def test_gradients_come_back_in_the_parameters_dtype():
    w = f32(5, 3).requires_grad_()
    x = f32(4, 5, seed=1)
    with hy.autocast(dtype=hy.bfloat16):
        y = x @ w
        assert y.dtype == hy.bfloat16
        loss = y.float().square().mean()
    loss.backward()
    assert w.grad.dtype == hy.float32
    want = torch.autocast("cpu", dtype=torch.bfloat16)
    tw = torch.tensor(w.detach().numpy(), requires_grad=True)
    with want:
        ty = torch.tensor(x.numpy()) @ tw
    ty.float().square().mean().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=2e-2, atol=1e-3)


def test_backward_inside_the_region_runs_in_the_forward_dtypes():
    w = f32(5, 3).requires_grad_()
    x = f32(4, 5, seed=1)
    with hy.autocast(dtype=hy.bfloat16):
        loss = (x @ w).float().square().mean()
        loss.backward()
    g_inside = w.grad.numpy().copy()
    w.grad = None
    with hy.autocast(dtype=hy.bfloat16):
        loss = (x @ w).float().square().mean()
    loss.backward()
    np.testing.assert_array_equal(g_inside, w.grad.numpy())


# ---- the weight-cast cache ----
def test_weight_cast_is_made_once_per_region_and_dropped_at_exit():
    w = f32(4, 4).requires_grad_()
    x = f32(2, 4, seed=1)
    with hy.autocast():
        x @ w
        x @ w
        assert hy._C._amp.cache_size() == 1
    assert hy._C._amp.cache_size() == 0


def test_cached_cast_is_refreshed_after_an_in_place_update():
    w = f32(3, 3).requires_grad_()
    x = hy.eye(3)
    with hy.autocast():
        before = (x @ w).float().detach().numpy()
        with hy.no_grad():
            w.add_(1.0)
        after = (x @ w).float().detach().numpy()
    np.testing.assert_allclose(after, before + 1.0, atol=2e-2)


def test_cache_disabled_and_non_leaf_tensors_are_not_cached():
    w = f32(3, 3).requires_grad_()
    with hy.autocast(cache_enabled=False):
        w @ w
        assert hy._C._amp.cache_size() == 0
    with hy.autocast():
        (w * 2) @ f32(3, 3)
        assert hy._C._amp.cache_size() == 0


# ---- layers ----
def test_linear_and_conv_run_in_the_region_dtype_like_torch():
    lin = hy.nn.Linear(6, 4)
    tlin = torch.nn.Linear(6, 4)
    tlin.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in lin.state_dict().items()})
    x = f32(2, 3, 6)
    with hy.autocast(dtype=hy.bfloat16):
        y = lin(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ty = tlin(torch.tensor(x.numpy()))
    assert y.dtype == hy.bfloat16 and ty.dtype == torch.bfloat16
    np.testing.assert_allclose(y.float().detach().numpy(), ty.float().detach().numpy(), rtol=2e-2, atol=2e-2)
    conv = hy.nn.Conv2d(2, 3, 3)
    with hy.autocast(dtype=hy.bfloat16):
        assert conv(f32(1, 2, 6, 6)).dtype == hy.bfloat16


def test_mlp_trains_under_autocast():
    gen = hy.Generator(seed=3)
    model = hy.nn.Sequential(hy.nn.Linear(8, 32), hy.nn.ReLU(), hy.nn.Linear(32, 1))
    opt = hy.optim.SGD(model.parameters(), lr=0.05)
    x = hy.randn(64, 8, generator=gen)
    y = x.sum(dim=1, keepdim=True)
    losses = []
    for _ in range(60):
        with hy.autocast(dtype=hy.bfloat16):
            loss = hy.nn.functional.mse_loss(model(x).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.dtype == hy.float32 for p in model.parameters())
    assert losses[-1] < 0.2 * losses[0]


def test_a_compiled_function_captures_the_casts():
    w = f32(4, 4)

    @hy.compile
    def f(x):
        return (x @ w).relu()

    x = f32(2, 4, seed=1)
    with hy.autocast(dtype=hy.bfloat16):
        first, second = f(x), f(x)
    assert first.dtype == second.dtype == hy.bfloat16
    np.testing.assert_array_equal(first.float().numpy(), second.float().numpy())


def test_a_compiled_function_retraces_when_the_autocast_region_changes():
    w = f32(4, 4)

    @hy.compile
    def f(x):
        return x @ w

    x = f32(2, 4, seed=1)
    assert f(x).dtype == hy.float32
    with hy.autocast(dtype=hy.bfloat16):
        assert f(x).dtype == hy.bfloat16
        with hy.autocast(dtype=hy.float16):
            assert f(x).dtype == hy.float16
    assert f(x).dtype == hy.float32
