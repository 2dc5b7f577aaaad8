"""The test-only stream gate (hy._C._cuda_stream_gate, csrc/cuda/stream_gate.{cpp,cu}; docs/cuda.md "Stream
gate"), which the stream-ordering tests rely on: close(s) holds s until open(), work queued behind it does
not run, a gate holds several streams and closes again, the safety timeout ends a wait nobody opens, and a
gate dropped while closed lets its stream go."""
import time

import pytest

import hyflow as hy
from hyflow import _C


def test_holds_the_stream_until_opened():
    gate = _C._cuda_stream_gate(0)
    side = hy.cuda.Stream()
    x = hy.ones(1024, device="cuda")
    acc = hy.zeros(1024, device="cuda")
    side.wait_stream(hy.cuda.current_stream())
    gate.close(side)
    with hy.cuda.stream(side):
        acc.add_(x)
    done = side.record_event()
    time.sleep(0.05)
    assert not done.query()
    # The default stream is not ordered after the side stream: it reads acc before the add.
    assert acc[:2].cpu().tolist() == [0.0, 0.0]
    gate.open()
    side.synchronize()
    assert done.query() and not gate.timed_out
    assert acc[:2].cpu().tolist() == [1.0, 1.0]


def test_one_gate_holds_several_streams_and_closes_again():
    gate = _C._cuda_stream_gate(0)
    s1, s2 = hy.cuda.Stream(), hy.cuda.Stream()
    gate.close(s1)
    gate.close(s2.cuda_stream)  # an integer handle works too
    e1, e2 = s1.record_event(), s2.record_event()
    assert not e1.query() and not e2.query()
    gate.open()
    s1.synchronize()
    s2.synchronize()
    gate.close(s1)  # a new closing: the earlier open() does not let this one through
    e3 = s1.record_event()
    time.sleep(0.02)
    assert not e3.query()
    gate.open()
    s1.synchronize()
    assert e3.query() and not gate.timed_out


def test_timeout_ends_a_wait_nobody_opens():
    gate = _C._cuda_stream_gate(0, timeout_s=0.2)
    side = hy.cuda.Stream()
    start = time.perf_counter()
    gate.close(side)
    side.synchronize()
    waited = time.perf_counter() - start
    assert gate.timed_out
    # The timeout counts SM cycles at the peak clock: it can only last longer than asked, never shorter.
    assert 0.15 <= waited < 10, waited


def test_dropping_a_closed_gate_lets_its_stream_go():
    gate = _C._cuda_stream_gate(0)
    side = hy.cuda.Stream()
    gate.close(side)
    done = side.record_event()
    start = time.perf_counter()
    del gate  # opens, then waits for its kernel to exit
    assert time.perf_counter() - start < 2
    side.synchronize()
    assert done.query()


def test_bad_arguments():
    gate = _C._cuda_stream_gate(0)
    with pytest.raises(TypeError, match="hy.cuda.Stream or an integer"):
        gate.close("side")
    with pytest.raises(TypeError, match="hy.cuda.Stream or an integer"):
        gate.close(True)
    for bad in (0.0, -1.0, 601.0, float("nan")):
        with pytest.raises(ValueError, match="timeout_s"):
            _C._cuda_stream_gate(0, timeout_s=bad)
    with pytest.raises((ValueError, RuntimeError)):
        _C._cuda_stream_gate(hy.cuda.device_count())
