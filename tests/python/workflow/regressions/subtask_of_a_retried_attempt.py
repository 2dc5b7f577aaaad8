# Regression program for a fixed engine bug (run by ../test_engine_regressions.py). The bug it caught:
# A body that spawns a sub-task and then raises leaves the sub-task un-joined. With retries=1 the retry's
# ctx._begin drops the future; when the sub-task ends, its own TBB functor drops the last reference to
# the ArenaSubTask, whose destructor joins its own task_group from inside that task, holding the GIL.
import time, faulthandler, sys

from hyflow.workflow import Workflow, WorkflowError
wf = Workflow("leak")
@wf.task(retries=1)
def bad(ctx):
    ctx.spawn(time.sleep, 0.3)
    if ctx.attempt == 0:
        raise ValueError("first attempt fails")
    return 1
t = time.time()
wf.run(steps=1)
print("returned after", round(time.time() - t, 2), "s")
time.sleep(1.0)
print("OK: no hang")
