"""Pickling tensors and parameters: exact copies (dtype, shape, values), requires_grad kept, views as their own data."""
import copy
import pickle
import sys

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn

DTYPES = [hy.bool, hy.int32, hy.int64, hy.float16, hy.bfloat16, hy.float32, hy.float64]


def roundtrip(x, protocol=pickle.HIGHEST_PROTOCOL):
    return pickle.loads(pickle.dumps(x, protocol=protocol))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3, 4)])
def test_pickle_keeps_dtype_shape_and_values(dtype, shape):
    x = (hy.randn(*shape, generator=hy.Generator(seed=1)) * 5).to(dtype) if shape else hy.tensor(3.5).to(dtype)
    y = roundtrip(x)
    assert y.dtype == dtype and tuple(y.shape) == tuple(x.shape)
    assert (y.to(hy.float64) == x.to(hy.float64)).all().item()
    if x.numel():
        assert y.data_ptr() != x.data_ptr()   # a copy, never shared memory


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_every_pickle_protocol(protocol):
    x = hy.arange(6.).reshape(2, 3)
    assert roundtrip(x, protocol).tolist() == x.tolist()


def test_view_pickles_as_its_own_elements():
    base = hy.arange(1000.)
    view = base[10:20:3]
    data = pickle.dumps(view)
    assert len(data) < 500               # not the 8000-byte storage behind it
    y = pickle.loads(data)
    assert y.tolist() == [10., 13., 16., 19.] and y.is_contiguous()
    t = roundtrip(hy.arange(6.).reshape(2, 3).T)
    assert t.tolist() == [[0., 3.], [1., 4.], [2., 5.]]


def test_requires_grad_is_kept_and_the_copy_is_a_leaf():
    x = hy.randn(3, requires_grad=True)
    y = x * 2
    for src in (x, y):
        z = roundtrip(src)
        assert z.requires_grad and z.is_leaf and z.grad_fn is None
        z.sum().backward()
        assert z.grad.tolist() == [1.0, 1.0, 1.0]
    assert not roundtrip(hy.ones(2)).requires_grad


def test_copy_copy_is_a_new_tensor():
    x = hy.arange(4.)
    y = copy.copy(x)
    y.add_(1)
    assert x.tolist() == [0., 1., 2., 3.] and y.tolist() == [1., 2., 3., 4.]


def test_parameter_pickles_as_parameter():
    p = nn.Parameter(hy.randn(2, 2))
    q = roundtrip(p)
    assert type(q) is nn.Parameter and q.requires_grad and q.tolist() == p.tolist()
    frozen = roundtrip(nn.Parameter(hy.ones(2), requires_grad=False))
    assert type(frozen) is nn.Parameter and not frozen.requires_grad


def test_module_pickles_with_its_parameters():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    m2 = roundtrip(m)
    x = hy.randn(5, 3)
    assert m2(x).tolist() == m(x).tolist()
    assert all(type(p) is nn.Parameter for p in m2.parameters())


def test_tensors_inside_containers_and_shared_references():
    x = hy.arange(3.)
    a, b = roundtrip([x, {"k": x}])
    assert a is b["k"]          # pickle's memo keeps one object per tensor


def test_corrupt_payload_is_a_clear_error():
    from hyflow._tensor_pickle import _rebuild_tensor
    with pytest.raises(ValueError, match="expected 24 bytes"):
        _rebuild_tensor(hy.float64, (3,), b"\0" * 8, sys.byteorder, False)
    with pytest.raises(TypeError, match="dtype"):
        _rebuild_tensor("float64", (3,), b"\0" * 24, sys.byteorder, False)
    with pytest.raises(TypeError, match="not a hyflow Tensor class"):
        _rebuild_tensor(hy.float64, (3,), b"\0" * 24, sys.byteorder, False, dict)


def test_other_byte_order_is_swapped():
    from hyflow._tensor_pickle import _rebuild_tensor
    other = "big" if sys.byteorder == "little" else "little"
    raw = np.array([1.5, -2.0], dtype=np.float64).byteswap().tobytes()
    assert _rebuild_tensor(hy.float64, (2,), raw, other, False).tolist() == [1.5, -2.0]


@pytest.mark.forks
def test_tensor_crosses_a_process_boundary():
    import concurrent.futures
    import multiprocessing
    x = hy.arange(10.).reshape(2, 5)
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        y = pool.submit(_double, x).result()
    assert y.tolist() == (x * 2).tolist()


def _double(t):
    return t * 2


# --- hy.Generator

@pytest.mark.parametrize("copier", [roundtrip, copy.copy, copy.deepcopy], ids=["pickle", "copy", "deepcopy"])
def test_generator_copy_continues_the_stream_independently(copier):
    g = hy.Generator(seed=11)
    hy.randn(5, generator=g)
    h = copier(g)
    assert isinstance(h, hy.Generator) and h is not g and h.get_state() == g.get_state()
    assert hy.rand(4, generator=h).tolist() == hy.rand(4, generator=g).tolist()
    hy.rand(3, generator=h)  # drawing from the copy leaves the original where it was
    assert h.get_state() != g.get_state()


def test_generator_inside_containers_keeps_identity():
    g = hy.Generator(seed=1)
    a, b = roundtrip([g, g])
    assert a is b


def test_generator_corrupt_payload_is_a_clear_error():
    from hyflow._generator_pickle import _rebuild_generator
    with pytest.raises(ValueError, match="offset"):
        _rebuild_generator(1, -1)
    with pytest.raises(TypeError, match="seed"):
        _rebuild_generator("1", 0)


@pytest.mark.forks
def test_generator_crosses_a_process_boundary():
    import concurrent.futures
    import multiprocessing
    g = hy.Generator(seed=7)
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        drawn = pool.submit(_draw, g).result()
    assert drawn == hy.rand(3, generator=g).tolist()


def _draw(g):
    return hy.rand(3, generator=g).tolist()
