"""Survivors of a failed peer save and exit in any order: rank 1 fails while ranks 0 and 2 wait for it in
an all_reduce; survivor A (rank 0) exits as soon as it gets the error, survivor B (rank 2) sleeps 2 s
first, then writes OUTDIR/saved_by_B. The test checks that the file was written, i.e. that neither A's
exit nor rank 1's made the launcher kill B before it saved.
Usage: exit_order.py {kill,osexit,stuck,raise,sysexit,sysexit1} OUTDIR"""
import os
import signal
import sys
import time

import hyflow as hy
import hyflow.distributed as dist

mode, outdir = sys.argv[1], sys.argv[2]
dist.init()
R = dist.get_rank()
t = hy.ones(1000)
dist.all_reduce(t)  # everyone is alive here
if R == 1:
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "osexit":
        os._exit(0)
    if mode == "stuck":  # alive but not taking part (a deadlock, a hung file system, ...) for a while
        time.sleep(float(os.environ["STUCK_S"]))
        sys.exit(0)
    if mode == "raise":
        raise RuntimeError("rank 1 fails on purpose")
    if mode == "sysexit":
        sys.exit(0)
    if mode == "sysexit1":
        sys.exit(1)
    raise SystemExit(f"unknown mode {mode}")
try:
    dist.all_reduce(t)
    print(f"RANK {R} NO-ERROR", flush=True)
except dist.DistError as e:
    print(f"RANK {R} ERROR {type(e).__name__}: {e}", flush=True)
if R == 2:
    time.sleep(2)  # saving takes a while
    with open(os.path.join(outdir, "saved_by_B"), "w") as f:
        f.write("saved")
    print("RANK 2 SAVED", flush=True)
sys.exit(0)  # a normal exit, through hyflow's atexit
