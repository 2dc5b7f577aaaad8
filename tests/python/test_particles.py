"""Particle-grid transfers (docs/stencils.md, "Particles and grids"): cloud-in-cell deposit and
interpolation against a NumPy reference, their adjointness and gradients, determinism under threads,
index_add's thread independence, and the errors of bad arguments."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import gradcheck


def ref_deposit(x, w, n, dx, periodic):
    g = x / dx
    if periodic:
        g = np.mod(g, n)
    i = np.floor(g).astype(np.int64)
    if not periodic:
        i = np.minimum(i, n - 2)
    f = g - i
    j = (i + 1) % n if periodic else i + 1
    out = np.zeros(n)
    np.add.at(out, i, (1 - f) * w)
    np.add.at(out, j, f * w)
    return out


def ref_interp(field, x, dx, periodic):
    n = field.size
    g = x / dx
    if periodic:
        g = np.mod(g, n)
    i = np.floor(g).astype(np.int64)
    if not periodic:
        i = np.minimum(i, n - 2)
    f = g - i
    j = (i + 1) % n if periodic else i + 1
    return (1 - f) * field[i] + f * field[j]


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_deposit_and_interp_match_numpy(periodic, dtype):
    rng = np.random.default_rng(0)
    n, dx = 16, 0.25
    L = n * dx
    x = rng.uniform(-L, 2 * L, 1000) if periodic else rng.uniform(0, (n - 1) * dx, 1000)
    x = np.append(x, [0.0, (n - 1) * dx])  # both ends of the non-periodic grid
    w = rng.uniform(0.5, 1.5, x.size)
    got = hy.ops.deposit_cic(hy.tensor(x.astype(dtype)), hy.tensor(w.astype(dtype)), n, dx, periodic)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got.numpy(), ref_deposit(x.astype(dtype).astype(np.float64), w, n, dx, periodic),
                               rtol=tol, atol=tol * 10)
    field = rng.standard_normal(n)
    got = hy.ops.interp_cic(hy.tensor(field.astype(dtype)), hy.tensor(x.astype(dtype)), dx, periodic)
    np.testing.assert_allclose(got.numpy(), ref_interp(field, x.astype(dtype).astype(np.float64), dx, periodic),
                               rtol=tol, atol=tol * 10)


def test_deposit_conserves_total_weight_and_is_adjoint_to_interp():
    rng = np.random.default_rng(1)
    x = hy.tensor(rng.uniform(0, 32, 5000))
    w = hy.tensor(rng.uniform(0, 1, 5000))
    rho = hy.ops.deposit_cic(x, w, 32)
    assert abs(rho.sum().item() - w.sum().item()) < 1e-9
    field = hy.tensor(rng.standard_normal(32))
    # <deposit(w), field> == <w, interp(field)>
    lhs = (rho * field).sum().item()
    rhs = (w * hy.ops.interp_cic(field, x)).sum().item()
    assert abs(lhs - rhs) < 1e-9


def test_deposit_is_the_same_at_any_thread_count():
    rng = np.random.default_rng(2)
    x = hy.tensor(rng.uniform(0, 64, 300_000).astype(np.float32))
    w = hy.tensor(rng.uniform(0, 1, 300_000).astype(np.float32))
    before = hy.get_num_threads()
    try:
        hy.set_num_threads(1)
        one = hy.ops.deposit_cic(x, w, 64).numpy()
        hy.set_num_threads(max(2, before))
        many = [hy.ops.deposit_cic(x, w, 64).numpy() for _ in range(3)]
    finally:
        hy.set_num_threads(before)
    for m in many:
        np.testing.assert_array_equal(one, m)


def test_index_add_is_the_same_at_any_thread_count():
    rng = np.random.default_rng(3)
    idx = hy.tensor(rng.integers(0, 10, 20000))
    src = hy.tensor(rng.standard_normal((20000, 64)).astype(np.float32))
    before = hy.get_num_threads()
    try:
        hy.set_num_threads(1)
        one = hy.index_add(hy.zeros(10, 64), 0, idx, src).numpy()
        hy.set_num_threads(max(2, before))
        many = hy.index_add(hy.zeros(10, 64), 0, idx, src).numpy()
    finally:
        hy.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


def test_index_add_in_place_and_torch_semantics():
    torch = pytest.importorskip("torch")
    x = np.arange(12.0).reshape(4, 3)
    src = np.ones((5, 3))
    idx = np.array([0, 2, 2, 3, 0])
    t = hy.tensor(x)
    t.index_add_(0, hy.tensor(idx), hy.tensor(src), alpha=2)
    want = torch.tensor(x).index_add_(0, torch.tensor(idx), torch.tensor(src), alpha=2).numpy()
    np.testing.assert_array_equal(t.numpy(), want)


def test_gradients():
    rng = np.random.default_rng(4)
    x = hy.tensor(rng.uniform(0.1, 7.9, 20)).requires_grad_(True)  # away from node crossings
    w = hy.tensor(rng.uniform(0.5, 1.5, 20)).requires_grad_(True)
    field = hy.tensor(rng.standard_normal(8)).requires_grad_(True)
    assert gradcheck(lambda a, b: hy.ops.deposit_cic(a, b, 8), (x, w))
    assert gradcheck(lambda f, a: hy.ops.interp_cic(f, a), (field, x))
    assert gradcheck(lambda a, b: hy.ops.deposit_cic(a, b, 9, 1.0, False), (x, w))
    assert gradcheck(lambda f, a: hy.ops.interp_cic(f, a, 0.5, True), (field, x))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: hy.ops.deposit_cic(hy.tensor([0.5]), hy.tensor([1.0]), 0), ValueError, "n_cells"),
    (lambda: hy.ops.deposit_cic(hy.tensor([0.5]), hy.tensor([1.0]), 4, -1.0), ValueError, "dx"),
    (lambda: hy.ops.deposit_cic(hy.tensor([9.0]), hy.tensor([1.0]), 4, 1.0, False), ValueError, "outside"),
    (lambda: hy.ops.deposit_cic(hy.tensor([float("nan")]), hy.tensor([1.0]), 4), ValueError, "outside"),
    (lambda: hy.ops.deposit_cic(hy.tensor([0.5, 1.0]), hy.tensor([1.0]), 4), ValueError, "shape"),
    (lambda: hy.ops.deposit_cic(hy.tensor([[0.5]]), hy.tensor([[1.0]]), 4), ValueError, "1-D"),
    (lambda: hy.ops.deposit_cic(hy.tensor([1]), hy.tensor([1]), 4), TypeError, "float32 or float64"),
    (lambda: hy.ops.interp_cic(hy.zeros(4, dtype=hy.float64), hy.tensor([0.5])), TypeError, "same dtype"),
    (lambda: hy.ops.interp_cic(hy.zeros(4), hy.tensor([-0.5]), 1.0, False), ValueError, "outside"),
    (lambda: hy.index_add(hy.zeros(4), 0, hy.tensor([4]), hy.ones(1)), IndexError, "out of range"),
    (lambda: hy.index_add(hy.zeros(4), 0, hy.tensor([0.0]), hy.ones(1)), TypeError, "int64 or int32"),
    (lambda: hy.index_add(hy.zeros(4, 2), 0, hy.tensor([1]), hy.ones(2, 2)), ValueError, "does not match"),
])
def test_bad_arguments_raise_clearly(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
