"""Copies, pinned memory, streams, events and the caching allocator on a real GPU."""
import hyflow as hy
from hyflow.testing import assert_close


def test_round_trip_keeps_values_and_dtype():
    for dt in (hy.float32, hy.float64, hy.float16, hy.bfloat16, hy.int32, hy.int64, hy.bool):
        x = (hy.arange(24) % 5).to(dt).reshape(2, 3, 4)
        y = x.cuda()
        assert y.device == "cuda:0" and y.dtype == dt
        assert_close(y.cpu(), x)
        assert_close(x.transpose(0, 2).cuda().cpu(), x.transpose(0, 2))  # strided source


def test_pinned_non_blocking_copy():
    x = hy.randn(1 << 20).pin_memory()
    assert x.is_pinned()
    y = x.to("cuda", non_blocking=True)
    z = y.to("cpu", non_blocking=False)
    assert_close(z, x)


def test_streams_and_events():
    s = hy.cuda.Stream()
    start, end = hy.cuda.Event(enable_timing=True), hy.cuda.Event(enable_timing=True)
    with hy.cuda.stream(s):
        assert hy.cuda.current_stream() == s
        start.record()
        x = hy.ones(1 << 22, device="cuda")
        y = (x * 2).sum()
        end.record()
    assert hy.cuda.current_stream() != s
    end.synchronize()
    assert end.query()
    assert start.elapsed_time(end) >= 0
    s.synchronize()
    assert y.item() == 2 * (1 << 22)


def test_allocator_reuses_blocks_and_reports():
    hy.cuda.synchronize()
    hy.cuda.empty_cache()
    base = hy.cuda.memory_allocated()
    x = hy.empty(1 << 20, device="cuda")
    assert hy.cuda.memory_allocated() >= base + (4 << 20)
    reserved = hy.cuda.memory_reserved()
    del x
    assert hy.cuda.memory_allocated() == base
    for _ in range(100):  # the same size class is served from the cache: nothing new reserved
        y = hy.empty(1 << 20, device="cuda")
        del y
    assert hy.cuda.memory_reserved() == reserved
    assert hy.cuda.max_memory_allocated() >= base + (4 << 20)
    hy.cuda.empty_cache()
    assert hy.cuda.memory_reserved() < reserved


def test_allocator_stress_many_sizes():
    rng = __import__("random").Random(0)
    live = []
    for i in range(2000):
        live.append(hy.empty(rng.randint(1, 1 << 18), device="cuda"))
        if len(live) > 50:
            live.pop(rng.randrange(len(live)))
    del live
    hy.cuda.synchronize()
    hy.cuda.empty_cache()


def test_oom_is_a_clear_error():
    import pytest
    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        hy.empty(1 << 50, dtype=hy.uint8 if hasattr(hy, "uint8") else hy.bool, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA out of memory"):  # the size class must not overflow int64
        hy.empty((1 << 63) - 1000, dtype=hy.bool, device="cuda")


def test_values_reach_python_through_a_host_copy():
    x = hy.arange(4, dtype=hy.float32).cuda()
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0] and x[2:3].sum().item() == 2.0
    assert "device='cuda:0'" in repr(x)
    import pytest
    with pytest.raises(TypeError, match="cpu"):
        x.numpy()


def test_dlpack_shares_device_memory_with_torch():
    import pytest
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    x = hy.arange(6, dtype=hy.float32).cuda()
    assert x.__dlpack_device__() == (2, 0)
    t = torch.from_dlpack(x)
    assert t.device.type == "cuda" and t.data_ptr() == x.data_ptr()
    t.mul_(2)
    assert x.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    back = hy.from_dlpack(torch.arange(3.0, device="cuda"))
    assert back.device == "cuda:0" and back.tolist() == [0.0, 1.0, 2.0]


def test_a_reported_cuda_error_is_not_raised_again_by_the_next_launch():
    import pytest
    # cudaGetDeviceProperties of a GPU that does not exist fails (cudaErrorInvalidDevice, not sticky); the
    # kernels' launch check (cudaGetLastError) must not see that already reported failure again.
    with pytest.raises(RuntimeError, match="CUDA error"):
        hy._C._cuda_device_name(hy.cuda.device_count())
    assert (hy.ones(3, device="cuda") + 1).tolist() == [2.0, 2.0, 2.0]


def test_dlpack_copy_is_ordered_before_the_consumer_stream():
    # __dlpack__(stream=s, copy=True): the copy runs on our current stream, so the consumer's stream s must
    # wait for the copy itself, not only for the work queued before it. Large enough that an unordered
    # read on s would see the copy unfinished.
    side = hy.cuda.Stream()
    x = hy.arange(1 << 24, dtype=hy.float32, device="cuda") * 3
    cap = x.__dlpack__(stream=side.cuda_stream, copy=True, max_version=(1, 0))
    y = hy.from_dlpack(cap)
    assert y.data_ptr() != x.data_ptr()
    with hy.cuda.stream(side):
        s = y.sum()
    side.synchronize()
    assert s.item() == x.sum().item()  # the same reduction plan: bit for bit when y holds x


def test_event_before_its_first_record():
    e = hy.cuda.Event()
    assert e.query()
    e.synchronize()
    hy.cuda.current_stream().wait_event(e)  # nothing recorded: nothing to wait for
    import pytest
    with pytest.raises(RuntimeError, match="recorded"):
        e.elapsed_time(hy.cuda.Event())


def test_streams_and_events_follow_their_own_device():
    import pytest
    if hy.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    # Work on cuda:1 leaves cuda:1 the thread's current device; the default stream (handle 0) and events of
    # cuda:0 must still be cuda:0's.
    x0 = hy.ones(1 << 20, device="cuda:0")
    x1 = hy.ones(1 << 20, device="cuda:1") * 2
    e = hy.cuda.Event()
    e.record(hy.cuda.default_stream(0))
    assert e.device_index == 0
    e.synchronize()
    hy.cuda.default_stream(0).wait_event(e)
    hy.cuda.default_stream(0).synchronize()
    f = hy.cuda.Event(enable_timing=True)
    g = hy.cuda.Event(enable_timing=True)
    s1 = hy.cuda.Stream(device=1)
    f.record(s1)
    with hy.cuda.stream(s1):
        y1 = x1 * 3
    g.record(s1)
    g.synchronize()
    assert f.elapsed_time(g) >= 0
    with pytest.raises(ValueError, match="cuda:1"):
        f.record(hy.cuda.current_stream(0))
    assert x0.sum().item() == 1 << 20 and y1.sum().item() == 6 * (1 << 20)


def test_copy_between_gpus_waits_for_the_source():
    import pytest
    if hy.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    # A long chain on cuda:0 is still running when the copy to cuda:1 is queued: the copy must wait for it.
    for non_blocking in (False, True):
        a = hy.ones(1 << 22, device="cuda:0")
        for _ in range(50):
            a = a * 1.0 + 1.0
        b = a.to("cuda:1", non_blocking=non_blocking)
        assert b.device == "cuda:1"
        assert b.min().item() == 51.0 and b.max().item() == 51.0
        del a  # its block goes back to cuda:0's stream, which waited for the copy
        c = hy.zeros(1 << 22, device="cuda:0")
        assert b.min().item() == 51.0 and c.max().item() == 0.0


def test_dlpack_consumer_stream_waits_for_the_producer_stream():
    # The array API's handshake (docs/cuda.md, "Host reads and DLPack"): __dlpack__(stream=s) makes the
    # consumer's stream s wait for the work queued on hyflow's current stream. That stream is held by a
    # stream gate, so the wait is observable for as long as the checks take.
    from hyflow import _C
    gate = _C._cuda_stream_gate(0)
    producer, consumer, unsynced = hy.cuda.Stream(), hy.cuda.Stream(), hy.cuda.Stream()
    x = hy.ones(8, device="cuda")
    producer.wait_stream(hy.cuda.current_stream())
    try:
        with hy.cuda.stream(producer):
            gate.close(producer)
            x.add_(x)  # the producer's pending write of x
            capsule = x.__dlpack__(stream=consumer.cuda_stream)
            no_sync = x.__dlpack__(stream=-1)  # -1: no synchronization, so nothing here waits on the gate
        waited = consumer.record_event()
        free = unsynced.record_event()  # the control: a stream no handshake named
        unsynced.synchronize()  # returns at once: nothing orders it after the producer
        assert free.query()
        assert not waited.query()  # the consumer's stream waits behind the held producer
    finally:
        gate.open()
    consumer.synchronize()
    assert waited.query() and not gate.timed_out
    assert x.tolist() == [2.0] * 8
    del capsule, no_sync


def test_set_device_decides_what_plain_cuda_names():
    import threading
    import pytest
    last = hy.cuda.device_count() - 1
    assert hy.cuda.current_device() == 0
    try:
        hy.cuda.set_device(last)
        assert hy.zeros(2, device="cuda").device == f"cuda:{last}"
        assert hy.ones(2).cuda().device == f"cuda:{last}"
        assert hy.ones(2).to(hy.device("cuda")).device == f"cuda:{last}"
        got = []
        t = threading.Thread(target=lambda: got.append(str(hy.zeros(1, device="cuda").device)))
        t.start()
        t.join()
        assert got == [f"cuda:{last}"]  # process-wide: worker threads see the rank's device
        with hy.cuda.device(0):
            assert hy.cuda.current_device() == 0 and hy.zeros(1, device="cuda").device == "cuda:0"
        assert hy.cuda.current_device() == last
    finally:
        hy.cuda.set_device(0)
    with pytest.raises(ValueError, match="does not exist"):
        hy.cuda.set_device(hy.cuda.device_count())
