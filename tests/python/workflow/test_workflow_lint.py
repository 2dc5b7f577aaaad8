"""Workflow.run warns (WorkflowWarning, naming tasks and channels) about a graph that runs but cannot do
what it says: a channel nobody fills, one nobody reads, a task that can never fire (hyflow/workflow/lint.py)."""
import warnings

import pytest

from hyflow.workflow import Workflow, WorkflowWarning
from hyflow.workflow.lint import graph_problems


def run_and_collect(wf, steps):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wf.run(steps=steps)
    return [str(w.message) for w in caught if issubclass(w.category, WorkflowWarning)]


def noop(ctx, *inputs):
    return 1


def test_channel_read_but_never_produced_warns_at_run_naming_it_and_its_reader():
    wf = Workflow("orphan")
    losses = wf.channel("losses")
    wf.task(noop, name="plot", inputs=[losses])
    wf.task(noop, name="sim")
    with pytest.warns(WorkflowWarning) as record:
        wf.run(steps=3)
    messages = [str(w.message) for w in record]
    assert ("workflow 'orphan': channel 'losses' is read by task 'plot' but no task produces it: add it to a "
            "task's outputs=[...] (or ctx.emit to it from one)") in messages
    assert any("task 'plot' can never fire" in m and "'losses'" in m for m in messages)
    assert record[0].filename == __file__  # points at the user's wf.run line


def test_produced_channel_without_consumers_and_unused_channel_warn():
    wf = Workflow("sinks")
    out = wf.channel("out")
    wf.channel("spare")
    wf.task(noop, name="make", outputs=[out])
    assert run_and_collect(wf, 2) == [
        "workflow 'sinks': channel 'out' is produced by task 'make' but no task reads it: add it to a task's "
        "inputs=[...]",
        "workflow 'sinks': channel 'spare' is declared but no task produces or reads it"]


def test_task_whose_schedule_misses_the_run_warns():
    wf = Workflow("late")
    wf.task(noop, name="t", every=5, offset=20)
    assert run_and_collect(wf, 15) == [
        "workflow 'late': task 't' can never fire in steps [0, 15): its schedule (every=5, offset=20) "
        "selects no step of this run"]
    assert run_and_collect(wf, 25) == []


def test_task_input_schedules_that_never_coincide_warn_and_the_silence_propagates():
    wf = Workflow("misaligned")
    even = wf.task(noop, name="even", every=2)
    odd_reader = wf.task(noop, name="odd_reader", inputs=[even], every=2, offset=1)
    wf.task(noop, name="downstream", inputs=[odd_reader])
    problems = graph_problems(wf, 0, 100)
    assert problems == [
        "workflow 'misaligned': task 'odd_reader' can never fire in steps [0, 100): it needs a value from task "
        "'even' at the same step, and their schedules (every/offset) do not coincide in this run",
        "workflow 'misaligned': task 'downstream' can never fire in steps [0, 100): its input task "
        "'odd_reader' never fires"]


def test_schedules_that_meet_late_are_found_by_their_common_step():
    wf = Workflow("meet")
    a = wf.task(noop, name="a", every=6)                       # 0, 6, 12, ...
    wf.task(noop, name="b", inputs=[a], every=4, offset=2)     # 2, 6, 10, ...: meet at 6
    assert graph_problems(wf, 0, 7) == []
    assert [p.split(":")[1] for p in graph_problems(wf, 0, 6)] == [" task 'b' can never fire in steps [0, 6)"]
    assert graph_problems(wf, 7, 19) == []                     # a resumed run: 18 (every 12 from 6)
    assert len(graph_problems(wf, 7, 18)) == 1


def test_healthy_graphs_and_forced_consumers_do_not_warn():
    wf = Workflow("healthy")
    states = wf.channel("states", capacity=2)
    feedback = wf.channel("weights", policy="latest")          # produced after its reader: a feedback edge
    wf.task(noop, name="simulate", inputs=[feedback], outputs=[states])
    # off-schedule for this run, but a full block channel forces it: not certain to be dead
    wf.task(noop, name="train", inputs=[states], outputs=[feedback], every=1000, offset=999)
    assert run_and_collect(wf, 6) == []
