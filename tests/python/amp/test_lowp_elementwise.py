"""Low-precision elementwise kernels and conversions (kernels/cpu/lowp_convert.h, lowp_rows.h).

* float32 -> bfloat16/float16 rounding is round-to-nearest-even, bit for bit against PyTorch (bf16) and
  NumPy (fp16) on edge values (ties, subnormals, overflow, inf, NaN) and on random bit patterns, in every
  CPU variant this machine can load (HYFLOW_CPU_CAPABILITY, one subprocess each): the AVX512-BF16 /
  F16C paths and the portable integer one.
* Elementwise ops on 16-bit tensors compute in float32 and round once: bit for bit equal to the float32
  op on the widened inputs, rounded (and to PyTorch's bf16 ops, which do the same), on dense, strided,
  broadcast, in-place and out= operands and on lengths that end inside a conversion block.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import hyflow as hy

torch = pytest.importorskip("torch")

LOWP = [hy.bfloat16, hy.float16]
KNOWN_VARIANTS = ("default", "avx2", "avx512")


def edge_bits():
    """float32 bit patterns that exercise every branch of the rounding."""
    special = [
        0x00000000, 0x80000000,                    # +-0
        0x00000001, 0x80000001, 0x00400000, 0x007fffff,  # float32 subnormals (flushed by VCVTNE2PS2BF16)
        0x00800000, 0x3f800000, 0xbf800000,         # smallest normal, +-1
        0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff,  # bf16 ties (to even: down, up), above, below
        0x7f7fffff, 0xff7fffff, 0x7f7f8000,         # max float32 (rounds to bf16 inf), bf16 overflow tie
        0x7f800000, 0xff800000,                     # +-inf
        0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff,  # quiet/signalling NaNs, payloads
        0x477fe000, 0x477ff000, 0x477fefff,         # 65504 (max half), 65520 (ties to inf), just below
        0x33000000, 0x33000001, 0x33c00000,         # 2**-25 (half tie to 0), above it, 1.5 * 2**-24
        0x38800000, 0x387fc000, 0x38000000,         # smallest normal half, subnormal half, 2**-15
        0x3a801000, 0x3a803000,                     # half ties with an even/odd last bit
    ]
    rng = np.random.default_rng(0)
    rand = rng.integers(0, 2 ** 32, size=3001, dtype=np.uint64).astype(np.uint32)
    return np.concatenate([np.array(special, dtype=np.uint32), rand])


def hy_round_bits(f32, dtype):
    """The 16-bit pattern hyflow's .to(dtype) gives each float32 (read back through the exact widening)."""
    back = hy.from_numpy(f32).to(dtype).to(hy.float32).numpy()
    return (back.view(np.uint32) >> 16 if dtype == hy.bfloat16 else back.astype(np.float16).view(np.uint16)).astype(
        np.uint16)


def reference_bits(f32, dtype):
    if dtype == hy.bfloat16:
        return torch.from_numpy(f32).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    with np.errstate(all="ignore"):
        return f32.astype(np.float16).view(np.uint16)


def assert_same_rounding(got, want, f32, dtype):
    exp_mask = 0x7f80 if dtype == hy.bfloat16 else 0x7c00
    man_mask = 0x007f if dtype == hy.bfloat16 else 0x03ff
    nan_want = ((want & exp_mask) == exp_mask) & ((want & man_mask) != 0)
    nan_got = ((got & exp_mask) == exp_mask) & ((got & man_mask) != 0)
    # NaN stays NaN with the input's sign (PyTorch makes every NaN 0xffff; payloads are the converter's).
    assert np.array_equal(nan_got, nan_want)
    sign_in = (f32.view(np.uint32) >> 16).astype(np.uint16) & 0x8000
    assert np.array_equal(got[nan_want] & 0x8000, sign_in[nan_want])
    bad = ~nan_want & (got != want)
    assert not bad.any(), [(hex(int(b)), hex(int(g)), hex(int(w)))
                           for b, g, w in zip(f32.view(np.uint32)[bad][:5], got[bad][:5], want[bad][:5])]


@pytest.mark.parametrize("dtype", LOWP)
def test_rounding_matches_reference_bit_for_bit(dtype):
    f32 = edge_bits().view(np.float32)
    assert_same_rounding(hy_round_bits(f32, dtype), reference_bits(f32, dtype), f32, dtype)
    # A strided source and a length that is not a multiple of any vector width.
    strided = np.ascontiguousarray(np.stack([f32, f32[::-1]], axis=1))[:, 0]
    assert_same_rounding(hy_round_bits(strided[:1001], dtype), reference_bits(f32[:1001], dtype), f32[:1001],
                         dtype)


@pytest.mark.parametrize("dtype", LOWP)
def test_widening_is_exact(dtype):
    bits = np.arange(2 ** 16, dtype=np.uint32).astype(np.uint16)
    if dtype == hy.bfloat16:
        want = (bits.astype(np.uint32) << 16).view(np.float32)
        t = hy.from_numpy(want).to(hy.bfloat16)  # exact: every value is a bf16
    else:
        want = bits.view(np.float16).astype(np.float32)
        t = hy.from_numpy(bits.view(np.float16))
    got = t.to(hy.float32).numpy()
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    assert np.array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))


def _variants():
    info = hy.build_info()
    best = KNOWN_VARIANTS.index(info["cpu_capability"])
    return [v for v in info["cpu_variants"] if KNOWN_VARIANTS.index(v) <= best]


_VARIANT_SCRIPT = """
import sys, numpy as np, hyflow as hy
sys.path.insert(0, {here!r})
from test_lowp_elementwise import edge_bits, hy_round_bits
f32 = edge_bits().view(np.float32)
a = hy.from_numpy(f32[:2000].copy()).to(hy.bfloat16)
b = hy.from_numpy(f32[1000:3000].copy()).to(hy.bfloat16)
with np.errstate(all="ignore"):
    out = [hy_round_bits(f32, hy.bfloat16), hy_round_bits(f32, hy.float16),
           (a * b + a).to(hy.float32).numpy(), hy.exp(a.to(hy.float16)).to(hy.float32).numpy()]
np.savez(sys.argv[1], *out)
print(hy.backends.cpu.get_cpu_capability())
"""


@pytest.mark.parametrize("variant", _variants())
def test_every_cpu_variant_rounds_the_same(variant, tmp_path):
    """HYFLOW_CPU_CAPABILITY picks the conversion code (AVX512-BF16, F16C, portable): same bits."""
    here = os.path.dirname(os.path.abspath(__file__))
    results = {}
    for cap in ("default", variant):
        path = tmp_path / f"{cap}.npz"
        env = dict(os.environ, HYFLOW_CPU_CAPABILITY=cap, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        r = subprocess.run([sys.executable, "-c", _VARIANT_SCRIPT.format(here=here), str(path)], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == cap
        with np.load(path) as z:
            results[cap] = [z[k] for k in sorted(z.files)]
    for base, got in zip(results["default"], results[variant]):
        assert np.array_equal(base.view(np.uint8), got.view(np.uint8)) or \
            np.array_equal(base, got, equal_nan=True)


def _bits(t):
    return t.to(hy.float32).numpy().view(np.uint32)


def _rounded_f32(fn, dtype, *args):
    """fn on the float32 widening of 16-bit args, rounded once to dtype."""
    wide = [a.to(hy.float32) if isinstance(a, hy.Tensor) and a.dtype == dtype else a for a in args]
    return fn(*wide).to(dtype)


def _low(shape, dtype, seed, noncontig=False):
    g = hy.Generator(seed=seed)
    if noncontig:
        return (hy.randn(*shape[:-1], shape[-1] * 2, generator=g) * 3).to(dtype)[..., ::2]
    return (hy.randn(*shape, generator=g) * 3).to(dtype)


BINARY = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y, "maximum": hy.maximum, "pow": lambda x, y: hy.pow(hy.abs(x), y),
    "add_alpha": lambda x, y: hy.add(x, y, alpha=0.3),
}
UNARY = {"neg": lambda x: -x, "abs": hy.abs, "relu": hy.relu, "exp": hy.exp, "log": lambda x: hy.log(hy.abs(x)),
         "tanh": hy.tanh, "sigmoid": hy.sigmoid, "sqrt": lambda x: hy.sqrt(hy.abs(x)), "sin": hy.sin,
         "erf": hy.erf}
SHAPES = [(1,), (31,), (1023,), (1025,), (3, 700), (2, 3, 513)]


@pytest.mark.parametrize("dtype", LOWP)
@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shape", SHAPES)
def test_binary_rounds_float32_result_once(dtype, name, shape):
    fn = BINARY[name]
    for a, b in [(_low(shape, dtype, 1), _low(shape, dtype, 2)),                     # dense
                 (_low(shape, dtype, 1, noncontig=True), _low(shape, dtype, 2)),     # strided
                 (_low(shape, dtype, 1), _low(shape[-1:], dtype, 3)),                # broadcast row
                 (_low(shape, dtype, 1), 1.7),                                       # Python number
                 (_low(shape, dtype, 1), hy.arange(shape[-1]) % 5 + 1)]:             # int tensor
        got = fn(a, b)
        assert got.dtype == dtype
        assert np.array_equal(_bits(got), _bits(_rounded_f32(fn, dtype, a, b))), name


@pytest.mark.parametrize("dtype", LOWP)
@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", SHAPES)
def test_unary_rounds_float32_result_once(dtype, name, shape):
    fn = UNARY[name]
    for a in (_low(shape, dtype, 4), _low(shape, dtype, 4, noncontig=True)):
        got = fn(a)
        assert got.dtype == dtype
        want = _rounded_f32(fn, dtype, a)
        # Transcendentals: the float32 math may differ by a float32 ulp between a block's vector body and
        # its tail, which can move the rounded result by one 16-bit ulp.
        if name in ("neg", "abs", "relu", "sqrt"):
            assert np.array_equal(_bits(got), _bits(want)), name
        else:
            g, w = got.to(hy.float32).numpy(), want.to(hy.float32).numpy()
            ulp = 2.0 ** -7 if dtype == hy.bfloat16 else 2.0 ** -10
            np.testing.assert_allclose(g, w, rtol=ulp, atol=1e-30)


def test_bf16_ops_match_torch_bit_for_bit():
    x = np.random.default_rng(5).standard_normal(4099).astype(np.float32)
    y = np.random.default_rng(6).standard_normal(4099).astype(np.float32)
    hx, hy_ = hy.from_numpy(x).to(hy.bfloat16), hy.from_numpy(y).to(hy.bfloat16)
    tx, ty = torch.from_numpy(x).bfloat16(), torch.from_numpy(y).bfloat16()
    for h, t in [(hx + hy_, tx + ty), (hx * hy_, tx * ty), (hx - hy_, tx - ty), (hx * 0.1, tx * 0.1),
                 (-hx, -tx), (hy.abs(hx), tx.abs()), (hy.maximum(hx, hy_), torch.maximum(tx, ty))]:
        assert np.array_equal(_bits(h), t.float().numpy().view(np.uint32))


@pytest.mark.parametrize("dtype", LOWP)
def test_inplace_and_out_variants(dtype):
    a, b = _low((5, 301), dtype, 7), _low((5, 301), dtype, 8)
    want = _rounded_f32(lambda x, y: x * y, dtype, a, b)
    out = hy.empty((5, 301), dtype=dtype)
    hy.mul(a, b, out=out)
    assert np.array_equal(_bits(out), _bits(want))
    c = a.clone()
    c.mul_(b)
    assert np.array_equal(_bits(c), _bits(want))
    e = a.clone()
    hy.exp(e, out=e)
    assert np.array_equal(_bits(e), _bits(hy.exp(a)))
    # An out= of another dtype takes the float32 path and gets the unrounded float32 result.
    out32 = hy.empty((5, 301), dtype=hy.float32)
    hy.mul(a, b, out=out32)
    assert np.array_equal(out32.numpy(), (a.to(hy.float32) * b.to(hy.float32)).numpy())


@pytest.mark.parametrize("dtype", LOWP)
def test_nan_and_inf_propagate(dtype):
    vals = hy.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1.0] * 200).to(dtype)
    for fn in (lambda x: x + 1.0, lambda x: x * x, hy.exp, hy.tanh, lambda x: -x):
        got = fn(vals).to(hy.float32).numpy()
        with np.errstate(all="ignore"):
            want = fn(vals.to(hy.float32)).to(dtype).to(hy.float32).numpy()
        assert np.array_equal(np.isnan(got), np.isnan(want))
        assert np.array_equal(got[~np.isnan(got)], want[~np.isnan(want)])
    assert bool(hy.isnan(vals + vals).to(hy.float32)[0])
    assert float((vals * 2)[1]) == float("inf")
    # float16 overflows to inf when rounded; bf16 keeps float32's range.
    big = hy.tensor([60000.0]).to(dtype)
    assert float(big * 2.0) == (float("inf") if dtype == hy.float16 else 2.0 * float(big))


@pytest.mark.parametrize("dtype", LOWP)
def test_comparisons_on_lowp(dtype):
    a, b = _low((1030,), dtype, 9), _low((1030,), dtype, 10)
    for got, want in [(a < b, a.to(hy.float32) < b.to(hy.float32)), (a == a, hy.ones(1030, dtype=hy.bool)),
                      (a >= 0.5, a.to(hy.float32) >= 0.5)]:
        assert got.dtype == hy.bool
        assert np.array_equal(got.numpy(), want.numpy())
