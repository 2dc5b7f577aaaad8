"""hy.einsum and hy.meshgrid (python/hyflow/_einsum.py) against torch and NumPy: equations, ellipsis,
diagonals, broadcasting, gradients, and errors that name the bad subscript."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close, gradcheck

rng = np.random.default_rng(0)


def arr(*shape):
    return rng.standard_normal(shape)


EQUATIONS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ji", [(3, 3, 2)]),
    ("ijk,ikl,lm->jm", [(2, 3, 4), (2, 4, 5), (5, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("b...,b...->b", [(3, 2, 2), (3, 2, 2)]),
    ("...ij->ij", [(2, 3, 4)]),
    ("i...->...", [(2, 3)]),
    ("iJ", [(2, 3)]),
    ("ij,kj", [(2, 3), (1, 3)]),
    ("ij,ij->ij", [(2, 3), (1, 3)]),
    (" ij , jk -> ik ", [(2, 3), (3, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ab,cd,bc->ad", [(2, 3), (4, 5), (3, 4)]),
]


@pytest.mark.parametrize("eq,shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_matches_torch(eq, shapes):
    torch = pytest.importorskip("torch")
    arrays = [arr(*s) for s in shapes]
    expected = torch.einsum(eq, *[torch.from_numpy(a) for a in arrays]).numpy()
    got = hy.einsum(eq, *[hy.tensor(a) for a in arrays])
    assert tuple(got.shape) == expected.shape
    assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_einsum_call_forms():
    a, b = hy.tensor(arr(2, 3)), hy.tensor(arr(3, 4))
    ref = (a @ b).numpy()
    assert_close(hy.einsum("ij,jk->ik", [a, b]), ref)
    assert_close(hy.einsum(a, [0, 1], b, [1, 2], [0, 2]), ref)
    assert_close(hy.einsum(a, [0, Ellipsis], [Ellipsis]), a.sum(0).numpy())


def test_einsum_integers():
    a = hy.tensor([[1, 2], [3, 4]])
    assert hy.einsum("ij,jk->ik", a, a).tolist() == [[7, 10], [15, 22]]


@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]),
                                       ("bij,bj->bi", [(2, 3, 2), (2, 2)]), ("i,i,i->", [(3,), (3,), (3,)])])
def test_einsum_gradients(eq, shapes):
    inputs = tuple(hy.tensor(arr(*s)).requires_grad_(True) for s in shapes)
    assert gradcheck(lambda *xs: hy.einsum(eq, *xs), inputs)


@pytest.mark.parametrize("eq,shapes,match", [
    ("ij,jk", [(2, 3), (4, 5)], "subscript j has size 4 for operand 1 which does not broadcast with previously seen size 3"),
    ("i1", [(2, 3)], r"invalid subscript '1' at index 1"),
    ("ij->ik", [(2, 3)], "output subscript k does not appear"),
    ("ij->ii", [(2, 3)], "output subscript i appears more than once"),
    ("ij", [(2, 3, 4)], r"the number of subscripts in term 0 \('ij': 2\) does not match the 3 dims of operand 0 and no ellipsis"),
    ("ij,jk", [(2, 3)], "the equation 'ij,jk' has 2 operand term.* but 1 operand"),
    ("i..j", [(2, 3)], "'.' that is not part of an ellipsis"),
    ("...i...", [(2, 3)], "a second ellipsis"),
    ("ii", [(2, 3)], "subscript i is repeated for operand 0 but the sizes don't match, 3 != 2"),
])
def test_einsum_errors_name_the_subscript(eq, shapes, match):
    with pytest.raises(ValueError, match=r"einsum\(\): " + match):
        hy.einsum(eq, *[hy.zeros(*s) for s in shapes])


def test_einsum_rejects_non_tensors():
    with pytest.raises(TypeError, match="operand 1 must be a Tensor"):
        hy.einsum("i,i", hy.zeros(2), [1.0, 2.0])


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch_and_numpy(indexing):
    torch = pytest.importorskip("torch")
    xs = [np.arange(3.0), np.arange(4.0) + 10, np.arange(2.0) - 5]
    expected = torch.meshgrid(*[torch.from_numpy(x) for x in xs], indexing=indexing)
    got = hy.meshgrid(*[hy.tensor(x) for x in xs], indexing=indexing)
    assert len(got) == 3
    for g, e, n in zip(got, expected, np.meshgrid(*xs, indexing=indexing)):
        np.testing.assert_array_equal(g.numpy(), e.numpy())
        np.testing.assert_array_equal(g.numpy(), n)
    a, b = hy.meshgrid([hy.tensor([1, 2]), hy.tensor(7)])  # a list, a 0-d tensor, default "ij"
    assert a.tolist() == [[1], [2]] and b.tolist() == [[7], [7]]


def test_meshgrid_gradient_sums_over_the_grid():
    x, y = hy.tensor([1.0, 2.0], requires_grad=True), hy.tensor([1.0, 2.0, 3.0], requires_grad=True)
    gx, gy = hy.meshgrid(x, y, indexing="ij")
    (gx * gy).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0] and y.grad.tolist() == [3.0, 3.0, 3.0]


def test_meshgrid_errors():
    with pytest.raises(ValueError, match="indexing must be 'ij' or 'xy'"):
        hy.meshgrid(hy.zeros(2), indexing="ji")
    with pytest.raises(ValueError, match="tensor 1 has shape"):
        hy.meshgrid(hy.zeros(2), hy.zeros(2, 2))
    with pytest.raises(RuntimeError, match="same dtype"):
        hy.meshgrid(hy.zeros(2), hy.zeros(2, dtype=hy.int64))
    with pytest.raises(ValueError, match="non-empty"):
        hy.meshgrid()
