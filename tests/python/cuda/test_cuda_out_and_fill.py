"""CUDA's out= checks, 16-bit arithmetic with Python numbers and fill_ values, against the CPU's rules:
a float result never lands truncated in an integer out=, x_half * 0.1 reads 0.1 as float32 (as the CPU
does) and rounds once, fill_ refuses values the dtype cannot hold and keeps int64 values past 2**53."""
import numpy as np
import pytest

import hyflow as hy


def test_float_result_into_integer_out_raises_as_on_the_cpu():
    for device in ("cpu", "cuda"):
        x = hy.tensor([1.5, 2.5], device=device)
        out = hy.zeros(2, dtype=hy.int32, device=device)
        with pytest.raises(TypeError, match="can't be cast to the output dtype"):
            hy.add(x, x, out=out)
        with pytest.raises(TypeError, match="can't be cast"):
            hy.exp(x, out=out)


def test_out_bumps_the_version_counter():
    x = hy.tensor([1.0, 2.0], device="cuda")
    out = hy.zeros(2, device="cuda")
    before = out._version
    hy.mul(x, x, out=out)
    assert out._version > before


@pytest.mark.parametrize("dtype", [hy.float16, hy.bfloat16])
@pytest.mark.parametrize("number", [0.1, 1 / 3, 1e-3, 7.77])
def test_16_bit_arithmetic_with_a_number_is_the_cpus_bit_for_bit(dtype, number):
    x = hy.linspace(-4, 4, 4099).to(dtype)
    xc = x.cuda()
    for fn in (lambda t: t * number, lambda t: t + number, lambda t: t - number, lambda t: t / number,
               lambda t: hy.add(t, t, alpha=number), lambda t: hy.maximum(t, hy.tensor(number))):
        got, want = fn(xc).cpu(), fn(x)
        assert got.dtype == want.dtype == dtype
        assert np.array_equal(got.to(hy.float32).numpy(), want.to(hy.float32).numpy())


def test_fill_checks_the_value_and_keeps_large_int64_exact():
    for device in ("cpu", "cuda"):
        with pytest.raises(ValueError):
            hy.zeros(3, dtype=hy.int32, device=device).fill_(float("nan"))
        with pytest.raises((ValueError, OverflowError)):
            hy.zeros(3, dtype=hy.int32, device=device).fill_(2 ** 40)
    big = 2 ** 60 + 1
    t = hy.zeros(5, dtype=hy.int64, device="cuda").fill_(big)
    assert t.cpu().tolist() == [big] * 5
    assert hy.full([3], -big, dtype=hy.int64, device="cuda").cpu().tolist() == [-big] * 3
    s = hy.zeros(4, 4, dtype=hy.int64, device="cuda")[:, 1].fill_(big)  # a strided view
    assert s.cpu().tolist() == [big] * 4


@pytest.mark.parametrize("dtype", [hy.float16, hy.bfloat16])
def test_16_bit_fill_rounds_through_float32_like_the_cpu(dtype):
    # The CPU's fill_ converts double -> float32 -> 16 bits. These values sit a hair above a 16-bit tie
    # that the float32 rounding lands exactly on (then ties-to-even), so rounding the double straight to
    # 16 bits gives the next value up.
    tie = {hy.float16: 2.0 ** -11, hy.bfloat16: 2.0 ** -8}[dtype]
    for value in (1 + tie + 2.0 ** -40, -(1 + tie + 2.0 ** -40), 2 * (1 + tie + 2.0 ** -40), 0.1, 1 / 3):
        want = hy.full([5], value, dtype=dtype)
        for got in (hy.full([5], value, dtype=dtype, device="cuda"),
                    hy.zeros(5, 2, dtype=dtype, device="cuda")[:, 0].fill_(value)):  # strided: the 0-d path
            assert got.cpu().to(hy.float32).tolist() == want.to(hy.float32).tolist(), value
