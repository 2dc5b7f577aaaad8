# Regression program for a fixed engine bug (run by ../test_engine_regressions.py). The bug it caught:
# retries=0: run() raises WorkflowError while the sub-task is still running; once the error (and with it
# the driver/contexts) is gone, the sub-task's completion drops the last ref -> same self-join, process hangs.
import time
from hyflow.workflow import Workflow, WorkflowError
wf = Workflow("leak0")
flag = []
@wf.task
def bad(ctx):
    ctx.spawn(lambda: (time.sleep(0.5), flag.append("sub-task finished")))
    raise ValueError("boom")
t = time.time()
try:
    wf.run(steps=1)
except WorkflowError:
    print("run raised after", round(time.time() - t, 2), "s; sub-task done?", bool(flag))
time.sleep(1.0)
print("OK: no hang", flag)
