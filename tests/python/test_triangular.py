"""tril / triu beyond the OpInfo table (tests/python/opinfo/triangular.py): in-place variants, gradients,
torch agreement and bad arguments."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import gradcheck


def test_in_place_variants_write_self():
    x = hy.ones(3, 3)
    v = x._version
    assert x.tril_() is x and x._version > v
    assert x.tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    y = hy.ones(2, 3)
    y.triu_(1)
    assert y.tolist() == [[0, 1, 1], [0, 0, 1]]


def test_in_place_on_a_transposed_view():
    base = hy.tensor(np.arange(12.0).reshape(3, 4))
    t = base.transpose(0, 1)  # (4, 3), not contiguous
    expected = np.tril(np.arange(12.0).reshape(3, 4).T)
    t.tril_()
    np.testing.assert_array_equal(t.numpy(), expected)
    np.testing.assert_array_equal(base.numpy(), expected.T)


def test_matches_torch_for_causal_masks():
    torch = pytest.importorskip("torch")
    for d in (-2, 0, 1, 5):
        assert hy.tril(hy.ones(4, 6), diagonal=d).tolist() == torch.tril(torch.ones(4, 6), diagonal=d).tolist()
        assert hy.ones(4, 6).triu(d).tolist() == torch.ones(4, 6).triu(d).tolist()
    mask = hy.tril(hy.ones(3, 3, dtype=hy.bool))
    assert mask.dtype == hy.bool and mask.tolist() == torch.tril(torch.ones(3, 3, dtype=torch.bool)).tolist()


def test_gradient_keeps_the_triangle():
    x = hy.tensor(np.random.default_rng(0).standard_normal((2, 3, 3)), requires_grad=True)
    x.tril(-1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.tril(np.ones((2, 3, 3)), -1))
    assert gradcheck(lambda t: t.triu(1) * 2, (hy.tensor(np.ones((3, 4)), requires_grad=True),))


@pytest.mark.parametrize("op", ["tril", "triu"])
def test_fewer_than_two_dims_raise(op):
    with pytest.raises(ValueError, match=f"{op}: input tensor must have at least 2 dimensions"):
        getattr(hy, op)(hy.zeros(3))


def test_huge_diagonals_keep_all_or_nothing():
    x = hy.ones(2, 2)
    assert hy.tril(x, 2**62).tolist() == [[1, 1], [1, 1]]
    assert hy.tril(x, -2**62).tolist() == [[0, 0], [0, 0]]
    assert hy.triu(x, -2**62).tolist() == [[1, 1], [1, 1]]
