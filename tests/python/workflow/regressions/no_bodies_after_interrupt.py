# Regression program for a fixed engine bug (run by ../test_engine_regressions.py). The bug it caught:
# After an abort (KeyboardInterrupt in a task), instances that were only queued in the arena still run
# their predicate and body (execute() never checks abort_error before invoking).
import time
from hyflow.workflow import Workflow
wf = Workflow("abort-queued")
ran, stopped = [], []
@wf.task
def a(ctx):
    stopped.append(time.time())
    raise KeyboardInterrupt
for name in "bcdef":
    def body(ctx, name=name):
        if stopped: ran.append((name, ctx.step))
        time.sleep(0.2)
    wf.task(body, name=name)
t = time.time()
try:
    wf.run(steps=3, threads=1)
except KeyboardInterrupt:
    print(f"KeyboardInterrupt after {time.time()-t:.2f}s; bodies started after the interrupt: {ran}")
