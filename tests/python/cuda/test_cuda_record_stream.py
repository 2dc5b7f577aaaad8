"""Tensor.record_stream and the caching allocator (docs/cuda.md, "Caching allocator"): a block freed while
another stream it was recorded on still has work queued is not handed out again before that work ends.

The other stream is held busy by a stream gate (hy._C._cuda_stream_gate, docs/cuda.md "Stream gate"): a
kernel that waits until the test opens it, so "still has work queued" holds for exactly as long as the
checks run, on any GPU. While a stream is held nothing may wait for the device: no allocation reaches
cudaMalloc (every block the held part uses is made before the gate closes: cudaMalloc/cudaFree may wait
for the device), no Python number joins an op queued on the held stream (it is copied there
synchronously), no hy.cuda.synchronize()."""
import threading
import time

import pytest

import hyflow as hy
from hyflow import _C
from hyflow.testing import assert_close

N = 1 << 22  # 16 MiB of float32: one block of its own size class


def pending():
    """Blocks held back for recorded streams; reading the statistics first moves those whose events have
    completed to their free lists (CachingAllocator::stats), so this is the allocator's state now."""
    return _C._cuda_memory_stats(0)["pending_frees"]


@pytest.fixture
def gate():
    g = _C._cuda_stream_gate(0)
    yield g
    g.open()  # a failed check must not leave its stream held until the timeout
    assert not g.timed_out


def fresh_cache():
    """No cached blocks: every block a test frees is then the only one of its size class it can get back."""
    hy.cuda.synchronize()
    hy.cuda.empty_cache()


def test_without_record_stream_the_block_comes_back_at_once():
    # The control: this is what record_stream prevents (the allocator only knows the allocation stream).
    fresh_cache()
    x = hy.ones(N, device="cuda")
    ptr = x.data_ptr()
    del x
    y = hy.empty(N, device="cuda")
    assert y.data_ptr() == ptr


def test_recorded_block_waits_for_the_other_stream(gate):
    fresh_cache()
    side = hy.cuda.Stream()
    spare = hy.empty(N, device="cuda")  # the block the allocation below must get instead of x's
    x = hy.ones(N, device="cuda")
    acc = hy.zeros(N, device="cuda")
    ptr, spare_ptr = x.data_ptr(), spare.data_ptr()
    side.wait_stream(hy.cuda.current_stream())  # x and acc are written before the side stream uses them
    gate.close(side)
    with hy.cuda.stream(side):
        acc.add_(x)  # queued behind the gate: it reads x only after open()
    done = side.record_event()
    x.record_stream(side)
    x.record_stream(side)  # twice is once
    x.record_stream(hy.cuda.current_stream())  # its own stream: nothing to wait for
    del x  # first: were its block freed at once, it would be the first of the free list
    del spare
    assert pending() == 1
    assert not done.query()  # the side stream is provably still busy
    y = hy.empty(N, device="cuda")  # same stream, same size class: gets the spare, not the busy block
    assert y.data_ptr() == spare_ptr != ptr
    assert pending() == 1
    gate.open()
    side.synchronize()
    assert pending() == 0  # the event has completed: the block is free again
    z = hy.empty(N, device="cuda")
    assert z.data_ptr() == ptr
    assert_close(acc[:4].cpu(), hy.ones(4))


def test_block_recorded_on_two_streams_waits_for_both(gate):
    fresh_cache()
    s1, s2 = hy.cuda.Stream(), hy.cuda.Stream()
    x = hy.ones(N, device="cuda")
    ptr = x.data_ptr()
    gate.close(s2)  # only the second stream is held
    x.record_stream(s1)
    x.record_stream(s2)
    del x
    s1.synchronize()
    assert pending() == 1  # s1's event has completed, s2's has not
    gate.open()
    s2.synchronize()
    assert pending() == 0
    assert hy.empty(N, device="cuda").data_ptr() == ptr


def test_empty_cache_waits_for_recorded_streams(gate):
    fresh_cache()
    side = hy.cuda.Stream()
    x = hy.ones(N, device="cuda")
    side.wait_stream(hy.cuda.current_stream())
    gate.close(side)
    x.record_stream(side)
    del x
    assert pending() == 1
    reserved = hy.cuda.memory_reserved()
    opener = threading.Timer(0.2, gate.open)  # empty_cache releases the GIL while it waits
    start = time.perf_counter()
    opener.start()
    hy.cuda.empty_cache()  # waits for the side stream, so for the gate, then releases the block
    waited = time.perf_counter() - start
    opener.join()
    assert waited >= 0.19, f"empty_cache returned after {waited:.3f} s, before the gate opened"
    assert pending() == 0
    assert reserved - hy.cuda.memory_reserved() >= 4 * N
    side.synchronize()


def test_bad_arguments():
    x = hy.ones(4, device="cuda")
    with pytest.raises(TypeError, match="hy.cuda.Stream"):
        x.record_stream(0)
    with pytest.raises(ValueError, match="CUDA tensor"):
        hy.ones(4).record_stream(hy.cuda.current_stream())


def test_recorded_blocks_on_two_gpus():
    # The allocator reuses its completed events; one made on cuda:0 cannot be recorded on a cuda:1 stream
    # (the allocator would then synchronize the whole device and free the block at once).
    if hy.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    for dev in (0, 1, 0, 1):
        hy.cuda.synchronize(dev)
        gate = _C._cuda_stream_gate(dev)
        side = hy.cuda.Stream(device=dev)
        x = hy.ones(N, device=f"cuda:{dev}")
        acc = hy.zeros(N, device=f"cuda:{dev}")
        side.wait_stream(hy.cuda.current_stream(dev))
        try:
            gate.close(side)
            with hy.cuda.stream(side):
                acc.add_(x)  # held behind the gate until open()
            x.record_stream(side)
            del x
            assert _C._cuda_memory_stats(dev)["pending_frees"] == 1
        finally:
            gate.open()
        side.synchronize()
        assert not gate.timed_out
        assert _C._cuda_memory_stats(dev)["pending_frees"] == 0
        assert_close(acc[:4].cpu(), hy.ones(4))
