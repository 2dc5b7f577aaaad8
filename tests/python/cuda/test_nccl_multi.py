"""The NCCL backend across processes: tests/python/distributed/workers/nccl_collectives.py under
`mpirun -n N`, one GPU per rank, as tests/python/distributed/ runs its MPI workers. N = 1 checks the worker
itself on any GPU machine; N = the number of GPUs (skipped below 2) checks the arithmetic across GPUs and
the dead-peer timeout. Run it as a plain pytest process (scripts/gpu_check.sh does): under an MPI
launcher mpirun cannot nest, and the tests skip."""
import os
import sys

import pytest

import hyflow as hy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "distributed"))
from _mpirun import assert_all_ok, run, skip_reason  # noqa: E402

GPUS = hy.cuda.device_count() if hy.cuda.is_available() else 0


def _why_not():
    if not hy.build_info()["nccl"]:
        return "hyflow was built without its NCCL communicator"
    if any(k.startswith(("OMPI_COMM_WORLD", "PMI_RANK", "PMIX_RANK")) for k in os.environ):
        return "already under an MPI launcher (mpirun does not nest): run this file as a plain pytest process"
    return skip_reason()


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))
several_gpus = pytest.mark.skipif(GPUS < 2, reason=f"needs 2 or more GPUs, this machine has {GPUS}")


def test_worker_on_one_rank():
    rc, out = run(1, "nccl_collectives.py", timeout=180, dist_timeout=60)
    assert_all_ok(1, rc, out)


@several_gpus
def test_collectives_on_every_gpu():
    rc, out = run(GPUS, "nccl_collectives.py", timeout=240, dist_timeout=60)
    assert_all_ok(GPUS, rc, out)


@several_gpus
def test_dead_peer_becomes_timeout_on_the_others():
    rc, out = run(2, "nccl_collectives.py", "dead_peer", timeout=120, dist_timeout=60)
    assert_all_ok(2, rc, out)
