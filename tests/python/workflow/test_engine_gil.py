"""A task in a hyflow kernel releases the GIL, so a Python task runs at the same time. Shown twice: the
engine's events of the two instances intersect, and the Python task's loop counter moves while the
kernel task is inside a single kernel call.

Interleaving alone would make the events intersect, and a thread switch between two bytecodes of the
kernel task could move the counter too. So the switch interval is raised for the test: the kernel task
is then never preempted between bytecodes, and the counter can only move during a call that released
the GIL (sorted() on a big list in place of the kernel leaves it at 0). The Python loop sleeps for an
instant now and then so the kernel task gets the GIL back without waiting for a forced switch."""
import math
import sys
import threading
import time

import pytest

import hyflow as hy
from hyflow.workflow import Workflow


@pytest.fixture
def long_switch_interval():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    yield
    sys.setswitchinterval(old)


def test_a_python_task_and_a_kernel_task_run_at_the_same_time(long_switch_interval):
    a = hy.randn(1024, 1024)
    t0 = time.perf_counter()
    hy.matmul(a, a)
    reps = max(3, math.ceil(0.3 / max(time.perf_counter() - t0, 1e-3)))  # about 0.3 s of kernels

    counter = [0]
    kernel_done = threading.Event()
    moved_during_a_call = []

    wf = Workflow("gil")

    @wf.task
    def python_loop(ctx):
        deadline = time.perf_counter() + 10.0  # a safety net only: the kernel task ends the loop
        while not kernel_done.is_set() and time.perf_counter() < deadline:
            counter[0] += 1
            if counter[0] % 2000 == 0:
                time.sleep(5e-5)  # let a thread waiting for the GIL have it
        return counter[0]

    @wf.task
    def kernels(ctx):
        try:
            x = a
            for _ in range(reps):
                before = counter[0]
                x = hy.matmul(a, x) * 1e-3          # one kernel call each: the GIL is released inside
                moved_during_a_call.append(counter[0] - before)
            return float(x.sum().item())
        finally:
            kernel_done.set()

    result = wf.run(steps=1, threads=3)
    spans = {e["task"]: (e["start_us"], e["end_us"]) for e in result.events}
    (p0, p1), (k0, k1) = spans["python_loop"], spans["kernels"]
    assert max(p0, k0) < min(p1, k1), f"the two instances did not overlap: {spans}"
    assert any(n > 0 for n in moved_during_a_call), \
        f"the Python task never ran while a kernel call was in progress: {moved_during_a_call}"
