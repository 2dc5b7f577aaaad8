"""DataLoader(num_workers=N): real worker processes, torch's seeding, errors, timeouts and clean shutdown."""
import gc
import multiprocessing
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import hyflow as hy
from hyflow.utils.data import DataLoader, Dataset, TensorDataset, get_worker_info

pytestmark = pytest.mark.forks  # DataLoader workers fork the test process (conftest.py)


class Numbers(Dataset):
    """Sample i -> (i as a float tensor, the id of the worker that made it, a draw from each RNG)."""

    def __init__(self, n=23, fail_at=None, sleep_s=0.0, exit_at=None):
        self.n, self.fail_at, self.sleep_s, self.exit_at = n, fail_at, sleep_s, exit_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"no sample {i}")
        if i == self.exit_at:
            os._exit(3)
        time.sleep(self.sleep_s)
        info = get_worker_info()
        return (hy.tensor([float(i)]), -1 if info is None else info.id, random.random(), float(np.random.rand()),
                float(hy.rand(1).item()))


def ids(batches):
    return [b[0].reshape([-1]).tolist() for b in batches]


def live_children():
    """Worker processes still running once every dropped iterator is collected (an exception's traceback keeps
    the iterator's frame alive until the exception itself is gone)."""
    gc.collect()
    return multiprocessing.active_children()


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_workers_give_the_single_process_batches_in_order(start_method):
    ref = list(DataLoader(Numbers(), batch_size=4))
    got = list(DataLoader(Numbers(), batch_size=4, num_workers=3, multiprocessing_context=start_method))
    assert ids(got) == ids(ref)
    # round-robin: batch k comes from worker k % 3, and every sample of a batch from the same worker
    assert [set(b[1].tolist()) for b in got] == [{k % 3} for k in range(len(got))]
    assert ref[0][1].tolist() == [-1] * 4
    assert not live_children()


def test_tensor_dataset_shuffle_and_prefetch_factor():
    x = hy.arange(40.).reshape(20, 2)
    loader = DataLoader(TensorDataset(x), batch_size=6, shuffle=True, num_workers=2, prefetch_factor=1,
                        generator=hy.Generator(seed=3))
    first = [b[0][:, 0].tolist() for b in loader]
    second = [b[0][:, 0].tolist() for b in loader]
    assert sorted(sum(first, [])) == list(range(0, 40, 2)) and first != second
    again = DataLoader(TensorDataset(x), batch_size=6, shuffle=True, num_workers=2, generator=hy.Generator(seed=3))
    assert [b[0][:, 0].tolist() for b in again] == first   # same seed, same epochs


def test_workers_are_seeded_like_torch():
    hy.manual_seed(7)
    a = list(DataLoader(Numbers(8), batch_size=2, num_workers=2))
    hy.manual_seed(7)
    b = list(DataLoader(Numbers(8), batch_size=2, num_workers=2))
    draws = lambda batches, k: [v for batch in batches for v in batch[k].tolist()]  # noqa: E731
    for k in (2, 3, 4):   # Python random, NumPy's global RNG, hyflow's default generator
        assert draws(a, k) == draws(b, k)          # reproducible from hy.manual_seed
        by_worker = {w: draws(a[w::2], k) for w in (0, 1)}
        assert by_worker[0] != by_worker[1]        # but different in each worker
    c = list(DataLoader(Numbers(8), batch_size=2, num_workers=2))   # the next iterator draws a new base seed
    assert draws(c, 4) != draws(a, 4)


class SeedRecorder(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info()
        return hy.tensor([info.seed, info.id, info.num_workers, len(info.dataset), os.getpid()], dtype=hy.int64)


def test_worker_info_seed_is_base_seed_plus_id():
    rows = [b.reshape([-1]).tolist() for b in DataLoader(SeedRecorder(), batch_size=1, num_workers=2)]
    seeds = {r[1]: r[0] for r in rows}
    assert seeds[1] == seeds[0] + 1
    assert all(r[2] == 2 and r[3] == 4 for r in rows)
    assert os.getpid() not in {r[4] for r in rows} and len({r[4] for r in rows}) == 2
    assert get_worker_info() is None


def _init_marks_worker(worker_id):
    random.seed(1000 + worker_id)


def _init_fails(worker_id):
    raise ValueError(f"init failed in {worker_id}")


def test_worker_init_fn_runs_in_each_worker_after_seeding():
    got = list(DataLoader(Numbers(4), batch_size=1, num_workers=2, worker_init_fn=_init_marks_worker))
    for wid in (0, 1):
        draws = [b[2].item() for b in got if b[1].item() == wid]
        expected = random.Random(1000 + wid)
        assert draws == [expected.random() for _ in draws]


def test_worker_init_fn_error_is_raised_naming_the_worker():
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker process \d.*init failed"):
        list(DataLoader(Numbers(4), batch_size=1, num_workers=2, worker_init_fn=_init_fails))
    assert not live_children()


def test_dataset_error_is_reraised_with_its_type_worker_and_traceback():
    loader = DataLoader(Numbers(12, fail_at=9), batch_size=2, num_workers=2)
    it = iter(loader)
    assert ids([next(it) for _ in range(4)]) == [[0., 1.], [2., 3.], [4., 5.], [6., 7.]]
    with pytest.raises(KeyError) as info:
        next(it)
    msg = str(info.value)
    assert "Caught KeyError in DataLoader worker process 0" in msg and "no sample 9" in msg
    assert "__getitem__" in msg   # the worker's traceback travels with it
    assert ids([next(it)]) == [[10., 11.]]   # the iterator goes on, as torch's does
    del it, info
    assert not live_children()


def test_unpicklable_batch_is_an_error_not_a_hang():
    loader = DataLoader(Numbers(4), batch_size=2, num_workers=1, collate_fn=lambda samples: (lambda: 0), timeout=30)
    with pytest.raises(Exception, match="(?s)Caught .* in DataLoader worker process 0"):
        list(loader)


def test_timeout_raises():
    loader = DataLoader(Numbers(4, sleep_s=3.0), batch_size=1, num_workers=1, timeout=0.3)
    it = iter(loader)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.3 seconds"):
        next(it)
    assert time.monotonic() - t0 < 2.5   # the worker is still sleeping in __getitem__
    del it
    assert not live_children()


def test_a_worker_that_dies_is_reported():
    loader = DataLoader(Numbers(8, exit_at=2), batch_size=1, num_workers=2)
    with pytest.raises(RuntimeError, match=r"DataLoader worker\(s\) exited unexpectedly .*exit code 3"):
        list(loader)
    assert not live_children()


def test_breaking_out_of_an_epoch_shuts_the_workers_down():
    loader = DataLoader(Numbers(40), batch_size=2, num_workers=2)
    for batch in loader:
        break
    del batch
    assert not live_children()


def test_persistent_workers_serve_every_epoch_with_the_same_processes():
    loader = DataLoader(SeedRecorder(), batch_size=1, num_workers=2, persistent_workers=True)
    pids = [{b[0, 4].item() for b in loader} for _ in range(3)]
    assert pids[0] == pids[1] == pids[2] and len(pids[0]) == 2
    it = iter(loader)
    next(it)                                    # abandon this epoch after one batch
    assert len(list(loader)) == 4               # the next epoch is whole, without leftovers
    assert len(live_children()) == 2
    del loader, it
    assert not multiprocessing.active_children()   # at once, without waiting for a garbage collection


def test_pin_memory_is_accepted_and_batches_equal():
    x = hy.arange(12.).reshape(6, 2)
    got = list(DataLoader(TensorDataset(x), batch_size=4, pin_memory=True, num_workers=1))
    assert [b[0].tolist() for b in got] == [x[:4].tolist(), x[4:].tolist()]


def test_worker_arguments_are_checked():
    ds = Numbers(4)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, num_workers=1, prefetch_factor=0)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="timeout"):
        DataLoader(ds, num_workers=1, timeout=-1)
    with pytest.raises(TypeError, match="worker_init_fn"):
        DataLoader(ds, num_workers=1, worker_init_fn=3)
    with pytest.raises(ValueError, match="multiprocessing_context"):
        DataLoader(ds, num_workers=1, multiprocessing_context="no-such-method")


def test_loader_with_persistent_workers_pickles_without_them():
    loader = DataLoader(Numbers(4), batch_size=2, num_workers=1, persistent_workers=True)
    list(loader)
    copy = pickle.loads(pickle.dumps(loader))
    assert ids(list(copy)) == [[0., 1.], [2., 3.]]
    del copy


def test_workers_exit_when_the_parent_is_killed(tmp_path):
    script = textwrap.dedent("""
        import os, signal, sys, time
        import hyflow as hy
        from hyflow.utils.data import DataLoader, TensorDataset
        loader = DataLoader(TensorDataset(hy.arange(100.)), batch_size=1, num_workers=2, persistent_workers=True)
        next(iter(loader))
        import multiprocessing
        print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=os.environ)
    assert out.returncode == -signal.SIGKILL, out.stderr
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2

    def running(pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                return "\nState:\tZ" not in f.read()
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 15
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(running(p) for p in pids), "orphaned DataLoader workers"


# --- IterableDataset: each worker iterates its own copy


class Stream(hy.data.IterableDataset):
    """0..n-1 as floats; shard=True splits the range between the workers with get_worker_info (torch's example),
    shard=False gives every worker the whole range. fail_at raises inside the stream, fail_iter in iter()."""

    def __init__(self, n=11, shard=True, per_worker=None, fail_at=None, fail_iter=False, lib=None):
        self.n, self.shard, self.per_worker, self.fail_at, self.fail_iter = n, shard, per_worker, fail_at, fail_iter
        self.lib = lib

    def __iter__(self):
        if self.fail_iter:
            raise OSError("cannot open the shard")
        info = (self.lib or hy.data).get_worker_info()
        if info is None or not self.shard:
            items = range(self.n)
        elif self.per_worker is not None:       # uneven shards: worker k has per_worker[k] items
            start = sum(self.per_worker[:info.id])
            items = range(start, start + self.per_worker[info.id])
        else:
            items = range(info.id, self.n, info.num_workers)
        for i in items:
            if i == self.fail_at:
                raise KeyError(f"no sample {i}")
            yield float(i)


def torch_batches(kwargs, **stream):
    torch = pytest.importorskip("torch")

    class TStream(torch.utils.data.IterableDataset):
        def __init__(self):
            self.inner = Stream(lib=torch.utils.data, **stream)

        def __iter__(self):
            return iter(self.inner)

    return [b.tolist() if hasattr(b, "tolist") else b for b in torch.utils.data.DataLoader(TStream(), **kwargs)]


def hy_batches(kwargs, **stream):
    return [b.tolist() if hasattr(b, "tolist") else b for b in DataLoader(Stream(**stream), **kwargs)]


@pytest.mark.filterwarnings("ignore:This DataLoader will create")  # torch, on a 2-core machine
@pytest.mark.parametrize("stream", [dict(n=11), dict(n=11, shard=False), dict(per_worker=[1, 5, 2]),
                                    dict(per_worker=[0, 3, 0])])
@pytest.mark.parametrize("kwargs", [dict(batch_size=2), dict(batch_size=2, drop_last=True), dict(batch_size=None),
                                    dict(batch_size=3, prefetch_factor=1)])
def test_iterable_workers_round_robin_like_torch(stream, kwargs):
    kwargs = dict(kwargs, num_workers=3)
    got = hy_batches(kwargs, **stream)
    assert got == torch_batches(kwargs, **stream)
    if stream == dict(n=11, shard=False) and kwargs["batch_size"] is None:
        assert got == [float(i) for i in range(11) for _ in range(3)]   # unsharded: every worker yields everything
    assert not live_children()


def test_iterable_workers_with_spawn_and_len():
    loader = DataLoader(Stream(10), batch_size=4, num_workers=2, multiprocessing_context="spawn")
    assert [b.tolist() for b in loader] == [[0., 2., 4., 6.], [1., 3., 5., 7.], [8.], [9.]]
    with pytest.raises(TypeError, match="has no len"):
        len(loader)


def test_iterable_worker_error_is_reraised_with_its_traceback_and_the_others_go_on():
    it = iter(DataLoader(Stream(12, fail_at=4), batch_size=None, num_workers=2))
    assert [next(it) for _ in range(4)] == [0., 1., 2., 3.]
    with pytest.raises(KeyError) as info:
        next(it)
    msg = str(info.value)
    assert "Caught KeyError in DataLoader worker process 0" in msg and "no sample 4" in msg and "__iter__" in msg
    # worker 0's stream ended with its error (a generator that raised is finished); worker 1 carries on alone
    assert list(it) == [5., 7., 9., 11.]
    del it, info
    assert not live_children()


def test_iterable_iter_and_init_errors_are_raised_once():
    it = iter(DataLoader(Stream(fail_iter=True), num_workers=2))
    for worker in (0, 1):
        with pytest.raises(OSError, match=f"(?s)worker process {worker}.*cannot open the shard"):
            next(it)
    assert list(it) == []
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker process 0.*init failed"):
        list(DataLoader(Stream(4), num_workers=1, worker_init_fn=_init_fails))
    del it
    assert not live_children()


def test_iterable_persistent_workers_restart_the_stream_each_epoch():
    loader = DataLoader(Stream(9), batch_size=2, num_workers=2, persistent_workers=True)
    want = [[0., 2.], [1., 3.], [4., 6.], [5., 7.], [8.]]
    assert [b.tolist() for b in loader] == want
    it = iter(loader)
    next(it)                                       # abandon this epoch after one batch
    assert [b.tolist() for b in loader] == want    # the next one starts over, without leftovers
    assert [b.tolist() for b in loader] == want
    assert len(live_children()) == 2
    del loader, it
    assert not multiprocessing.active_children()


class SizedStream(Stream):
    def __len__(self):
        return 3


def test_iterable_len_warning_with_workers():
    loader = DataLoader(SizedStream(10, shard=False), batch_size=None, num_workers=2)
    assert len(loader) == 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len([b for b in loader]) == 20       # both workers yield all 10: torch warns for batches 4..20
    assert [str(w.message).split("but ")[1].split(" have")[0] for w in caught] == \
        [f"{k} samples" for k in range(4, 21)]
    assert all("For multiprocessing data-loading" in str(w.message) and w.filename == __file__ for w in caught)
