# Regression program for a fixed engine bug (run by ../test_engine_regressions.py). The bug it caught:
# A sub-task spawned by a sub-task that the waiting thread runs inline lands in the fresh ctx._subtasks
# list after _join_subtasks swapped it out (context.py:97): the step ends before it finishes.
import time, threading, faulthandler, sys
faulthandler.dump_traceback_later(5, exit=True)
from hyflow.workflow import Workflow
wf = Workflow("nested-escape")
log = []
@wf.task
def outer(ctx):
    def child():
        ctx.spawn(lambda s=ctx.step: (time.sleep(0.2), log.append(("grandchild done", s))))
    ctx.spawn(child)
    log.append(("body returns", ctx.step))
r = wf.run(steps=1, threads=2); print("run returned; log so far:", list(log), flush=True)
log.append(("run returned", None))
time.sleep(0.5)
print(log)
