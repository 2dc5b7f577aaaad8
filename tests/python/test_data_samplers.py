"""hy.utils.data: Subset, random_split, ConcatDataset, the samplers, and DataLoader's sampler / batch_sampler /
batch_size=None / collate_fn / drop_last rules, against torch.utils.data where the result is deterministic."""
import collections
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import hyflow as hy
from hyflow.utils import data

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def ids(n=10):
    return data.TensorDataset(hy.arange(n))


class Plain(data.Dataset):
    """A non-TensorDataset map-style dataset: sample i is i (an int)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i


def batches(loader):
    return [b[0].tolist() if isinstance(b, (tuple, list)) else b.tolist() for b in loader]


# --- datasets

def test_subset_and_concat_index_like_torch():
    base, tbase = Plain(10), list(range(10))
    sub, tsub = data.Subset(base, [7, 2, 5]), tdata.Subset(tbase, [7, 2, 5])
    assert len(sub) == len(tsub) == 3 and [sub[i] for i in range(3)] == [tsub[i] for i in range(3)] == [7, 2, 5]
    cat = data.ConcatDataset([Plain(3), sub, Plain(2)])
    tcat = tdata.ConcatDataset([list(range(3)), tsub, list(range(2))])
    assert len(cat) == len(tcat) == 8 and cat.cumulative_sizes == tcat.cumulative_sizes == [3, 6, 8]
    assert [cat[i] for i in range(-8, 8)] == [tcat[i] for i in range(-8, 8)]
    with pytest.raises(IndexError, match="out of range"):
        cat[8]
    with pytest.raises(ValueError, match="empty"):
        data.ConcatDataset([])
    assert len(Plain(2) + Plain(3)) == 5 and isinstance(Plain(2) + Plain(3), data.ConcatDataset)


def test_subset_of_tensor_dataset_batches_like_row_indexing():
    x = hy.arange(20).reshape(10, 2)
    sub = data.Subset(data.TensorDataset(x, hy.arange(10)), [9, 0, 4, 4, 1])
    got = list(data.DataLoader(sub, batch_size=2))
    expect = [[[18, 19], [0, 1]], [[8, 9], [8, 9]], [[2, 3]]]
    assert [b[0].tolist() for b in got] == expect and [b[1].tolist() for b in got] == [[9, 0], [4, 4], [1]]


@pytest.mark.parametrize("n,lengths,sizes", [(10, [3, 7], [3, 7]), (10, [0.3, 0.7], [3, 7]),
                                             (11, [0.5, 0.5], [6, 5]), (10, [1 / 3] * 3, [4, 3, 3]),
                                             (7, [0.1, 0.1, 0.8], [1, 1, 5])])
def test_random_split_lengths_and_fractions_like_torch(n, lengths, sizes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = data.random_split(Plain(n), lengths, generator=hy.Generator(seed=0))
        tparts = tdata.random_split(list(range(n)), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(p) for p in tparts] == sizes
    seen = sorted(i for p in parts for i in (p[k] for k in range(len(p))))
    assert seen == list(range(n))  # a partition of the dataset


def test_random_split_is_reproducible_and_checks_lengths():
    a = data.random_split(Plain(20), [5, 15], generator=hy.Generator(seed=3))
    b = data.random_split(Plain(20), [5, 15], generator=hy.Generator(seed=3))
    assert a[0].indices == b[0].indices and a[1].indices == b[1].indices
    hy.manual_seed(1)
    c = data.random_split(Plain(20), [0.5, 0.5])
    hy.manual_seed(1)
    assert data.random_split(Plain(20), [0.5, 0.5])[0].indices == c[0].indices  # default generator
    with pytest.raises(ValueError, match="sum of input lengths"):
        data.random_split(Plain(10), [3, 3])
    with pytest.raises(ValueError, match="fractions"):
        data.random_split(Plain(10), [0.5, 0.6])
    with pytest.raises(TypeError, match="hyflow Generator"):
        data.random_split(Plain(10), [5, 5], generator=torch.Generator())
    with pytest.warns(UserWarning, match="split at index 1 is 0"):
        assert [len(p) for p in data.random_split(Plain(2), [0.1, 0.1, 0.8])] == [1, 0, 1]


# --- samplers

def test_sequential_and_batch_sampler_like_torch():
    assert list(data.SequentialSampler(range(5))) == list(tdata.SequentialSampler(range(5)))
    for drop_last in (False, True):
        ours = data.BatchSampler(data.SequentialSampler(range(10)), 3, drop_last)
        theirs = tdata.BatchSampler(tdata.SequentialSampler(range(10)), 3, drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    with pytest.raises(ValueError, match="batch_size"):
        data.BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last"):
        data.BatchSampler(range(3), 2, 1)


def test_random_sampler_modes():
    g = hy.Generator(seed=0)
    s = data.RandomSampler(range(10), generator=g)
    e1, e2 = list(s), list(s)
    assert sorted(e1) == sorted(e2) == list(range(10)) and e1 != e2 and len(s) == 10  # new order per epoch
    assert list(data.RandomSampler(range(10), generator=hy.Generator(seed=0))) == e1  # reproducible
    more = list(data.RandomSampler(range(4), num_samples=10, generator=g))  # chained permutations, the last cut
    assert len(more) == 10 and sorted(more[:4]) == sorted(more[4:8]) == list(range(4)) and len(set(more[8:])) == 2
    rep = list(data.RandomSampler(range(3), replacement=True, num_samples=300, generator=g))
    assert len(rep) == 300 and set(rep) == {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples"):
        data.RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        data.RandomSampler(range(3), replacement=1)


def test_subset_random_and_weighted_samplers():
    g = hy.Generator(seed=1)
    s = data.SubsetRandomSampler([10, 20, 30, 40], generator=g)
    assert sorted(s) == [10, 20, 30, 40] and len(s) == 4
    w = data.WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=4000, generator=g)
    counts = collections.Counter(w)
    assert len(w) == 4000 and counts[0] == 0 and 0.2 < counts[1] / 4000 < 0.3
    distinct = list(data.WeightedRandomSampler(hy.tensor([1.0, 0.0, 2.0, 5.0]), 3, replacement=False, generator=g))
    assert sorted(distinct) == [0, 2, 3]
    again = data.WeightedRandomSampler([1.0, 2.0], 5, generator=hy.Generator(seed=4))
    assert list(again) == list(data.WeightedRandomSampler([1.0, 2.0], 5, generator=hy.Generator(seed=4)))
    for bad, match in [(([-1.0, 2.0], 2), "non-negative"), (([0.0, 0.0], 2), "positive sum"),
                       (([[1.0]], 1), "1-D"), (([1.0, 2.0], 0), "num_samples"),
                       (([float("nan"), 1.0], 1), "finite")]:
        with pytest.raises(ValueError, match=match):
            data.WeightedRandomSampler(*bad)
    with pytest.raises(ValueError, match="without replacement"):
        data.WeightedRandomSampler([1.0, 0.0], 2, replacement=False)


def test_utils_data_is_a_package_holding_hyflow_datas_own_objects():
    # A real module (mypy resolves `from hyflow.utils.data import DataLoader`: test_stubs.py), not a copy:
    # every public name is hy.data's object, so isinstance checks agree across the two paths.
    assert data is not hy.data and data.__file__.endswith(os.path.join("utils", "data", "__init__.py"))
    assert data.__all__ == hy.data.__all__
    for name in hy.data.__all__:
        assert getattr(data, name) is getattr(hy.data, name), name
    # and importing it does not import hyflow.distributed (DistributedSampler loads on first use)
    code = "import sys, hyflow.utils.data; assert 'hyflow.distributed' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], env=dict(os.environ)).returncode == 0


def test_distributed_sampler_under_torchs_paths():
    from hyflow.utils.data.distributed import DistributedSampler as FromSubmodule
    assert data.DistributedSampler is FromSubmodule is hy.distributed.DistributedSampler
    s = data.DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False)
    t = tdata.DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False)
    assert list(s) == list(t) and len(s) == len(t) and isinstance(s, data.Sampler)


# --- DataLoader interplay

def test_loader_default_samplers_are_torchs_classes():
    loader = data.DataLoader(ids(), batch_size=4)
    assert isinstance(loader.sampler, data.SequentialSampler) and loader.batch_sampler is None
    shuffled = data.DataLoader(ids(), batch_size=4, shuffle=True, generator=hy.Generator(seed=0))
    assert isinstance(shuffled.sampler, data.RandomSampler) and shuffled.sampler.generator is shuffled.generator
    assert sorted(sum(batches(shuffled), [])) == list(range(10))


@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_with_batch_sampler_like_torch(drop_last):
    bs = data.BatchSampler(data.SequentialSampler(range(10)), 4, drop_last)
    tbs = tdata.BatchSampler(tdata.SequentialSampler(range(10)), 4, drop_last)
    ours = data.DataLoader(ids(), batch_sampler=bs)
    theirs = tdata.DataLoader(tdata.TensorDataset(torch.arange(10)), batch_sampler=tbs)
    assert batches(ours) == [b[0].tolist() for b in theirs] and len(ours) == len(theirs)
    assert ours.batch_size is None and ours.drop_last is False
    # any iterable of index lists works, also with a plain dataset and a custom collate_fn
    custom = data.DataLoader(Plain(6), batch_sampler=[[5, 0], [3]], collate_fn=lambda s: tuple(s))
    assert list(custom) == [(5, 0), (3,)]


@pytest.mark.parametrize("kw", [dict(batch_size=2), dict(shuffle=True), dict(sampler=[0, 1]), dict(drop_last=True)])
def test_batch_sampler_is_exclusive_with_the_other_options(kw):
    with pytest.raises(ValueError, match="mutually exclusive"):
        data.DataLoader(ids(), batch_sampler=[[0, 1]], **kw)
    with pytest.raises(ValueError, match="mutually exclusive"):
        tdata.DataLoader(list(range(10)), batch_sampler=[[0, 1]], **kw)


def test_batch_size_none_turns_batching_off_like_torch():
    ds = [np.full(2, i, dtype=np.float32) for i in range(3)]
    ours = list(data.DataLoader(ds, batch_size=None))
    theirs = list(tdata.DataLoader(ds, batch_size=None))
    assert [o.tolist() for o in ours] == [t.tolist() for t in theirs] and all(isinstance(o, hy.Tensor) for o in ours)
    assert len(data.DataLoader(ds, batch_size=None)) == 3
    # with a sampler, and a collate_fn that sees single samples
    loader = data.DataLoader(Plain(5), batch_size=None, sampler=[4, 2], collate_fn=lambda s: s * 10)
    assert list(loader) == [40, 20]
    with pytest.raises(ValueError, match="drop_last"):
        data.DataLoader(ds, batch_size=None, drop_last=True)


@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_collate_and_drop_last_together_like_torch(drop_last):
    order = [9, 3, 4, 1, 0, 7, 2]
    collate = lambda samples: sum(samples)  # noqa: E731
    ours = data.DataLoader(Plain(10), batch_size=3, sampler=order, collate_fn=collate, drop_last=drop_last)
    theirs = tdata.DataLoader(list(range(10)), batch_size=3, sampler=order, collate_fn=collate, drop_last=drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.forks
def test_weighted_sampler_in_a_loader_with_workers():
    w = data.WeightedRandomSampler([0.0] * 5 + [1.0] * 5, num_samples=12, generator=hy.Generator(seed=2))
    loader = data.DataLoader(ids(), batch_size=4, sampler=w, num_workers=2)
    got = sum(batches(loader), [])
    assert len(got) == 12 and all(i >= 5 for i in got)


def test_random_split_subsets_in_a_shuffled_loader():
    train, val = data.random_split(ids(20), [0.75, 0.25], generator=hy.Generator(seed=0))
    seen = sum(batches(data.DataLoader(train, batch_size=4, shuffle=True, generator=hy.Generator(seed=1))), [])
    assert sorted(seen) == sorted(train.indices) and len(val) == 5


# --- iterable-style datasets


def make_stream(lib):
    """An IterableDataset of lib (hy.utils.data or torch.utils.data) yielding 0..n-1, with __len__ if sized."""

    class Stream(lib.IterableDataset):
        def __init__(self, n, length=None):
            self.n, self.length = n, length if length is not None else n

        def __iter__(self):
            return iter(range(self.n))

    class Sized(Stream):
        def __len__(self):
            return self.length

    return Stream, Sized


Stream, SizedStream = make_stream(data)
TStream, TSizedStream = make_stream(tdata)


def values(loader):
    return [b.tolist() if hasattr(b, "tolist") else b for b in loader]


def test_iterable_dataset_is_abstract_has_no_len_and_adds_to_a_chain():
    with pytest.raises(TypeError, match="abstract"):
        data.IterableDataset()
    s = Stream(3)
    assert isinstance(s, data.Dataset) and isinstance(s, data.IterableDataset)
    with pytest.raises(TypeError, match="object of type 'Stream' has no len()"):
        len(s)
    with pytest.raises(NotImplementedError):
        s[0]
    chain = s + Stream(2)
    assert type(chain) is data.ChainDataset and list(chain) == [0, 1, 2, 0, 1] == list(TStream(3) + TStream(2))
    assert len(SizedStream(3) + SizedStream(4)) == 7
    with pytest.raises(TypeError, match="has no len"):
        len(chain)
    # a map-style member fails when the chain reaches it, as in torch
    bad = data.ChainDataset([s, ids(2)])
    it = iter(bad)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        next(it)
    with pytest.raises(AssertionError, match="ConcatDataset does not support IterableDataset"):
        data.ConcatDataset([ids(2), s])
    with pytest.raises(AssertionError, match="ConcatDataset does not support IterableDataset"):
        ids(2) + s  # Dataset.__add__ makes a ConcatDataset, as torch's
    assert data.IterableDataset is hy.data.IterableDataset
    for name in ("IterableDataset", "ChainDataset", "StackDataset"):
        assert name in data.__all__ and hasattr(tdata, name)


def test_stack_dataset_tuple_and_dict_like_torch():
    a, b = hy.arange(4), [10, 11, 12, 13]
    s, ts = data.StackDataset(ids(4), a, b), tdata.StackDataset(tdata.TensorDataset(torch.arange(4)), torch.arange(4), b)
    assert len(s) == len(ts) == 4
    assert s[2][0][0].item() == 2 and s[2][1].item() == 2 and s[2][2] == 12
    d = data.StackDataset(x=a, y=b)
    assert d[3]["x"].item() == 3 and d[3]["y"] == 13 and list(d[0]) == ["x", "y"]
    got = list(data.DataLoader(d, batch_size=3))
    want = list(tdata.DataLoader(tdata.StackDataset(x=torch.arange(4), y=b), batch_size=3))
    assert [{k: v.tolist() for k, v in g.items()} for g in got] == [{k: v.tolist() for k, v in w.items()} for w in want]
    for lib, arr in ((data, hy.arange(3)), (tdata, torch.arange(3))):
        with pytest.raises(ValueError, match="At least one dataset should be passed"):
            lib.StackDataset()
        with pytest.raises(ValueError, match="but both types are given"):
            lib.StackDataset(arr, y=arr)
        with pytest.raises(ValueError, match="Size mismatch between datasets"):
            lib.StackDataset(arr, arr[:2])
        with pytest.raises(ValueError, match="Size mismatch between datasets"):
            lib.StackDataset(x=arr, y=[1])


@pytest.mark.parametrize("n", [0, 1, 5, 6, 7])
@pytest.mark.parametrize("kwargs", [dict(), dict(batch_size=2), dict(batch_size=3, drop_last=True),
                                    dict(batch_size=None), dict(batch_size=2, shuffle=False)])
def test_iterable_loader_batches_like_torch(n, kwargs):
    got = values(data.DataLoader(Stream(n), **kwargs))
    assert got == values(tdata.DataLoader(TStream(n), **kwargs))
    if kwargs.get("batch_size", 1) is None:
        assert got == list(range(n))   # no batching: the samples through default_convert


def test_iterable_loader_collate_fn_and_chain():
    got = list(data.DataLoader(Stream(5), batch_size=2, collate_fn=lambda samples: samples))
    assert got == [[0, 1], [2, 3], [4]]
    assert list(data.DataLoader(Stream(3), batch_size=None, collate_fn=lambda x: x * 10)) == [0, 10, 20]
    assert values(data.DataLoader(Stream(3) + Stream(2), batch_size=2)) == [[0, 1], [2, 0], [1]]


def test_iterable_loader_refuses_samplers_like_torch():
    for kwargs, what in [(dict(shuffle=True), "shuffle option, but got shuffle=True"),
                         (dict(sampler=[0]), r"sampler option, but got sampler=\[0\]"),
                         (dict(batch_sampler=[[0]]), r"batch_sampler option, but got batch_sampler=\[\[0\]\]")]:
        for lib, stream in ((data, Stream), (tdata, TStream)):
            with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified " + what):
                lib.DataLoader(stream(3), **kwargs)
    with pytest.raises(ValueError, match="drop_last"):
        data.DataLoader(Stream(3), batch_size=None, drop_last=True)


@pytest.mark.parametrize("kwargs", [dict(), dict(batch_size=2), dict(batch_size=2, drop_last=True),
                                    dict(batch_size=None)])
def test_iterable_loader_len_and_its_warning_like_torch(kwargs):
    with pytest.raises(TypeError, match="object of type 'Stream' has no len()"):
        len(data.DataLoader(Stream(3), **kwargs))
    # a dataset that claims 3 samples but yields 5: len() is 3 in batches, and iterating warns (as torch does)
    loader, tloader = data.DataLoader(SizedStream(5, length=3), **kwargs), tdata.DataLoader(TSizedStream(5, length=3),
                                                                                           **kwargs)
    assert len(loader) == len(tloader)
    messages, got = [], []
    for lib_loader in (loader, tloader):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got.append(values(lib_loader))
        messages.append([str(w.message).split(" was reported")[1] for w in caught
                         if "Length of IterableDataset" in str(w.message)])
    assert got[0] == got[1] and messages[0] == messages[1]
    # counted in batches against the dataset's samples, as torch does
    assert messages[0] == [f" to be 3(when accessing len(dataloader)), but {k} samples have been fetched. "
                           for k in range(4, len(got[0]) + 1)]
    # list(loader) asks len(loader) itself, but only after iter(): nothing warns, as with torch
    for lib, stream in ((data, SizedStream), (tdata, TSizedStream)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            list(lib.DataLoader(stream(5, length=3), **kwargs))
