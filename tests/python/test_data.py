"""hy.data: TensorDataset, Dataset subclasses, DataLoader batching/shuffling/samplers and default_collate."""
import collections

import numpy as np
import pytest

import hyflow as hy
from hyflow.data import DataLoader, Dataset, TensorDataset, default_collate


def make_dataset(n=10):
    x = hy.arange(n * 3, dtype=hy.float32).reshape(n, 3)
    y = hy.arange(n)
    return TensorDataset(x, y)


def rows(batches):
    """The y values (sample ids) of each batch, as lists."""
    return [batch[1].tolist() for batch in batches]


class Squares(Dataset):
    """A map-style dataset computed on the fly, returning (tensor, int, dict) samples."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return hy.full((2,), float(i * i)), i, {"id": i, "name": f"s{i}"}


# ---------------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------------
def test_tensor_dataset_rows():
    ds = make_dataset(4)
    assert len(ds) == 4
    x, y = ds[2]
    assert x.tolist() == [6.0, 7.0, 8.0] and y.item() == 2
    assert ds[-1][1].item() == 3


def test_tensor_dataset_bad_input():
    with pytest.raises(ValueError, match="same first dim"):
        TensorDataset(hy.zeros(3, 2), hy.zeros(4))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(hy.tensor(1.0))
    with pytest.raises(TypeError, match="not a hyflow Tensor"):
        TensorDataset(np.zeros(3))


def test_dataset_base_class_needs_overrides():
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


# ---------------------------------------------------------------------------------------------------
# Batching
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size,drop_last,expected", [
    (1, False, [[i] for i in range(10)]),
    (3, False, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]),
    (3, True, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
    (5, True, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]),
    (20, False, [list(range(10))]),
    (20, True, []),
])
def test_sequential_batches_and_len(batch_size, drop_last, expected):
    loader = DataLoader(make_dataset(), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert rows(batches) == expected
    assert len(loader) == len(expected)
    for x, y in batches:
        assert x.shape == (len(y.tolist()), 3)
        assert x[:, 0].tolist() == [3.0 * i for i in y.tolist()]


def test_fast_path_matches_per_item_collate():
    ds = make_dataset(11)
    g1, g2 = hy.Generator(seed=5), hy.Generator(seed=5)
    fast = list(DataLoader(ds, batch_size=4, shuffle=True, generator=g1))
    slow = list(DataLoader(ds, batch_size=4, shuffle=True, generator=g2, collate_fn=default_collate))
    assert len(fast) == len(slow) == 3
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert isinstance(fx, hy.Tensor) and fx.dtype == sx.dtype and fx.shape == sx.shape
        assert fx.tolist() == sx.tolist() and fy.tolist() == sy.tolist()


def test_batches_are_copies_not_views_of_the_dataset():
    ds = make_dataset(6)
    for x, _ in DataLoader(ds, batch_size=3):
        x.fill_(-1.0)
    for x, _ in DataLoader(ds, batch_size=3, sampler=[5, 0, 2]):
        x.fill_(-1.0)
    assert ds.tensors[0].min().item() == 0.0


def test_empty_dataset():
    ds = TensorDataset(hy.zeros(0, 3))
    loader = DataLoader(ds, batch_size=4)
    assert list(loader) == [] and len(loader) == 0


# ---------------------------------------------------------------------------------------------------
# Shuffling
# ---------------------------------------------------------------------------------------------------
def epoch_order(loader):
    return [i for batch in rows(loader) for i in batch]


def test_shuffle_is_a_permutation_reproducible_from_the_seed():
    ds = make_dataset(50)
    first = DataLoader(ds, batch_size=7, shuffle=True, generator=hy.Generator(seed=1))
    second = DataLoader(ds, batch_size=7, shuffle=True, generator=hy.Generator(seed=1))
    other = DataLoader(ds, batch_size=7, shuffle=True, generator=hy.Generator(seed=2))
    epochs = [epoch_order(first) for _ in range(3)]
    assert all(sorted(order) == list(range(50)) for order in epochs)
    assert epochs[0] != list(range(50))
    assert epochs[0] != epochs[1] != epochs[2]                  # a new permutation each epoch
    assert epochs == [epoch_order(second) for _ in range(3)]    # the same seed, the same sequence of epochs
    assert epoch_order(other) != epochs[0]


def test_shuffle_without_generator_follows_manual_seed():
    ds = make_dataset(30)
    hy.manual_seed(123)
    a = epoch_order(DataLoader(ds, batch_size=4, shuffle=True))
    hy.manual_seed(123)
    b = epoch_order(DataLoader(ds, batch_size=4, shuffle=True))
    assert a == b and sorted(a) == list(range(30))


def test_shuffle_with_drop_last():
    loader = DataLoader(make_dataset(10), batch_size=4, shuffle=True, drop_last=True, generator=hy.Generator(seed=0))
    batches = rows(loader)
    assert len(loader) == len(batches) == 2 and all(len(b) == 4 for b in batches)
    assert len(set(sum(batches, []))) == 8


# ---------------------------------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------------------------------
class EveryOther:
    """A sampler-like object: iterable of indices with a length (how a DistributedSampler plugs in)."""

    def __init__(self, n, offset):
        self.indices = list(range(offset, n, 2))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


@pytest.mark.parametrize("sampler", [[4, 1, 1, 9, -1], range(8, 2, -2), np.array([3, 0, 7]), EveryOther(10, 1)],
                         ids=["list", "range", "ndarray", "object"])
def test_sampler_order_is_used(sampler):
    loader = DataLoader(make_dataset(10), batch_size=2, sampler=sampler)
    expected = [i % 10 for i in sampler]
    assert epoch_order(loader) == expected
    assert len(loader) == (len(expected) + 1) // 2


def test_sampler_without_len_iterates_but_has_no_len():
    loader = DataLoader(make_dataset(10), batch_size=3, sampler=(i for i in [2, 4, 6, 8]))
    with pytest.raises(TypeError, match="sampler with __len__"):
        len(loader)
    assert rows(loader) == [[2, 4, 6], [8]]


def test_out_of_range_sampler_index():
    with pytest.raises(IndexError, match="out of range"):
        list(DataLoader(make_dataset(5), batch_size=2, sampler=[0, 5]))


# ---------------------------------------------------------------------------------------------------
# Collation of general datasets
# ---------------------------------------------------------------------------------------------------
def test_default_collate_on_tuples_numbers_and_dicts():
    loader = DataLoader(Squares(5), batch_size=2)
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    values, ints, meta = batches[1]
    assert values.shape == (2, 2) and values[:, 0].tolist() == [4.0, 9.0]
    assert ints.dtype == hy.int64 and ints.tolist() == [2, 3]
    assert meta["id"].tolist() == [2, 3] and meta["name"] == ["s2", "s3"]
    assert batches[2][0].shape == (1, 2)


def test_default_collate_containers():
    Point = collections.namedtuple("Point", "x y")
    out = default_collate([Point(hy.ones(2), 1.5), Point(hy.zeros(2), 2.5)])
    assert isinstance(out, Point) and out.x.shape == (2, 2)
    assert out.y.dtype == hy.float64 and out.y.tolist() == [1.5, 2.5]
    out = default_collate([[True, np.float32(1)], [False, np.float32(2)]])
    assert isinstance(out, list) and out[0].dtype == hy.bool and out[1].tolist() == [1.0, 2.0]
    assert default_collate([np.ones(3), np.zeros(3)]).shape == (2, 3)
    with pytest.raises(ValueError, match="different keys"):
        default_collate([{"a": 1}, {"b": 2}])
    with pytest.raises(ValueError, match="different lengths"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="cannot batch samples of type object"):
        default_collate([object(), object()])


def test_custom_collate_fn():
    loader = DataLoader(make_dataset(5), batch_size=2, collate_fn=lambda samples: [int(y.item()) for _, y in samples])
    assert list(loader) == [[0, 1], [2, 3], [4]]


# ---------------------------------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [0, -1, 2.0, True])  # None turns batching off (as torch)
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(make_dataset(), batch_size=batch_size)


def test_bad_loader_arguments():
    with pytest.raises(ValueError, match="exclusive"):
        DataLoader(make_dataset(), shuffle=True, sampler=[0, 1])
    with pytest.raises(TypeError, match="iterable of indices"):
        DataLoader(make_dataset(), sampler=5)
    with pytest.raises(TypeError, match="hyflow Generator"):
        DataLoader(make_dataset(), shuffle=True, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="callable"):
        DataLoader(make_dataset(), collate_fn="stack")
