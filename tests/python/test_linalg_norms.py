"""hy.linalg's norms (vector_norm, matrix_norm, norm) and products (matrix_power, cross, vecdot, multi_dot,
matmul) against torch.linalg: ord/dim/keepdim/dtype semantics, batches, empty inputs and errors."""
import math

import numpy as np
import pytest

import hyflow as hy

torch = pytest.importorskip("torch")

needs_lapack = pytest.mark.skipif(not hy.build_info()["lapack"], reason="this build has no LAPACK")


def _rand(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _pair(a):
    return hy.tensor(a), torch.from_numpy(np.array(a))


def _close(got, want, rtol=1e-10, atol=1e-10):
    w = want.detach().numpy()
    g = got.numpy()
    assert g.shape == w.shape, (g.shape, w.shape)
    assert got.dtype.name == str(want.dtype).replace("torch.", "")
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


@pytest.mark.parametrize("ord", [2, 1, 0, 3.5, -1, math.inf, -math.inf, 0.5])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (-1, False), ((0, 2), True), (1, True)])
def test_vector_norm_matches_torch(ord, dim, keepdim):
    h, t = _pair(_rand(2, 3, 4))
    _close(hy.linalg.vector_norm(h, ord, dim, keepdim), torch.linalg.vector_norm(t, ord, dim, keepdim))


def test_vector_norm_dtype_and_0d_and_errors():
    h, t = _pair(_rand(3, 4, dtype=np.float32))
    _close(hy.linalg.vector_norm(h, dtype=hy.float64), torch.linalg.vector_norm(t, dtype=torch.float64), 1e-6, 1e-6)
    h0, t0 = _pair(np.array(-2.5))
    for ord in (2, 0, math.inf):
        _close(hy.linalg.vector_norm(h0, ord), torch.linalg.vector_norm(t0, ord))
    with pytest.raises(TypeError, match="ord must be a number"):
        hy.linalg.vector_norm(h, "fro")
    with pytest.raises(TypeError, match="floating point"):
        hy.linalg.vector_norm(hy.ones(3, dtype=hy.int64))
    with pytest.raises(IndexError, match="out of range"):
        hy.linalg.vector_norm(h, dim=5)
    with pytest.raises(ValueError, match="more than once"):
        hy.linalg.vector_norm(h, dim=(1, -1))
    _close(hy.linalg.vector_norm(hy.zeros(0, 3), math.inf, 1), torch.linalg.vector_norm(torch.zeros(0, 3), math.inf, 1))
    with pytest.raises(ValueError):
        hy.linalg.vector_norm(hy.zeros(0, 3), math.inf)


@needs_lapack
@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
@pytest.mark.parametrize("shape,dim", [((3, 4), (-2, -1)), ((2, 5, 3), (-2, -1)), ((2, 5, 3), (2, 0)),
                                       ((4, 3, 2), (0, 1)), ((1, 1), (0, 1))])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm_matches_torch(ord, shape, dim, keepdim):
    h, t = _pair(_rand(*shape))
    _close(hy.linalg.matrix_norm(h, ord, dim, keepdim), torch.linalg.matrix_norm(t, ord, dim, keepdim))


@needs_lapack
def test_matrix_norm_errors_and_empty_batches():
    h = hy.ones(3, 3)
    with pytest.raises(ValueError, match="order 3 not supported"):
        hy.linalg.matrix_norm(h, 3)
    with pytest.raises(ValueError, match="'abc' not supported"):
        hy.linalg.matrix_norm(h, "abc")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        hy.linalg.matrix_norm(hy.ones(3))
    with pytest.raises(ValueError, match="2-tuple"):
        hy.linalg.matrix_norm(h, dim=0)
    with pytest.raises(ValueError, match="must be different"):
        hy.linalg.matrix_norm(h, dim=(1, -1))
    for ord in ("fro", "nuc", 2, 1, math.inf):
        _close(hy.linalg.matrix_norm(hy.zeros(0, 3, 3, dtype=hy.float64), ord),
               torch.linalg.matrix_norm(torch.zeros(0, 3, 3, dtype=torch.float64), ord))
    _close(hy.linalg.matrix_norm(hy.zeros(3, 0, dtype=hy.float64), "nuc"),
           torch.linalg.matrix_norm(torch.zeros(3, 0, dtype=torch.float64), "nuc"))


@needs_lapack
def test_norm_dispatches_like_torch():
    h, t = _pair(_rand(3, 4))
    v, tv = _pair(_rand(5))
    b, tb = _pair(_rand(2, 3, 4))
    cases = [((h,), {}, (t,), {}), ((h, "nuc"), {}, (t, "nuc"), {}), ((h, 2), {}, (t, 2), {}),
             ((v, 1), {}, (tv, 1), {}), ((v, math.inf), {}, (tv, math.inf), {}), ((b,), {}, (tb,), {}),
             ((b, 3), {"dim": 1}, (tb, 3), {"dim": 1}), ((b, -1), {"dim": (0, 2)}, (tb, -1), {"dim": (0, 2)}),
             ((b, None), {"dim": (1, 2), "keepdim": True}, (tb, None), {"dim": (1, 2), "keepdim": True})]
    for args, kwargs, targs, tkwargs in cases:
        _close(hy.linalg.norm(*args, **kwargs), torch.linalg.norm(*targs, **tkwargs))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        hy.linalg.norm(b, 2)
    with pytest.raises(ValueError, match="matrix norm"):
        hy.linalg.norm(v, "fro")


@needs_lapack
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -3])
def test_matrix_power_matches_torch(n):
    a = _rand(2, 3, 3) + 3 * np.eye(3)
    h, t = _pair(a)
    _close(hy.linalg.matrix_power(h, n), torch.linalg.matrix_power(t, n), 1e-9, 1e-9)
    p = hy.linalg.matrix_power(h, 1)
    assert p is not h  # a new tensor, as torch's
    with pytest.raises(TypeError, match="n must be an int"):
        hy.linalg.matrix_power(h, 2.0)


def test_cross_vecdot_multi_dot_matmul_match_torch():
    a, ta = _pair(_rand(1, 4, 3))
    b, tb = _pair(_rand(2, 1, 3, seed=1))
    _close(hy.linalg.cross(a, b), torch.linalg.cross(ta, tb))
    with pytest.raises(ValueError, match="same number of dimensions"):  # as torch: no broadcast across ranks
        hy.linalg.cross(a[0], b)
    c, tc = _pair(_rand(3, 5))
    d, td = _pair(_rand(3, 5, seed=2))
    _close(hy.linalg.cross(c, d, dim=0), torch.linalg.cross(tc, td, dim=0))
    with pytest.raises(ValueError, match="must have length 3"):
        hy.linalg.cross(c, d)
    _close(hy.linalg.vecdot(a, b), torch.linalg.vecdot(ta, tb))
    _close(hy.linalg.vecdot(c, d, dim=0), torch.linalg.vecdot(tc, td, dim=0))
    ms = [_rand(1, 4), _rand(4, 30, seed=1), _rand(30, 2, seed=2), _rand(2, 7, seed=3)]
    hs = [hy.tensor(m) for m in ms]
    ts = [torch.from_numpy(m) for m in ms]
    _close(hy.linalg.multi_dot(hs), torch.linalg.multi_dot(ts))
    v1, v2 = _rand(4), _rand(7, seed=4)
    _close(hy.linalg.multi_dot([hy.tensor(v1)] + hs[1:] + [hy.tensor(v2)]),
           torch.linalg.multi_dot([torch.from_numpy(v1)] + ts[1:] + [torch.from_numpy(v2)]))
    with pytest.raises(ValueError, match="at least 2 tensors"):
        hy.linalg.multi_dot([hs[0]])
    with pytest.raises(ValueError, match="cannot be multiplied"):
        hy.linalg.multi_dot([hs[0], hs[2]])
    with pytest.raises(ValueError, match="must be 2-D"):
        hy.linalg.multi_dot([hs[0], hy.tensor(v1), hs[1]])
    _close(hy.linalg.matmul(hs[0], hs[1]), torch.linalg.matmul(ts[0], ts[1]))


def test_the_namespace_is_torchs():
    public = {n for n in dir(torch.linalg) if not n.startswith("_")}
    ours = set(hy.linalg.__all__)
    assert ours <= public | {"LinAlgError"}, ours - public
    for name in ours:
        assert callable(getattr(hy.linalg, name))
