"""Tensor.record_stream and the caching allocator (docs/cuda.md, "Caching allocator"): a block freed while
another stream it was recorded on still has work queued is not handed out again before that work ends."""
import pytest

import hyflow as hy
from hyflow import _C
from hyflow.testing import assert_close

N = 1 << 22  # 16 MiB of float32: one block of its own size class


def pending():
    return _C._cuda_memory_stats(0)["pending_frees"]


def busy(stream, x, rounds=200):
    """Queue ~hundreds of milliseconds of work reading `x` on `stream` (a margin of several orders of
    magnitude over the few host calls that follow, so the checks below do not race the GPU)."""
    with hy.cuda.stream(stream):
        acc = hy.zeros_like(x)
        for _ in range(rounds):
            acc = acc + x * 1.0001
    return acc


def test_without_record_stream_the_block_comes_back_at_once():
    # The control: this is what record_stream prevents (the allocator only knows the allocation stream).
    hy.cuda.synchronize()
    x = hy.ones(N, device="cuda")
    ptr = x.data_ptr()
    del x
    y = hy.empty(N, device="cuda")
    assert y.data_ptr() == ptr


def test_recorded_block_waits_for_the_other_stream():
    hy.cuda.synchronize()
    side = hy.cuda.Stream()
    x = hy.ones(N, device="cuda")
    side.wait_stream(hy.cuda.current_stream())  # x is written before the side stream reads it
    ptr = x.data_ptr()
    acc = busy(side, x)
    x.record_stream(side)
    x.record_stream(side)  # twice is once
    x.record_stream(hy.cuda.current_stream())  # its own stream: nothing to wait for
    del x
    assert pending() == 1
    y = hy.empty(N, device="cuda")  # same stream, same size class: must not get the busy block
    assert y.data_ptr() != ptr
    side.synchronize()
    assert pending() == 0  # the event has completed: the block is free again
    z = hy.empty(N, device="cuda")
    assert z.data_ptr() == ptr
    assert_close(acc[:4].cpu(), hy.full((4,), 200 * 1.0001))


def test_empty_cache_waits_for_recorded_streams():
    hy.cuda.synchronize()
    side = hy.cuda.Stream()
    x = hy.ones(N, device="cuda")
    side.wait_stream(hy.cuda.current_stream())
    busy(side, x, rounds=50)
    x.record_stream(side)
    del x
    hy.cuda.empty_cache()  # waits for the side stream, then releases the block
    assert pending() == 0
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
        side = hy.cuda.Stream(device=dev)
        x = hy.ones(N, device=f"cuda:{dev}")
        side.wait_stream(hy.cuda.current_stream(dev))
        acc = busy(side, x)
        x.record_stream(side)
        del x
        assert _C._cuda_memory_stats(dev)["pending_frees"] == 1
        side.synchronize()
        assert _C._cuda_memory_stats(dev)["pending_frees"] == 0
        assert_close(acc[:4].cpu(), hy.full((4,), 200 * 1.0001))
