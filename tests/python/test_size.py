"""hy.Size (issue 14): t.shape and t.size() are torch.Size's counterpart, a tuple subclass with torch's
repr, slicing, concatenation and numel(), checked against torch.Size where torch is installed."""
import copy
import pickle

import pytest

import hyflow as hy


def test_shape_and_size_are_sizes_equal_to_plain_tuples():
    t = hy.zeros(2, 3)
    for s in (t.shape, t.size()):
        assert type(s) is hy.Size and isinstance(s, tuple)
        assert s == (2, 3) and (2, 3) == s and s != [2, 3] and hash(s) == hash((2, 3))
        assert {s: 1}[(2, 3)] == 1
    assert type(t.shape[0]) is int and t.shape[-1] == 3 and type(t.size(1)) is int
    assert type(hy.tensor(1.0).shape) is hy.Size and hy.tensor(1.0).shape == ()
    assert t.shape is not t.shape  # a new object per read, as a tuple would be (nothing cached on the tensor)


def test_repr_slicing_concatenation_repeat_and_numel():
    s = hy.Size([2, 3, 4])
    assert repr(s) == "hyflow.Size([2, 3, 4])" and str(s) == repr(s) and f"{s}" == repr(s)
    assert repr(hy.Size()) == "hyflow.Size([])"
    assert type(s[1:]) is hy.Size and s[1:] == (3, 4) and s[::-1] == (4, 3, 2) and type(s[:]) is hy.Size
    assert type(s + (5,)) is hy.Size and s + (5,) == (2, 3, 4, 5)
    assert type((1,) + s) is hy.Size and (1,) + s == (1, 2, 3, 4)
    assert type(s * 2) is hy.Size and type(2 * s) is hy.Size and s * 2 == (2, 3, 4) * 2
    with pytest.raises(TypeError):
        s + [5]
    with pytest.raises(TypeError):
        s * 2.0
    assert s.numel() == 24 and hy.Size([]).numel() == 1 and hy.Size([0, 5]).numel() == 0
    assert hy.Size([2 ** 40, 2 ** 40]).numel() == 2 ** 80  # Python ints: exact beyond int64
    assert list(s) == [2, 3, 4] and s.index(3) == 1 and s.count(2) == 1 and len(s) == 3 and 4 in s
    a, b, c = s
    assert (a, b, c) == (2, 3, 4)


def test_constructor_takes_an_iterable_of_ints():
    assert hy.Size() == () and hy.Size((2, 3)) == (2, 3) and hy.Size(i for i in range(3)) == (0, 1, 2)
    assert hy.Size([hy.tensor(3)]) == (3,)  # a 0-d integer tensor is an index, as in torch
    assert type(hy.Size([hy.tensor(3)])[0]) is int
    with pytest.raises(TypeError, match=r"iterable of 'int' \(item 1 is 'float'\)"):
        hy.Size([2, 2.5])
    with pytest.raises(TypeError, match="iterable of 'int'"):
        hy.Size(3)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'sizes'"):
        hy.Size(sizes=[2])
    with pytest.raises(TypeError):
        hy.Size([2], [3])


def test_sizes_feed_back_into_factories_and_views():
    x = hy.ones(2, 3)
    assert hy.zeros(x.shape).shape == (2, 3) and hy.zeros(*x.shape).shape == (2, 3)
    assert x.view(hy.Size([3, 2])).shape == (3, 2) and x.reshape(x.shape[::-1]).shape == (3, 2)
    assert x.expand(hy.Size([4, 2, 3])).shape == (4, 2, 3)
    assert x.new_zeros(x.shape).shape == x.shape


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_and_copy_keep_the_type(protocol):
    s = hy.zeros(2, 3).shape
    back = pickle.loads(pickle.dumps(s, protocol=protocol))
    assert type(back) is hy.Size and back == s
    assert type(copy.copy(s)) is hy.Size and type(copy.deepcopy(s)) is hy.Size


def test_indexing_stays_tuples_own_c_code():
    # t.shape[0] is read in hot Python loops: Size is a C type (csrc/bindings/size_type.cpp), so indexing is
    # no Python-level __getitem__ (docs/tensors.md has the measured cost).
    assert type(hy.Size.__dict__["__getitem__"]).__name__ == "wrapper_descriptor"
    assert "__dict__" not in dir(hy.Size([1]))  # no per-instance dict: the layout is a tuple's


def test_matches_torch_size():
    torch = pytest.importorskip("torch")
    for dims in ([], [2], [2, 3, 4], [0, 7]):
        ours, theirs = hy.Size(dims), torch.Size(dims)
        assert repr(ours).replace("hyflow.", "torch.") == repr(theirs)
        assert ours.numel() == theirs.numel() and ours == theirs and hash(ours) == hash(theirs)
        for result_ours, result_theirs in ((ours[1:], theirs[1:]), (ours + (1,), theirs + (1,)),
                                           ((1,) + ours, (1,) + theirs), (ours * 2, theirs * 2)):
            assert result_ours == result_theirs
            assert type(result_ours).__name__ == type(result_theirs).__name__ == "Size"
    assert hy.zeros(2, 3).shape == torch.zeros(2, 3).shape and hy.zeros(2, 3).size() == torch.zeros(2, 3).size()
