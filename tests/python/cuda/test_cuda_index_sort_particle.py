"""CUDA advanced indexing (index, index_put_, nonzero, masked_select and t[...] / t[...] = v), sorting
(sort, argsort, topk) and the cloud-in-cell transfers beyond the OpInfo differential (test_cuda_ops.py):
sizes that cross block boundaries, non-contiguous and empty inputs, repeated indices, the errors, the
Python indexing paths with CPU indices on a CUDA tensor, and gradients. Each test compares with the CPU."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close


def exact(gpu, cpu):
    assert gpu.device == "cuda:0"
    assert gpu.dtype == cpu.dtype
    assert gpu.shape == cpu.shape
    assert gpu.cpu().tolist() == cpu.tolist()


# --- advanced indexing ----------------------------------------------------------------------------------

def test_getitem_and_setitem_with_cpu_indices_on_a_cuda_tensor():
    rng = np.random.default_rng(0)
    a = hy.from_numpy(rng.standard_normal((6, 7, 5)).astype(np.float32))
    g = a.cuda()
    for index in ([0, 5, -1], (slice(None), [1, 1, 3]), ([[0], [2]], slice(1, 4), [4, -5]), (a > 0,),
                  (np.array([2, 3]), 1), (hy.tensor([1, 0]).cuda(), slice(None), hy.tensor([0, 4]).cuda()),
                  (a[:, 0, 0] > 0,), (Ellipsis, [0, 2])):
        exact(g[index], a[index])
    want, got = a.clone(), g.clone()
    want[[0, 2], 1:3] = 7.0
    got[[0, 2], 1:3] = 7.0
    exact(got, want)
    v = hy.from_numpy(rng.standard_normal((2, 5)).astype(np.float32))
    want[[1, 4], 2] = v
    got[[1, 4], 2] = v  # a CPU value into a CUDA tensor
    exact(got, want)
    want[a > 1] = -1.0
    got[a > 1] = -1.0
    exact(got, want)


@pytest.mark.parametrize("dtype", [hy.float32, hy.float64, hy.float16, hy.bfloat16, hy.int32, hy.int64, hy.bool])
def test_index_put_repeats_match_the_cpu_bit_for_bit(dtype):
    # Without accumulate the last value of a repeated index wins (index order, as on the CPU); with it,
    # repeats are summed in index order: both deterministic, run after run.
    rng = np.random.default_rng(1)
    self_ = hy.from_numpy(rng.standard_normal((40, 3)) * 10).to(dtype)
    idx = hy.from_numpy(rng.integers(-40, 40, 5000))
    vals = hy.from_numpy(rng.standard_normal((5000, 3)) * 10).to(dtype)
    for accumulate in (False, True):
        want = hy.index_put_(self_.clone(), [idx], vals, accumulate)
        for _ in range(2):
            exact(hy.index_put_(self_.cuda(), [idx.cuda()], vals.cuda(), accumulate), want)


def test_index_put_into_a_non_contiguous_view_with_broadcast_values():
    base = hy.arange(60, dtype=hy.float64).reshape(5, 12)
    want, got = base.clone(), base.cuda()
    i, j = hy.tensor([[0], [3]]), hy.tensor([1, 4, 1])
    v = hy.tensor([10.0, 20.0, 30.0])
    hy.index_put_(want.t(), [j, i], v)  # (12, 5) view: two index tensors broadcast to (2, 3)
    hy.index_put_(got.t(), [j.cuda(), i.cuda()], v.cuda())
    exact(got, want)
    hy.index_put_(want[:, ::2], [hy.tensor([4, 0, 4])], hy.tensor(-1.0), True)
    hy.index_put_(got[:, ::2], [hy.tensor([4, 0, 4]).cuda()], hy.tensor(-1.0), True)  # a 0-d CPU value
    exact(got, want)


def test_index_large_and_non_contiguous():
    rng = np.random.default_rng(2)
    base = hy.from_numpy(rng.standard_normal((300, 700)).astype(np.float32))
    a, g = base.t(), base.cuda().t()  # (700, 300), transposed on both devices
    i = hy.from_numpy(rng.integers(-700, 700, (50, 40)))
    j = hy.from_numpy(rng.integers(0, 300, (40,)))
    exact(hy.ops.index(g, [i.cuda(), j.cuda()]), hy.ops.index(a, [i, j]))
    exact(hy.ops.index(g, [i.cuda()]), hy.ops.index(a, [i]))
    out = hy.empty(50, 40, dtype=hy.float64, device="cuda")  # out= of another dtype
    hy.ops.index(g, [i.cuda(), j.cuda()], out=out)
    exact(out, hy.ops.index(a, [i, j]).to(hy.float64))


def test_bad_indices_raise_index_error_and_write_nothing():
    x = hy.zeros(4, 3, device="cuda")
    with pytest.raises(IndexError, match="index_put_: index 4 is out of bounds for dim 0 with size 4"):
        hy.index_put_(x, [hy.tensor([0, 4, 9]).cuda()], hy.ones(3, 3, device="cuda"))
    with pytest.raises(IndexError, match="index_put_: index -4 is out of bounds for dim 1 with size 3"):
        hy.index_put_(x, [hy.tensor([0]).cuda(), hy.tensor([-4]).cuda()], hy.ones(1, device="cuda"), True)
    assert x.cpu().tolist() == [[0.0] * 3] * 4
    with pytest.raises(IndexError, match="index: index -5 is out of bounds for dim 0 with size 4"):
        hy.ops.index(x, [hy.tensor([1, -5]).cuda()])
    with pytest.raises(IndexError, match="out of bounds"):
        x[[0, 7]]  # CPU indices are checked on the host, as for a CPU tensor
    with pytest.raises(IndexError, match="out of bounds"):
        x[hy.tensor([0, 7]).cuda()]  # device indices by the kernel
    with pytest.raises(TypeError, match="int64 or int32"):
        hy.ops.index(x, [hy.tensor([0.0]).cuda()])
    with pytest.raises(ValueError, match="cannot be broadcast"):
        hy.index_put_(x, [hy.tensor([0, 1]).cuda()], hy.ones(3, 2, device="cuda"))


def test_index_gradient_on_cuda():
    rng = np.random.default_rng(3)
    a = hy.from_numpy(rng.standard_normal((9, 4)))
    idx = hy.tensor([0, 3, 3, 8, 0, 3])
    grads = []
    for dev in ("cpu", "cuda"):
        x = a.to(dev).requires_grad_(True)
        (x[idx.to(dev)] * hy.arange(24, dtype=hy.float64).reshape(6, 4).to(dev)).sum().backward()
        grads.append(x.grad)
    exact(grads[1], grads[0])


@pytest.mark.parametrize("shape", [(), (0,), (1,), (2049,), (300, 400), (3, 0, 2), (2, 3, 4, 5, 6)])
def test_nonzero_and_masked_select_match_the_cpu(shape):
    rng = np.random.default_rng(4)
    a = hy.from_numpy(np.where(rng.random(shape) < 0.3, 0.0, rng.standard_normal(shape)).astype(np.float32))
    exact(hy.nonzero(a.cuda()), hy.nonzero(a))
    m = a > 0
    exact(hy.masked_select(a.cuda(), m.cuda()), hy.masked_select(a, m))
    if len(shape) >= 2:
        t, tg = a.transpose(0, 1), a.cuda().transpose(0, 1)  # non-contiguous
        exact(hy.nonzero(tg), hy.nonzero(t))
        exact(hy.masked_select(tg, tg > 0), hy.masked_select(t, t > 0))


def test_nonzero_of_nan_and_negative_zero_and_all_false_masks():
    a = hy.tensor([0.0, -0.0, float("nan"), 1.0, 0.0])
    exact(hy.nonzero(a.cuda()), hy.nonzero(a))
    z = hy.zeros(1000, device="cuda")
    assert hy.nonzero(z).shape == (0, 1)
    assert hy.masked_select(z, z > 1).shape == (0,)
    # A 0-d CPU mask joins a CUDA tensor (broadcast).
    exact(hy.masked_select(hy.arange(5.0).cuda(), hy.tensor(True)), hy.arange(5.0))


def test_masked_select_gradient_on_cuda():
    a = hy.arange(12.0).reshape(3, 4)
    m = hy.tensor([True, False, True, True])
    grads = []
    for dev in ("cpu", "cuda"):
        x = a.to(dev).requires_grad_(True)
        (hy.masked_select(x, m.to(dev)) ** 2).sum().backward()
        grads.append(x.grad)
    exact(grads[1], grads[0])


# --- sorting ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [hy.float32, hy.float64, hy.float16, hy.bfloat16, hy.int32, hy.int64, hy.bool])
@pytest.mark.parametrize("shape,dim", [((100000,), 0), ((7, 30000), 1), ((3000, 33), 1), ((33, 3000), 0),
                                       ((4, 5, 6), 1)])
def test_sort_matches_the_cpu_exactly(dtype, shape, dim):
    # Few distinct values, so ties are everywhere: the indices must still equal the CPU's (stable).
    rng = np.random.default_rng(5)
    a = hy.from_numpy(rng.integers(-3, 4, shape).astype(np.float64)).to(dtype)
    for descending in (False, True):
        want = hy.sort(a, dim, descending)
        got = hy.sort(a.cuda(), dim, descending)
        exact(got.values, want.values)
        exact(got.indices, want.indices)
        exact(hy.argsort(a.cuda(), dim, descending), want.indices)


@pytest.mark.parametrize("dtype", [hy.float32, hy.float64, hy.float16, hy.bfloat16])
def test_sort_orders_nan_inf_and_signed_zeros_like_the_cpu(dtype):
    vals = [0.0, -0.0, float("nan"), float("inf"), -float("inf"), -1.5, 2.0, -0.0, float("nan"), 0.0, 1e-30]
    base = hy.tensor(vals * 50, dtype=hy.float64).to(dtype).reshape(10, 55)
    a, g = base.t(), base.cuda().t()  # sorted along a non-contiguous dim
    for descending in (False, True):
        want, got = hy.sort(a, 0, descending), hy.sort(g, 0, descending)
        exact(got.indices, want.indices)
        # values are the input's own elements (a -0.0 stays -0.0): compare their bits through float64
        assert np.array_equal(np.signbit(got.values.cpu().to(hy.float64).numpy()),
                              np.signbit(want.values.to(hy.float64).numpy()))


def test_topk_matches_the_cpu():
    rng = np.random.default_rng(6)
    a = hy.from_numpy(rng.integers(0, 50, (64, 5000)).astype(np.float32))
    for k, dim, largest in ((1, 1, True), (17, 1, False), (64, 0, True), (0, 1, True), (5000, 1, False)):
        want, got = hy.topk(a, k, dim, largest), hy.topk(a.cuda(), k, dim, largest)
        exact(got.values, want.values)
        exact(got.indices, want.indices)


def test_sort_edge_cases_and_errors():
    exact(hy.sort(hy.tensor(3.5).cuda()).values, hy.sort(hy.tensor(3.5)).values)
    exact(hy.sort(hy.tensor(3.5).cuda()).indices, hy.sort(hy.tensor(3.5)).indices)
    exact(hy.sort(hy.zeros(0, 4, device="cuda"), 0).indices, hy.sort(hy.zeros(0, 4), 0).indices)
    exact(hy.topk(hy.zeros(3, 0, device="cuda"), 0).values, hy.topk(hy.zeros(3, 0), 0).values)
    with pytest.raises(RuntimeError, match="out of range"):
        hy.topk(hy.zeros(3, device="cuda"), 4)
    with pytest.raises(RuntimeError, match="expected k >= 0"):
        hy.topk(hy.zeros(3, device="cuda"), -1)
    with pytest.raises(IndexError, match="sort: dim 2 is out of range"):
        hy.sort(hy.zeros(3, 3, device="cuda"), 2)


def test_sort_gradient_on_cuda():
    rng = np.random.default_rng(7)
    a = hy.from_numpy(rng.standard_normal((5, 40)))
    grads = []
    for dev in ("cpu", "cuda"):
        x = a.to(dev).requires_grad_(True)
        v = hy.topk(x, 7, 1).values
        (v * hy.arange(35, dtype=hy.float64).reshape(5, 7).to(dev)).sum().backward()
        grads.append(x.grad)
    exact(grads[1], grads[0])


# --- cloud-in-cell transfers --------------------------------------------------------------------------------

@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cic_transfers_match_the_cpu(periodic, dtype):
    # Many particles per node (atomics contend), positions on and near node boundaries.
    rng = np.random.default_rng(8)
    n, dx = 64, 0.5
    x = rng.uniform(-n * dx, 2 * n * dx, 400_000) if periodic else rng.uniform(0, (n - 1) * dx, 400_000)
    x = np.concatenate([x, np.arange(n) * dx])  # every node exactly
    pos = hy.from_numpy(x.astype(dtype))
    w = hy.from_numpy(rng.uniform(0.5, 1.5, x.size).astype(dtype))
    field = hy.from_numpy(rng.standard_normal(n).astype(dtype))
    tol = {"rtol": 1e-4, "atol": 1e-3} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-9}
    assert_close(hy.ops.deposit_cic(pos.cuda(), w.cuda(), n, dx, periodic).cpu(),
                 hy.ops.deposit_cic(pos, w, n, dx, periodic), **tol)
    # Per-particle results are the CPU's own arithmetic (no atomics): equal to the baseline CPU build.
    assert_close(hy.ops.interp_cic(field.cuda(), pos.cuda(), dx, periodic).cpu(),
                 hy.ops.interp_cic(field, pos, dx, periodic), rtol=1e-6, atol=1e-6)


def test_cic_gradients_on_cuda():
    rng = np.random.default_rng(9)
    x0 = hy.from_numpy(rng.uniform(0.1, 7.9, 1000))
    w0 = hy.from_numpy(rng.uniform(0.5, 1.5, 1000))
    f0 = hy.from_numpy(rng.standard_normal(8))
    got = {}
    for dev in ("cpu", "cuda"):
        x, w, f = (t.to(dev).requires_grad_(True) for t in (x0, w0, f0))
        rho = hy.ops.deposit_cic(x, w, 8)
        ((rho * f).sum() + (hy.ops.interp_cic(f, x) ** 2).sum()).backward()
        got[dev] = (x.grad, w.grad, f.grad)
    for g, c in zip(got["cuda"], got["cpu"]):
        assert g.device == "cuda:0"
        assert_close(g.cpu(), c, rtol=1e-10, atol=1e-10)


def test_cic_particles_outside_the_grid_raise_like_the_cpu():
    pos = hy.tensor([0.5, 9.0, 12.0]).cuda()
    with pytest.raises(ValueError, match=r"deposit_cic: a particle at position 9.* lies outside the .* grid \[0, 3"):
        hy.ops.deposit_cic(pos, hy.ones(3, device="cuda"), 4, 1.0, False)
    with pytest.raises(ValueError, match="interp_cic: a particle at position .*nan"):
        hy.ops.interp_cic(hy.zeros(4, device="cuda"), hy.tensor([0.5, float("nan")]).cuda())
    with pytest.raises(ValueError, match="n_cells must be >= 2"):
        hy.ops.deposit_cic(pos, hy.ones(3, device="cuda"), 1, 1.0, False)
    with pytest.raises(TypeError, match="same dtype"):
        hy.ops.deposit_cic(pos, hy.ones(3, dtype=hy.float64, device="cuda"), 4)
    assert hy.ops.deposit_cic(hy.zeros(0, device="cuda"), hy.zeros(0, device="cuda"), 5).cpu().tolist() == [0.0] * 5
