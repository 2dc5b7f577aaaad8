"""Warnings about a declared graph that runs but cannot do what it says: a channel nobody fills or nobody
reads, a task that can never fire. Checked once per Workflow.run (run.py), on rank 0.

Only what is certain from the declarations is reported: `when` predicates and bodies that return None
are unknown here, and a consumer of a `block` channel whose producer fires can be forced to fire off its
schedule (docs/workflow.md), so such a task is never called dead.
"""
import math
import warnings

__all__ = ["WorkflowWarning", "warn_graph_problems", "graph_problems"]


class WorkflowWarning(UserWarning):
    """A declared workflow that will run, but some of it can never do anything."""


def warn_graph_problems(wf, start, steps):
    for message in graph_problems(wf, start, steps):
        # stacklevel: this function, run_workflow, Workflow.run, the user's call
        warnings.warn(message, WorkflowWarning, stacklevel=4)


def graph_problems(wf, start, steps):
    """The problems of `wf` for a run over steps [start, steps), as messages naming tasks and channels."""
    problems = []
    for ch in wf.channels:
        producers, consumers = _names(wf.producers(ch)), _names(wf.consumers(ch))
        if not producers and not consumers:
            problems.append(f"workflow '{wf.name}': channel '{ch.name}' is declared but no task produces or "
                            "reads it")
        elif not producers:
            problems.append(f"workflow '{wf.name}': channel '{ch.name}' is read by {consumers} but no task "
                            f"produces it: add it to a task's outputs=[...] (or ctx.emit to it from one)")
        elif not consumers:
            problems.append(f"workflow '{wf.name}': channel '{ch.name}' is produced by {producers} but no task "
                            "reads it: add it to a task's inputs=[...]")
    if steps > start:
        problems += _dead_tasks(wf, start, steps)
    return problems


def _names(tasks):
    return ", ".join(f"task '{t.name}'" for t in tasks)


def _dead_tasks(wf, start, steps):
    """Tasks none of whose instances in [start, steps) can fire. Each task's firing steps are kept as an
    arithmetic progression (first, period), None when it never fires; task inputs are declared before
    their readers, so one pass in declaration order sees every input's progression first."""
    fires, problems = {}, []
    for t in wf.tasks:
        fires[t.name], why = _firing(wf, t, start, steps, fires)
        if why is not None:
            problems.append(f"workflow '{wf.name}': task '{t.name}' can never fire in steps [{start}, {steps}): {why}")
    return problems


def _firing(wf, t, start, steps, fires):
    # Forced firing (a full block channel with a live producer) is not predicted: such a task may run at
    # any step, and so may whatever reads it.
    if any(getattr(i, "policy", None) == "block" and any(_may_fire(p, fires) for p in wf.producers(i))
           for i in t.inputs if not hasattr(i, "every")):
        return (start, 1), None
    first = _first_at_least(t.offset, t.every, max(start, t.offset))
    if first >= steps:
        return None, f"its schedule (every={t.every}, offset={t.offset}) selects no step of this run"
    progression = (first, t.every)
    for i in t.inputs:
        if not hasattr(i, "every"):
            continue  # a channel: checked below
        theirs = fires.get(i.name)
        if theirs is None:
            return None, f"its input task '{i.name}' never fires"
        progression = _intersect(progression, theirs, steps)
        if progression is None:
            return None, (f"it needs a value from task '{i.name}' at the same step, and their schedules "
                          f"(every/offset) do not coincide in this run")
    same_step = [i for i in t.inputs if not hasattr(i, "every") and wf.effective_delay(i) == 0]
    if same_step and not any(_may_fire(p, fires) for ch in same_step for p in wf.producers(ch)):
        shown = ", ".join(f"'{ch.name}'" for ch in same_step)
        return None, f"no task that can fire produces its channel input(s) {shown}"
    return progression, None


def _may_fire(task, fires):
    # A producer declared after its reader (a feedback channel) is not analysed yet: assume it fires.
    return task.name not in fires or fires[task.name] is not None


def _first_at_least(first, period, lower):
    """The smallest first + k*period (k >= 0) that is >= lower."""
    if lower <= first:
        return first
    return first + -(-(lower - first) // period) * period


def _intersect(a, b, steps):
    """Common steps of progressions a = (first, period) and b, as a progression, or None if none < steps."""
    (a0, p), (b0, q) = a, b
    g = math.gcd(p, q)
    if (b0 - a0) % g:
        return None
    # x = a0 + p*k with p*k = b0 - a0 (mod q): k = ((b0 - a0)/g) * inverse(p/g) mod q/g
    m = q // g
    k = ((b0 - a0) // g) * pow(p // g, -1, m) % m if m > 1 else 0
    period = p // g * q
    x = _first_at_least(a0 + p * k, period, max(a0, b0))
    return (x, period) if x < steps else None
