"""new_* factories, expand_as/type_as/is_cuda/clip, std/var unbiased=, finfo/iinfo, randperm, load's torch
arguments: each against torch where torch answers the same question."""
import io

import numpy as np
import pytest

import hyflow as hy

torch = pytest.importorskip("torch")

DTYPES = {"float16": (hy.float16, torch.float16), "bfloat16": (hy.bfloat16, torch.bfloat16),
          "float32": (hy.float32, torch.float32), "float64": (hy.float64, torch.float64),
          "int32": (hy.int32, torch.int32), "int64": (hy.int64, torch.int64), "bool": (hy.bool, torch.bool)}
DATA = [[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]]


def same(h, t):
    assert h.dtype.name == str(t.dtype).removeprefix("torch.")
    assert tuple(h.shape) == tuple(t.shape)
    np.testing.assert_allclose(h.float().numpy(), t.float().numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["float32", "int32", "float64", "bool"])
def test_new_factories(name):
    h, t = hy.ones(2, dtype=DTYPES[name][0]), torch.ones(2, dtype=DTYPES[name][1])
    same(h.new_zeros(2, 3), t.new_zeros(2, 3))
    same(h.new_zeros((2, 3)), t.new_zeros((2, 3)))
    same(h.new_ones([4]), t.new_ones([4]))
    same(h.new_full((2,), 3), t.new_full((2,), 3))
    same(h.new_tensor([1, 0, 2]), t.new_tensor([1, 0, 2]))
    assert h.new_empty(2, 5).shape == t.new_empty(2, 5).shape and h.new_empty(3).dtype == h.dtype
    same(h.new_zeros(3, dtype=hy.float64), t.new_zeros(3, dtype=torch.float64))
    assert h.new_zeros(2).device == h.device


def test_new_tensor_keeps_self_dtype_and_requires_grad():
    h, t = hy.ones(1, dtype=hy.int32), torch.ones(1, dtype=torch.int32)
    same(h.new_tensor([1.5, 2.7]), t.new_tensor([1.5, 2.7]))
    same(h.new_full((2,), 2.5), t.new_full((2,), 2.5))
    out = hy.ones(1).new_tensor([1.0, 2.0], requires_grad=True)
    assert out.requires_grad and out.is_leaf
    with pytest.warns(UserWarning, match="clone"):
        copy = hy.ones(1).new_tensor(hy.ones(2, requires_grad=True))
    assert not copy.requires_grad
    assert hy.ones(1).new_zeros(2, requires_grad=True).requires_grad


def test_expand_as_type_as_is_cuda_clip():
    h, t = hy.tensor(DATA), torch.tensor(DATA)
    same(h[0].expand_as(hy.zeros(4, 3)), t[0].expand_as(torch.zeros(4, 3)))
    with pytest.raises(ValueError, match="cannot be expanded"):  # hy.expand's error (torch: RuntimeError)
        h.expand_as(hy.zeros(4, 2))
    same(h.type_as(hy.ones(1, dtype=hy.int32)), t.type_as(torch.ones(1, dtype=torch.int32)))
    assert h.type_as(hy.ones(1)).dtype == hy.float32
    assert h.is_cuda is False and t.is_cuda is False
    same(h.clip(2, 4), t.clip(2, 4))
    same(h.clip(min=3), t.clip(min=3))
    hc, tc = h.clone(), t.clone()
    assert hc.clip_(max=2.5) is hc
    tc.clip_(max=2.5)
    same(hc, tc)


STD_CALLS = ["x.std(unbiased=False)", "x.var(unbiased=True)", "x.std(True)", "x.var(False)",
             "x.std(0, True)", "x.var(1, False, True)", "x.std(0, unbiased=False, keepdim=True)",
             "x.var(dim=1, unbiased=False)", "x.var(0, True, keepdim=True)", "x.std((0, 1), False)",
             "x.std(0)", "x.var(1, correction=0)", "x.std()"]


@pytest.mark.parametrize("call", STD_CALLS)
def test_std_var_unbiased(call):
    same(eval(call, {"x": hy.tensor(DATA)}), eval(call, {"x": torch.tensor(DATA)}))


@pytest.mark.parametrize("call", ["x.std(unbiased=True, correction=0)", "x.var(0, True, unbiased=True)",
                                  "x.std(unbiased=1)", "x.std(foo=1)"])
def test_std_var_unbiased_errors(call):
    for x in (hy.tensor(DATA), torch.tensor(DATA)):
        with pytest.raises(TypeError):
            eval(call, {"x": x})


def test_std_unbiased_gradient():
    h = hy.tensor(DATA, requires_grad=True)
    t = torch.tensor(DATA, requires_grad=True)
    h.std(0, False).sum().backward()
    t.std(0, False).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), t.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_finfo(name):
    h, t = hy.finfo(DTYPES[name][0]), torch.finfo(DTYPES[name][1])
    for field in ["bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"]:
        assert getattr(h, field) == getattr(t, field), field
        assert type(getattr(h, field)) is type(getattr(t, field)), field
    assert repr(h) == repr(t)


def test_finfo_default_and_complex():
    assert hy.finfo().dtype == torch.finfo().dtype == "float32"
    assert hy.finfo(hy.complex128).eps == torch.finfo(torch.complex128).eps


@pytest.mark.parametrize("name", ["int32", "int64"])
def test_iinfo(name):
    h, t = hy.iinfo(DTYPES[name][0]), torch.iinfo(DTYPES[name][1])
    for field in ["bits", "max", "min", "dtype"]:
        assert getattr(h, field) == getattr(t, field), field
        assert type(getattr(h, field)) is type(getattr(t, field)), field
    assert repr(h) == repr(t)


@pytest.mark.parametrize("fn, name", [("finfo", "int32"), ("finfo", "bool"), ("iinfo", "float32"),
                                      ("iinfo", "bool"), ("iinfo", "bfloat16")])
def test_info_errors(fn, name):
    with pytest.raises(TypeError):
        getattr(torch, fn)(DTYPES[name][1])
    with pytest.raises(TypeError):
        getattr(hy, fn)(DTYPES[name][0])


def test_randperm_is_a_reproducible_permutation():
    for n in [0, 1, 2, 17, 1000]:
        p = hy.randperm(n)
        assert p.dtype == hy.int64 == hy.int64 and tuple(p.shape) == (n,)
        assert sorted(p.tolist()) == list(range(n))
    g = hy.Generator().manual_seed(7)
    a = hy.randperm(50, generator=g)
    g.manual_seed(7)
    assert a.tolist() == hy.randperm(50, generator=g).tolist()
    hy.manual_seed(3)
    b = hy.randperm(50)
    hy.manual_seed(3)
    assert b.tolist() == hy.randperm(50).tolist()
    assert hy.randperm(50, generator=g).tolist() != hy.randperm(50, generator=g).tolist()


def test_randperm_is_uniform():
    # 3! = 6 orders of 3 elements, 6000 draws: each about 1000 (chi-square with 5 dof, p = 1e-6 at 35.9)
    g = hy.Generator().manual_seed(0)
    counts = {}
    for _ in range(6000):
        key = tuple(hy.randperm(3, generator=g).tolist())
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6
    assert sum((c - 1000) ** 2 / 1000 for c in counts.values()) < 35.9


def test_randperm_dtypes_and_errors():
    for name in ["int32", "float32", "float64"]:
        h, t = hy.randperm(9, dtype=DTYPES[name][0]), torch.randperm(9, dtype=DTYPES[name][1])
        assert h.dtype.name == name and sorted(h.tolist()) == sorted(t.tolist())
    assert hy.randperm(4, dtype=hy.float32, requires_grad=True).requires_grad
    for kwargs, error in [({}, RuntimeError), ({"dtype": "bool"}, NotImplementedError)]:
        with pytest.raises(error):
            torch.randperm(-1 if not kwargs else 3, **{k: DTYPES[v][1] for k, v in kwargs.items()})
        with pytest.raises(error):
            hy.randperm(-1 if not kwargs else 3, **{k: DTYPES[v][0] for k, v in kwargs.items()})
    for args, kwargs in [((3.0,), {}), ((3,), {"requires_grad": True})]:
        with pytest.raises((TypeError, RuntimeError)):
            torch.randperm(*args, **kwargs)
        with pytest.raises((TypeError, RuntimeError)):
            hy.randperm(*args, **kwargs)


@pytest.fixture
def checkpoint(tmp_path):
    state = {"w": hy.tensor(DATA), "rest": [hy.arange(3), 5, "x"]}
    path = tmp_path / "ckpt.safetensors"
    hy.save(state, path)
    return path


def check_state(state, scale=1):
    np.testing.assert_array_equal(state["w"].numpy(), np.array(DATA, dtype=np.float32) * scale)
    assert state["rest"][0].tolist() == [0 * scale, 1 * scale, 2 * scale] and state["rest"][1:] == [5, "x"]


def test_load_file_objects(checkpoint):
    with open(checkpoint, "rb") as f:
        check_state(hy.load(f))
    with open(checkpoint, "rb") as f:
        check_state(hy.load(f, mmap=True, weights_only=True))
    buf = io.BytesIO(b"junk" + checkpoint.read_bytes())
    buf.seek(4)  # read from the current position, as torch.load does
    check_state(hy.load(buf))
    with pytest.raises(hy.serialization.CheckpointError, match="<file object>"):
        hy.load(io.BytesIO(b"short"))
    with open(checkpoint, "r", encoding="latin-1") as f, pytest.raises(TypeError, match="binary"):
        hy.load(f)


def test_load_map_location(checkpoint):
    for where in ["cpu", hy.device("cpu"), {"cuda:0": "cpu"}, {"cpu": "cpu"}, None]:
        state = hy.load(checkpoint, map_location=where)
        check_state(state)
        assert state["w"].device == "cpu"
    seen = []

    def location(t, loc):
        seen.append(loc)
        return t * 2 if t.dtype == hy.float32 else None
    state = hy.load(str(checkpoint), map_location=location, weights_only=False)
    assert seen == ["cpu", "cpu"]
    np.testing.assert_array_equal(state["w"].numpy(), np.array(DATA, dtype=np.float32) * 2)
    assert state["rest"][0].tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="map_location"):
        hy.load(checkpoint, map_location="tpu")
    with pytest.raises(TypeError, match="pickle"):
        hy.load(checkpoint, pickle_module=object())


def test_load_map_location_cuda(checkpoint):
    if not hy.cuda.is_available():
        pytest.skip("no CUDA device")
    state = hy.load(checkpoint, map_location="cuda:0")
    assert state["w"].is_cuda and state["rest"][0].is_cuda
    state = hy.load(checkpoint, map_location={"cpu": "cuda"})
    assert state["w"].is_cuda
    check_state({"w": state["w"].cpu(), "rest": [state["rest"][0].cpu(), 5, "x"]})


def test_std_var_unbiased_as_functions_too():
    for call in ["hy.std(x, unbiased=False)", "hy.var(x, 1, False, True)", "hy.std(x, True)"]:
        same(eval(call, {"x": hy.tensor(DATA), "hy": hy}), eval(call.replace("hy.", "torch."), {"x": torch.tensor(DATA), "torch": torch}))
    with pytest.raises(TypeError, match="argument 'dim' must be int\[\], got bool"):
        hy.tensor(DATA).sum(True)   # a bool is still no dim for an op without correction=
