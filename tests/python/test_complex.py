"""Complex tensors in the core (docs/tensors.md, "Complex tensors"): creation, printing, interop, casts,
promotion, the reinterpreting views, the Python helpers, and the clear error of every real-only op."""
import pickle

import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import gradcheck

torch = pytest.importorskip("torch")

CDTYPES = [hy.complex64, hy.complex128]


def _z(shape=(3, 4), dtype=np.complex128, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def test_dtype_objects_names_and_aliases():
    assert hy.complex64.itemsize == 8 and hy.complex128.itemsize == 16
    assert hy.cfloat is hy.complex64 and hy.cdouble is hy.complex128
    assert hy.complex64.is_complex and not hy.complex64.is_floating_point
    assert not hy.float32.is_complex
    assert hy.complex64 == "complex64" and hy.complex128 == "cdouble"
    assert pickle.loads(pickle.dumps(hy.complex128)) == hy.complex128


@pytest.mark.parametrize("a,b,want", [
    ("float32", "complex64", "complex64"), ("float64", "complex64", "complex128"),
    ("float16", "complex64", "complex64"), ("int64", "complex64", "complex64"),
    ("bool", "complex128", "complex128"), ("complex64", "complex128", "complex128"),
])
def test_promote_types_follows_torch(a, b, want):
    assert hy.promote_types(getattr(hy, a), getattr(hy, b)) == getattr(hy, want)
    assert str(torch.promote_types(getattr(torch, a), getattr(torch, b))) == f"torch.{want}"


def test_creation_from_python_and_numpy():
    t = hy.tensor([1 + 2j, 3 - 1j])
    assert t.dtype == hy.complex64 and t.is_complex()
    np.testing.assert_array_equal(t.numpy(), np.array([1 + 2j, 3 - 1j], np.complex64))
    z = _z()
    u = hy.tensor(z)
    assert u.dtype == hy.complex128
    np.testing.assert_array_equal(u.numpy(), z)
    assert hy.tensor([1.5, 2.0], dtype=hy.complex128).numpy().tolist() == [1.5 + 0j, 2 + 0j]
    with pytest.raises(TypeError, match="imaginary"):
        hy.tensor([1 + 1j], dtype=hy.float32)


@pytest.mark.parametrize("dtype", CDTYPES, ids=str)
def test_factories(dtype):
    assert hy.zeros(2, 3, dtype=dtype).numpy().tolist() == [[0j] * 3] * 2
    assert hy.ones(2, dtype=dtype).numpy().tolist() == [1 + 0j, 1 + 0j]
    assert hy.full((2,), 2.5, dtype=dtype).numpy().tolist() == [2.5 + 0j] * 2
    assert hy.empty(4, dtype=dtype).shape == (4,)
    assert hy.zeros_like(hy.ones(3, dtype=dtype)).dtype == dtype


def test_numpy_buffer_and_dlpack_round_trips():
    z = _z(dtype=np.complex64)
    t = hy.from_numpy(z)
    z[0, 0] = 5 + 5j
    assert t.numpy()[0, 0] == 5 + 5j  # shares memory
    assert memoryview(t).format == "Zf"
    assert memoryview(hy.tensor(_z())).format == "Zd"
    np.testing.assert_array_equal(np.asarray(t), z)
    via_torch = torch.from_dlpack(t)
    assert via_torch.dtype == torch.complex64
    np.testing.assert_array_equal(via_torch.numpy(), z)
    back = hy.from_dlpack(torch.tensor(_z()))
    assert back.dtype == hy.complex128
    np.testing.assert_array_equal(back.numpy(), _z())


def test_casts_follow_torch():
    x = hy.tensor([1.5, -2.0])
    z = x.to(hy.complex64)
    assert z.numpy().tolist() == [1.5 + 0j, -2 + 0j]
    w = hy.tensor([1 + 2j, 3 - 4j], dtype=hy.complex128)
    # complex -> real keeps the real part and warns, as torch does
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        assert w.to(hy.float32).numpy().tolist() == [1.0, 3.0]
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        assert w.double().numpy().tolist() == [1.0, 3.0]
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        assert w.to("bool").numpy().tolist() == [True, True]
    assert w.to(hy.complex64).dtype == hy.complex64
    assert x.cdouble().dtype == hy.complex128 and x.cfloat().dtype == hy.complex64


def test_views_and_copies_keep_complex_values():
    z = _z((3, 4))
    t = hy.tensor(z)
    np.testing.assert_array_equal(t.transpose(0, 1).contiguous().numpy(), z.T)
    np.testing.assert_array_equal(t[1].numpy(), z[1])
    np.testing.assert_array_equal(t[:, 1:3].clone().numpy(), z[:, 1:3])
    np.testing.assert_array_equal(hy.cat([t, t], 0).numpy(), np.concatenate([z, z]))
    np.testing.assert_array_equal(hy.flip(t, [1]).numpy(), z[:, ::-1])
    np.testing.assert_array_equal(hy.roll(t, [1], [1]).numpy(), np.roll(z, 1, 1))
    np.testing.assert_array_equal(hy.stack([t, t], 1).numpy(), np.stack([z, z], 1))
    np.testing.assert_array_equal(hy.split(t, 2, 1)[1].numpy(), z[:, 2:])
    np.testing.assert_array_equal(hy.chunk(t, 3, 0)[2].numpy(), z[2:])
    u = hy.zeros(3, 4, dtype=hy.complex128)
    u.copy_(t)
    np.testing.assert_array_equal(u.numpy(), z)


def test_long_flip_of_complex128_is_exact():
    # flip's vectorized row reversal moves 8-byte items; complex128 (16 bytes) must take the general copy
    z = _z((2, 40))
    np.testing.assert_array_equal(hy.flip(hy.tensor(z), [1]).numpy(), z[:, ::-1])


def test_real_imag_are_views_and_helpers_match_numpy():
    z = _z()
    t = hy.tensor(z)
    np.testing.assert_array_equal(t.real.numpy(), z.real)
    np.testing.assert_array_equal(t.imag.numpy(), z.imag)
    t.real.fill_(1.0)  # a view: writes show in the complex tensor
    assert (t.numpy().real == 1.0).all()
    np.testing.assert_allclose(hy.abs(hy.tensor(z)).numpy(), np.abs(z), rtol=1e-12)
    np.testing.assert_allclose(hy.tensor(z).abs().numpy(), np.abs(z), rtol=1e-12)
    np.testing.assert_allclose(hy.angle(hy.tensor(z)).numpy(), np.angle(z), rtol=1e-12)
    np.testing.assert_array_equal(hy.conj(hy.tensor(z)).numpy(), np.conj(z))
    p = hy.polar(hy.tensor(np.abs(z)), hy.tensor(np.angle(z)))
    np.testing.assert_allclose(p.numpy(), z, rtol=1e-12, atol=1e-12)
    c = hy.complex(hy.tensor(z.real), hy.tensor(z.imag))
    np.testing.assert_array_equal(c.numpy(), z)
    r = hy.tensor([1.0, -2.0])
    assert hy.real(r) is r and hy.conj(r) is r
    np.testing.assert_allclose(hy.angle(r).numpy(), [0, np.pi])
    with pytest.raises(RuntimeError, match="imag is not implemented"):
        r.imag


def test_view_as_real_and_complex():
    z = _z()
    t = hy.tensor(z)
    r = hy.view_as_real(t)
    assert r.shape == (3, 4, 2) and r.dtype == hy.float64
    np.testing.assert_array_equal(r.numpy(), np.stack([z.real, z.imag], -1))
    back = hy.view_as_complex(r)
    np.testing.assert_array_equal(back.numpy(), z)
    with pytest.raises(ValueError, match="size 2"):
        hy.view_as_complex(hy.zeros(3, 3))
    with pytest.raises(ValueError, match="stride 1"):
        hy.view_as_complex(hy.zeros(2, 3).transpose(0, 1)[:2])
    with pytest.raises(TypeError, match="complex tensor"):
        hy.view_as_real(hy.zeros(3))


def test_arithmetic_matches_numpy():
    z, w = _z(seed=1), _z(seed=2)
    Z, W = hy.tensor(z), hy.tensor(w)
    f = np.arange(1.0, 5.0)
    F = hy.tensor(f)
    np.testing.assert_allclose((Z + W).numpy(), z + w)
    np.testing.assert_allclose((Z + F).numpy(), z + f)
    np.testing.assert_allclose(hy.add(Z, W, alpha=2).numpy(), z + 2 * w)
    np.testing.assert_allclose((Z - W).numpy(), z - w)
    np.testing.assert_allclose((F - Z).numpy(), f - z)
    np.testing.assert_allclose((Z * W).numpy(), z * w, rtol=1e-14)
    np.testing.assert_allclose((Z * 2.5).numpy(), z * 2.5)
    np.testing.assert_allclose((Z / W).numpy(), z / w, rtol=1e-14)
    np.testing.assert_allclose((F / Z).numpy(), f / z, rtol=1e-14)
    np.testing.assert_allclose((-Z).numpy(), -z)
    np.testing.assert_array_equal((Z == Z).numpy(), np.ones(z.shape, bool))
    np.testing.assert_array_equal((Z == W).numpy(), z == w)
    np.testing.assert_array_equal((Z != hy.conj(Z)).numpy(), z != np.conj(z))
    np.testing.assert_allclose(hy.sum(Z).numpy(), z.sum())
    np.testing.assert_allclose(hy.sum(Z, dim=1, keepdim=True).numpy(), z.sum(1, keepdims=True))
    np.testing.assert_allclose(hy.mean(Z, dim=0).numpy(), z.mean(0))
    np.testing.assert_allclose(hy.sum(F, dtype=hy.complex128).numpy(), f.sum())
    c64 = hy.tensor(z.astype(np.complex64))
    assert (c64 * hy.tensor(f)).dtype == hy.complex128  # float64 with complex64, as torch
    assert (c64 * 2.0).dtype == hy.complex64
    x = hy.tensor(z)
    x.add_(W)
    np.testing.assert_allclose(x.numpy(), z + w)
    x.mul_(2)
    np.testing.assert_allclose(x.numpy(), 2 * (z + w))
    with pytest.raises(TypeError, match="can't be cast"):
        hy.tensor(z.real).add_(Z)
    with pytest.raises(TypeError, match="rounding_mode"):
        hy.div(Z, W, rounding_mode="floor")
    with pytest.raises(TypeError, match="complex dtype"):
        hy.sum(Z, dtype=hy.float64)


def test_arithmetic_gradients_follow_torch():
    rng = np.random.default_rng(5)
    a, b, r = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), rng.standard_normal(3)

    def run(lib, view_as_complex):
        A = lib.tensor(a, requires_grad=True) if lib is torch else hy.tensor(a).requires_grad_(True)
        B = lib.tensor(b, requires_grad=True) if lib is torch else hy.tensor(b).requires_grad_(True)
        R = lib.tensor(r, requires_grad=True) if lib is torch else hy.tensor(r).requires_grad_(True)
        za, zb = view_as_complex(A), view_as_complex(B)
        out = (za * zb + za / zb - zb * R + R / za - (-za)).sum() + (za * R).mean()
        loss = out.real * 2 + out.imag * 3
        loss.backward()
        return A.grad.numpy(), B.grad.numpy(), R.grad.numpy()

    mine = run(hy, hy.view_as_complex)
    theirs = run(torch, torch.view_as_complex)
    for m, t in zip(mine, theirs):
        np.testing.assert_allclose(m, t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda a, b: hy.view_as_real(hy.view_as_complex(a) * hy.view_as_complex(b)),
    lambda a, b: hy.view_as_real(hy.view_as_complex(a) / hy.view_as_complex(b)),
    lambda a, b: hy.view_as_real(hy.view_as_complex(a) - hy.view_as_complex(b) * 2),
    lambda a, b: hy.view_as_real(hy.view_as_complex(a) * b.select(-1, 0)),
    lambda a, b: hy.view_as_real(hy.sum(hy.view_as_complex(a) * hy.view_as_complex(b), dim=0)),
    lambda a, b: hy.view_as_real(hy.mean(-hy.view_as_complex(a), dim=1)),
])
def test_arithmetic_gradcheck(fn):
    rng = np.random.default_rng(6)
    a = hy.tensor(rng.standard_normal((3, 4, 2))).requires_grad_(True)
    b = hy.tensor(rng.uniform(0.5, 1.5, (3, 4, 2))).requires_grad_(True)
    assert gradcheck(fn, (a, b))


def test_complex_printing_like_torch():
    for values, dtype in [([1 + 2j, 3.5 - 1j], "complex64"), ([1 + 2.5j, 3 - 1j], "complex64"),
                          ([[1e6 + 2j, 3 - 1j]], "complex64"), (1 + 2j, "complex64"), ([1 + 2j], "complex128"),
                          ([-2 + 2j, 2 + 6j, 10 + 10j, 22 + 14j], "complex128"), ([1 - 0.5j, -3.25 + 0j], "complex64"),
                          ([[1 + 1j] * 12] * 3, "complex64")]:
        want = repr(torch.tensor(values, dtype=getattr(torch, dtype))).replace("torch.", "hyflow.")
        assert repr(hy.tensor(values, dtype=getattr(hy, dtype))) == want


def test_pickle_round_trip():
    t = hy.tensor(_z())
    u = pickle.loads(pickle.dumps(t))
    assert u.dtype == hy.complex128
    np.testing.assert_array_equal(u.numpy(), t.numpy())


@pytest.mark.parametrize("call", [
    lambda z: hy.exp(z), lambda z: z % z, lambda z: hy.amax(z), lambda z: z < z, lambda z: hy.matmul(z, z),
    lambda z: hy.sort(z), lambda z: hy.where(hy.ones(3, dtype=hy.bool), z, z), lambda z: z[hy.tensor([0])],
    lambda z: hy.ops.gather(z, 0, hy.tensor([0])),
])
def test_real_only_ops_refuse_complex_with_a_clear_type_error(call):
    z = hy.tensor([1 + 1j, 2, 3], dtype=hy.complex128)
    with pytest.raises(TypeError, match="complex128.*does not support complex"):
        call(z)


def test_real_only_factories_refuse_a_complex_dtype():
    with pytest.raises(TypeError, match="arange.*does not support complex"):
        hy.arange(3, dtype=hy.complex64)
    with pytest.raises(TypeError, match="rand.*does not support complex"):
        hy.rand(3, dtype=hy.complex64)


def test_gradients_through_complex_views():
    x = hy.tensor(np.random.default_rng(0).standard_normal((3, 2)), dtype=hy.float64).requires_grad_(True)
    assert gradcheck(lambda a: hy.view_as_real(hy.view_as_complex(a)) * 3, (x,))
    assert gradcheck(lambda a: hy.view_as_real(hy.complex(a, a * 2)), (x,))
    assert gradcheck(lambda a: hy.abs(hy.view_as_complex(a)), (x,))
    assert gradcheck(lambda a: hy.view_as_complex(a).imag * 2 + hy.view_as_complex(a).real, (x,))


def test_safetensors_save_refuses_complex_with_the_way_out(tmp_path):
    z = hy.tensor(_z())
    with pytest.raises(TypeError, match="view_as_real"):
        hy.save({"z": z}, tmp_path / "c.safetensors")
    hy.save({"z": hy.view_as_real(z)}, tmp_path / "r.safetensors")
    back = hy.view_as_complex(hy.load(tmp_path / "r.safetensors")["z"])
    np.testing.assert_array_equal(back.numpy(), z.numpy())


def test_python_complex_numbers_are_weak_operands_like_torch():
    x32, x64 = hy.tensor([1.0, -2.0]), hy.tensor([1.0, -2.0], dtype=hy.float64)
    assert (x32 * 1j).dtype == hy.complex64 and (x64 * 1j).dtype == hy.complex128
    assert (1j * x32).dtype == hy.complex64 and (hy.ones(2, dtype=hy.int64) + 1j).dtype == hy.complex64
    np.testing.assert_allclose((x64 * (2 - 1j)).numpy(), x64.numpy() * (2 - 1j))
    np.testing.assert_allclose((1j / hy.tensor([1j, 2.0], dtype=hy.complex128)).numpy(), 1j / np.array([1j, 2.0]))
    np.testing.assert_allclose(hy.mul(x64, np.complex128(3j)).numpy(), x64.numpy() * 3j)
    z = hy.tensor([1 + 1j], dtype=hy.complex128)
    assert (z * 1j).dtype == hy.complex128 and (z == 1 + 1j).tolist() == [True]
    with pytest.raises(TypeError, match="does not support complex"):
        x32 < 1j
    for lib in (hy, torch):
        assert str((lib.ones(2) * 1j).dtype).split(".")[-1] == "complex64"


def test_item_tolist_and_python_conversions():
    z = hy.tensor([[1 + 2j, -3.5j]], dtype=hy.complex128)
    assert z.tolist() == [[1 + 2j, -3.5j]]
    assert z[0, 0].item() == 1 + 2j and isinstance(z[0, 1].item(), complex)
    assert complex(z[0, 0]) == 1 + 2j and complex(hy.tensor(2.5)) == 2.5 + 0j
    assert bool(hy.tensor(1j)) and not bool(hy.tensor(0j))
    with pytest.raises(TypeError):
        float(z[0, 0])
    assert hy.tensor([1 + 1j]).tolist() == [1 + 1j]  # complex64 values that are exact in float32


def test_assert_close_compares_imaginary_parts():
    # hyflow.testing.assert_close used to cast complex values to float64 (dropping the imaginary parts)
    # and compared complex tensors with zero tolerance.
    from hyflow.testing import assert_close, default_tolerances
    a = hy.tensor(np.array([1 + 2j, 3 - 1j], dtype=np.complex128))
    with pytest.raises(AssertionError, match="values differ"):
        assert_close(a, np.array([1 + 5j, 3 - 1j]))
    assert_close(a, np.array([1 + 2j, 3 - 1j]) * (1 + 1e-9))
    assert default_tolerances(hy.complex64) == default_tolerances(hy.float32)
    assert default_tolerances(hy.complex128) == default_tolerances(hy.float64)


def test_full_and_fill_take_complex_values_as_torch_does():
    # torch.full((2,), 1j) is complex64; a complex value into a real tensor or dtype is refused.
    a = hy.full((2, 3), 1 + 2j)
    assert a.dtype == hy.complex64
    np.testing.assert_array_equal(a.numpy(), np.full((2, 3), 1 + 2j, dtype=np.complex64))
    b = hy.full(4, np.complex128(0.1 - 3e-9j), dtype=hy.complex128)
    np.testing.assert_array_equal(b.numpy(), np.full(4, 0.1 - 3e-9j))   # no float32 rounding on the way
    c = hy.full_like(hy.zeros(3, dtype=hy.complex128), 2.5j)
    assert c.dtype == hy.complex128 and c.numpy().tolist() == [2.5j] * 3
    d = hy.zeros(2, 3, dtype=hy.complex64).t()        # a non-contiguous view: filled through it
    assert d.fill_(1 - 1j) is d
    np.testing.assert_array_equal(d.numpy(), np.full((3, 2), 1 - 1j, dtype=np.complex64))
    assert hy.zeros(2, dtype=hy.complex64).fill_(3.0).numpy().tolist() == [3, 3]
    with pytest.raises(TypeError, match="fill_value 1j is complex but dtype is float32"):
        hy.full((2,), 1j, dtype=hy.float32)
    with pytest.raises(TypeError, match="value 1j is complex but the tensor is float32"):
        hy.zeros(2).fill_(1j)
