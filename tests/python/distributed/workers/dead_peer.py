"""A peer dies (exits, raises, or is SIGKILLed) while the others wait in a collective: the survivors
must get DistTimeoutError within the timeout (DistError about a second after a peer raised: it tells the
others as it exits); a SIGINT (Ctrl-C) ends a wait at once.
Usage: dead_peer.py {exit,raise,kill,interrupt} TIMEOUT"""
import os
import signal
import sys
import time

import hyflow as hy
import hyflow.distributed as dist

mode, timeout = sys.argv[1], float(sys.argv[2])
dist.init(timeout=timeout)
R = dist.get_rank()
t = hy.ones(1000)
dist.all_reduce(t)  # everyone is alive here
if R == 1:
    if mode == "exit":
        sys.exit(0)
    if mode == "raise":
        raise RuntimeError("rank 1 fails on purpose")
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
if mode == "interrupt":
    # Rank 1 never joins; the others get SIGINT while waiting: KeyboardInterrupt, long before the timeout.
    if R == 1:
        time.sleep(1.5)
        os._exit(0)
    import threading

    signal.signal(signal.SIGINT, signal.default_int_handler)  # in case the launcher left SIGINT ignored
    threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    t0 = time.monotonic()
    try:
        dist.all_reduce(t)
        print(f"RANK {R} NO-ERROR", flush=True)
    except KeyboardInterrupt:
        print(f"RANK {R} INTERRUPTED {time.monotonic() - t0:.2f}", flush=True)
    os._exit(0)
t0 = time.monotonic()
try:
    for _ in range(3):
        dist.all_reduce(t)
    print(f"RANK {R} NO-ERROR", flush=True)
except dist.DistError as e:
    kind = "TIMEOUT" if isinstance(e, dist.DistTimeoutError) else "DEPARTED"
    print(f"RANK {R} {kind} {time.monotonic() - t0:.2f} {e}", flush=True)
    try:
        dist.all_reduce(t)
    except dist.DistError as e2:
        print(f"RANK {R} UNUSABLE {'unusable' in str(e2)}", flush=True)
os._exit(0)  # skip MPI_Finalize: the dead peer would never join it
