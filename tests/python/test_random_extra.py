"""multinomial beyond the OpInfo table (tests/python/opinfo/random.py): frequencies, sampling without
replacement, generators and reproducibility, and the errors torch raises; uniform draws in 16-bit dtypes."""
import numpy as np
import pytest

import hyflow as hy


def test_frequencies_follow_the_weights():
    w = hy.tensor([1.0, 0.0, 3.0, 6.0])
    draws = hy.multinomial(w, 40000, replacement=True, generator=hy.Generator(seed=1)).numpy()
    freq = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.3, 0.6], atol=0.01)


def test_without_replacement_draws_distinct_categories():
    g = hy.Generator(seed=2)
    w = hy.tensor([[1.0, 2.0, 3.0, 4.0, 0.0], [5.0, 1.0, 1.0, 1.0, 1.0]], dtype=hy.float64)
    for _ in range(20):
        s = w.multinomial(4, generator=g)
        assert s.shape == (2, 4) and s.dtype == hy.int64
        for row in s.tolist():
            assert len(set(row)) == 4
        assert 4 not in s[0].tolist()  # zero weight: never drawn
    # The first draw without replacement is distributed like one draw with replacement.
    first = np.array([hy.multinomial(w[0], 1, generator=g).item() for _ in range(4000)])
    np.testing.assert_allclose(np.bincount(first, minlength=5) / 4000, [0.1, 0.2, 0.3, 0.4, 0.0], atol=0.03)


def test_same_generator_state_same_draws():
    w = hy.rand(3, 10, generator=hy.Generator(seed=5))
    a = hy.multinomial(w, 6, True, generator=hy.Generator(seed=7))
    b = hy.multinomial(w, 6, True, generator=hy.Generator(seed=7))
    assert a.tolist() == b.tolist()
    hy.manual_seed(11)
    c = hy.multinomial(w, 3)
    hy.manual_seed(11)
    assert hy.multinomial(w, 3).tolist() == c.tolist()


@pytest.mark.parametrize("weights,kwargs,err,match", [
    ([0.5, -0.1, 0.6], {}, RuntimeError, "inf, nan or element < 0"),
    ([0.5, float("inf")], {}, RuntimeError, "inf, nan or element < 0"),
    ([0.5, float("nan")], {}, RuntimeError, "inf, nan or element < 0"),
    ([0.0, 0.0], {}, RuntimeError, r"sum of probabilities <= 0"),
    ([0.5, 0.5], {"num_samples": 3}, RuntimeError, r"cannot sample num_samples=3 > 2 categories without replacement"),
    ([0.5, 0.0, 0.0], {"num_samples": 2}, RuntimeError, "not enough non-zero categories"),
    ([0.5, 0.5], {"num_samples": 0}, ValueError, "num_samples must be positive"),
    ([[[0.5]]], {}, ValueError, "must be 1-D or 2-D"),
])
def test_bad_distributions_raise(weights, kwargs, err, match):
    kwargs = {"num_samples": 1, **kwargs}
    with pytest.raises(err, match="multinomial: .*" + match):
        hy.multinomial(hy.tensor(weights), **kwargs)


def test_integer_weights_are_refused():
    with pytest.raises(TypeError, match="multinomial"):
        hy.multinomial(hy.tensor([1, 2]), 1)


def test_with_replacement_may_draw_more_than_the_categories():
    s = hy.multinomial(hy.tensor([0.0, 1.0]), 5, replacement=True)
    assert s.tolist() == [1, 1, 1, 1, 1]


@pytest.mark.parametrize("dtype, digits", [("bfloat16", 8), ("float16", 11)])
def test_16_bit_uniform_draws_stay_below_one(dtype, digits):
    # A 24-bit draw rounded to 8 or 11 significand bits used to reach 1.0 (about 1 in 512 for bfloat16).
    hy.manual_seed(3)
    r = hy.rand(200_000, dtype=getattr(hy, dtype)).double().numpy()
    assert r.min() >= 0 and r.max() < 1
    steps = r * 2.0 ** digits
    np.testing.assert_array_equal(steps, np.round(steps))        # multiples of 2^-digits: exact in the dtype
    assert len(np.unique(steps)) > 0.9 * 2 ** digits              # and all of them drawn
    t = hy.empty(100_000, dtype=getattr(hy, dtype)).uniform_(0.0, 1.0)
    assert t.double().max().item() < 1
