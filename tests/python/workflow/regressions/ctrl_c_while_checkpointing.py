# Regression program for a fixed engine bug (run by ../test_engine_regressions.py). The bug it caught:
# Ctrl-C while a checkpoint is being written surfaces as WorkflowError("... checkpoint at step N failed:
# KeyboardInterrupt"), not KeyboardInterrupt (docs: "KeyboardInterrupt ... is re-raised as is";
# `hyflow run` then exits 1 instead of 130).
import os, signal, threading, time, tempfile
from hyflow.workflow import Workflow
class Slow:
    def state_dict(self):
        time.sleep(0.5)          # a big model being serialised
        return {"x": 1}
    def load_state_dict(self, d): pass
# A launcher that started us in the background (`cmd &`) leaves SIGINT ignored; the test needs it live.
signal.signal(signal.SIGINT, signal.default_int_handler)
wf = Workflow("ctrlc-ckpt")
@wf.task
def t(ctx):
    ctx.state.setdefault("m", Slow())
threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    wf.run(steps=4, checkpoint_every=2, checkpoint_dir=tempfile.mkdtemp())
except KeyboardInterrupt:
    print("OK: KeyboardInterrupt")
except Exception as e:
    print("BUG:", type(e).__name__, str(e)[:160])
