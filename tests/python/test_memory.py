"""The CPU block cache behind every CPU allocation (csrc/core/cpu_block_cache.h) and hy.memory: reuse of
freed blocks, statistics, release, the size bounds, thread safety, the HYFLOW_CPU_CACHE=0 switch, and that
a block is never reused while a view of it is alive."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import hyflow as hy

MIB = 1 << 20

pytestmark = pytest.mark.skipif(not hy.memory.stats()["enabled"],
                                reason="the block cache is off (sanitizer build or HYFLOW_CPU_CACHE=0)")


@pytest.fixture(autouse=True)
def _empty_cache():
    hy.memory.empty_cache()
    hy.memory.reset_counters()
    yield
    hy.memory.empty_cache()


def test_freed_block_is_reused_by_the_next_allocation_of_its_size():
    a = hy.empty(MIB // 4)          # 1 MiB of float32
    ptr = a.data_ptr()
    del a
    s = hy.memory.stats()
    assert s["cached_blocks"] == 1 and s["cached_bytes"] >= MIB
    b = hy.empty(MIB // 4)
    assert b.data_ptr() == ptr
    s = hy.memory.stats()
    assert s["hits"] == 1 and s["cached_blocks"] == 0 and s["cached_bytes"] == 0


def test_nearby_sizes_share_a_size_class():
    a = hy.empty(300_000)           # 1.2 MB: the class of 1.25 MiB serves 1.15 MB too
    ptr = a.data_ptr()
    del a
    b = hy.empty(290_000)
    assert b.data_ptr() == ptr and hy.memory.stats()["hits"] == 1


def test_small_blocks_are_not_cached():
    small = hy.memory.stats()["min_block_bytes"] // 4 - 16   # float32 elements below the threshold
    a = hy.empty(small)
    del a
    s = hy.memory.stats()
    assert s["cached_blocks"] == 0 and s["hits"] == 0 and s["misses"] == 0


def test_block_larger_than_the_limit_is_freed_not_cached():
    limit = hy.memory.stats()["limit_bytes"]
    a = hy.empty(limit // 4 + MIB)  # uninitialized: no page is touched
    del a
    assert hy.memory.stats()["cached_bytes"] == 0


def test_cache_stays_within_its_limit():
    limit = hy.memory.stats()["limit_bytes"]
    blocks = [hy.empty(limit // 4 // 3) for _ in range(5)]   # five blocks of a third of the limit each
    del blocks
    s = hy.memory.stats()
    assert 0 < s["cached_bytes"] <= limit and s["cached_blocks"] <= 3


def test_empty_cache_releases_every_cached_block():
    tensors = [hy.empty(MIB // 4 * k) for k in (1, 2, 3)]
    del tensors
    before = hy.memory.stats()
    assert before["cached_blocks"] == 3
    hy.memory.empty_cache()
    after = hy.memory.stats()
    assert after["cached_blocks"] == 0 and after["cached_bytes"] == 0
    assert after["released_bytes"] == before["cached_bytes"]


def test_block_is_not_reused_while_a_view_of_it_is_alive():
    base = hy.arange(MIB // 4, dtype=hy.float32)
    view = base[1000:2000]
    ptr = base.data_ptr()
    del base                        # the view keeps the storage alive: nothing goes to the cache
    assert hy.memory.stats()["cached_blocks"] == 0
    other = hy.zeros(MIB // 4)
    assert other.data_ptr() != ptr
    np.testing.assert_array_equal(view.numpy(), np.arange(1000, 2000, dtype=np.float32))
    del view                        # the last reference: now the block is cached and reused
    again = hy.empty(MIB // 4)
    assert again.data_ptr() == ptr


def test_block_shared_with_numpy_is_not_reused_while_the_array_is_alive():
    t = hy.arange(MIB // 4, dtype=hy.float32)
    arr = t.numpy()                 # shares the storage
    ptr = t.data_ptr()
    del t
    other = hy.full([MIB // 4], -1.0)
    assert other.data_ptr() != ptr
    np.testing.assert_array_equal(arr[:5], np.arange(5, dtype=np.float32))


def test_threads_allocating_and_freeing_at_once_get_correct_results():
    # Large ops release the GIL, so the pool's threads and these Python threads take and give blocks
    # concurrently; every result must be right and the books must balance.
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        for _ in range(30):
            n = int(rng.integers(20_000, 200_000))
            a = hy.tensor(rng.standard_normal(n).astype(np.float32))
            b = hy.tensor(rng.standard_normal(n).astype(np.float32))
            got = ((a + b) * 2.0).numpy()
            want = (a.numpy() + b.numpy()) * np.float32(2.0)
            if not np.array_equal(got, want):
                errors.append(seed)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s = hy.memory.stats()
    assert s["hits"] > 0 and 0 <= s["cached_bytes"] <= s["limit_bytes"]


def test_env_var_disables_the_cache():
    code = ("import hyflow as hy\n"
            "a = hy.empty(1 << 20); p = a.data_ptr(); del a\n"
            "s = hy.memory.stats()\n"
            "print(s['enabled'], s['cached_blocks'], s['hits'])\n")
    env = dict(os.environ, HYFLOW_CPU_CACHE="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "0", "0"]
