# Regression program for a fixed engine bug (run by ../test_engine_regressions.py). The bug it caught:
# A reader of a failed task through a delay=1 (feedback) channel may or may not run the failed step,
# depending on which thread got there first: result.state differs between runs of the same workflow.
import time
from hyflow.workflow import Workflow, WorkflowError
def build(slow_reader_before_fail):
    wf = Workflow("fail-timing")
    fb = wf.channel("fb", capacity=100, policy="block", delay=1)
    @wf.task(inputs=[fb])
    def reader(ctx, items):
        if slow_reader_before_fail and ctx.step == 4:
            time.sleep(0.3)
        ctx.state["last_step"] = ctx.step
    @wf.task(outputs=[fb])
    def model(ctx):
        if ctx.step == 5:
            time.sleep(0.1)
            raise ValueError("boom")
        return ctx.step
    return wf
for slow in (False, True):
    try:
        build(slow).run(steps=10)
    except WorkflowError as e:
        print(f"timing variant {slow}: reader last_step =", e.result.state["reader"].get("last_step"),
              "cancelled =", e.cancelled)
