"""The NCCL communicator on this machine's first GPU: one rank bootstrapped from the local world (and, in
scripts/gpu_check.sh, under `mpirun -n 1`), so every collective runs with real NCCL calls. On one rank a
reduction is the identity: these tests check that every collective, dtype and reduce op is accepted,
moves the bytes and keeps layouts; test_nccl_multi.py checks the arithmetic across several GPUs."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hyflow as hy
import hyflow.distributed as dist
from hyflow.testing import assert_close

pytestmark = pytest.mark.skipif(not hy.build_info()["nccl"], reason="hyflow was built without its NCCL communicator")

# Every dtype the communicator maps to an NCCL type (bool travels as uint8).
DTYPES = [hy.bool, hy.int32, hy.int64, hy.float16, hy.bfloat16, hy.float32, hy.float64]
FLOATS = (hy.float16, hy.bfloat16, hy.float32, hy.float64)
OPS = ["SUM", "PROD", "MIN", "MAX", "AVG"]


@pytest.fixture(scope="module")
def world():
    g = dist.init(backend="nccl", timeout=60)
    yield g
    dist.destroy_process_group()


def sample(dtype, shape=(4, 6), seed=0):
    """A CPU tensor of dtype with small values (exact in every dtype)."""
    rng = np.random.default_rng(seed)
    if dtype == hy.bool:
        return hy.tensor(rng.random(shape) < 0.5)
    return hy.tensor(rng.integers(-4, 5, size=shape).astype(np.float32)).to(dtype)


def on_gpu(t, contiguous):
    """t on the GPU, or a transposed view of device memory with t's values."""
    return t.cuda() if contiguous else t.transpose(0, 1).contiguous().cuda().transpose(0, 1)


def test_world_is_nccl_on_one_gpu(world):
    assert dist.get_backend() == "nccl" and dist.get_world_size() == 1 and dist.get_rank() == 0
    assert world._comm.device.startswith("cuda")


@pytest.mark.parametrize("contiguous", [True, False], ids=["contig", "strided"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("op", OPS)
def test_all_reduce_every_op_and_dtype(world, op, dtype, contiguous):
    src = sample(dtype)
    t = on_gpu(src, contiguous)
    if op == "AVG" and dtype not in FLOATS:
        with pytest.raises(TypeError, match="AVG needs a floating-point"):
            dist.all_reduce(t, op=dist.ReduceOp.AVG)
        return
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    assert t.dtype == dtype and t.is_contiguous() == contiguous
    assert_close(t.cpu(), src)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_collective_moves_every_dtype(world, dtype):
    x = sample(dtype, seed=1)
    g = x.cuda()
    dist.broadcast(g, src=0)
    assert_close(g.cpu(), x)
    r = x.cuda()
    dist.reduce(r, dst=0, op=dist.ReduceOp.MAX)
    assert_close(r.cpu(), x)
    outs = [hy.zeros(4, 6, dtype=dtype, device="cuda")]
    dist.all_gather(outs, g)
    assert_close(outs[0].cpu(), x)
    flat = hy.zeros(4, 6, dtype=dtype, device="cuda")
    dist.all_gather_into_tensor(flat, g)
    assert_close(flat.cpu(), x)
    rs = hy.zeros(4, 6, dtype=dtype, device="cuda")
    dist.reduce_scatter(rs, [g], op=dist.ReduceOp.MAX)
    assert_close(rs.cpu(), x)
    rst = hy.zeros(4, 6, dtype=dtype, device="cuda")
    dist.reduce_scatter_tensor(rst, g, op=dist.ReduceOp.MIN)
    assert_close(rst.cpu(), x)
    a2a = [hy.zeros(4, 6, dtype=dtype, device="cuda")]
    dist.all_to_all(a2a, [g])
    assert_close(a2a[0].cpu(), x)
    single = hy.zeros(4, 6, dtype=dtype, device="cuda")
    dist.all_to_all_single(single, g)
    assert_close(single.cpu(), x)
    gathered = [hy.zeros(4, 6, dtype=dtype, device="cuda")]
    dist.gather(g, gathered, dst=0)
    assert_close(gathered[0].cpu(), x)
    scattered = hy.zeros(4, 6, dtype=dtype, device="cuda")
    dist.scatter(scattered, [g], src=0)
    assert_close(scattered.cpu(), x)


def test_strided_outputs_are_written_back(world):
    x = hy.arange(12, dtype=hy.float32).reshape(3, 4)
    out = hy.zeros(4, 3, device="cuda").transpose(0, 1)
    dist.all_gather_into_tensor(out, x.cuda())
    assert_close(out.cpu(), x)
    t = on_gpu(x, contiguous=False)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    assert_close(t.cpu(), x)


def test_bool_reductions_are_any_and_all(world):
    x = hy.tensor([True, False, True])
    for op in ("SUM", "PROD", "MIN", "MAX"):
        t = x.cuda()
        dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
        assert t.cpu().tolist() == [True, False, True]


def test_unsupported_dtypes_and_tensors_are_refused(world):
    with pytest.raises(TypeError, match="NCCL has no type for dtype complex64"):
        dist.all_reduce(hy.ones(2, dtype=hy.complex64).cuda())
    with pytest.raises(ValueError, match="NCCL backend needs tensors on cuda"):
        dist.all_reduce(hy.ones(2))
    with pytest.raises(ValueError, match="explicit source rank"):
        dist.recv(hy.zeros(2, device="cuda"), src=None)
    with pytest.raises(ValueError, match="not a member"):
        dist.broadcast(hy.zeros(2, device="cuda"), src=1)


def test_async_handles(world):
    ts = [hy.full((1 << 20,), float(i), device="cuda") for i in range(4)]
    works = [dist.all_reduce(t, async_op=True) for t in ts]
    for w in reversed(works):
        assert w.wait()
    assert all(w.is_completed() for w in works)
    for i, t in enumerate(ts):
        assert t[0].item() == float(i)
    w = dist.barrier(async_op=True)
    w.wait()
    assert w.is_completed()
    dist.barrier()


@pytest.mark.parametrize("use_side_stream", [False, True], ids=["current", "side"])
def test_collective_runs_after_the_kernel_that_wrote_its_input(world, use_side_stream):
    """The communicator's stream waits for the caller's current stream: an out-of-place collective posted
    right after a long kernel wrote its input must gather the new values, not the old ones."""
    a = hy.full((4096, 4096), 1.0, device="cuda")
    x = hy.zeros(4096, device="cuda")
    out = hy.full((4096,), -1.0, device="cuda")
    hy.cuda.synchronize()
    stream = hy.cuda.Stream() if use_side_stream else None
    with hy.cuda.stream(stream):
        for _ in range(3):  # a few long kernels queued before the collective
            x.copy_((a @ a)[0] if hy.build_info()["cublas"] else a.sum(0))
        x.mul_(2.0)
        w = dist.all_gather_into_tensor(out, x, async_op=True)
    w.wait()
    assert w.is_completed()
    assert out.min().item() == out.max().item() == 2 * 4096.0


def test_subgroups(world):
    # new_group and split exchange small bookkeeping tensors over the communicator: on its GPU for NCCL.
    assert world._comm.device.startswith("cuda:")
    g = dist.new_group([0])
    assert dist.get_world_size(g) == 1 and g.ranks == [0] and g.backend == "nccl"
    t = hy.full((3,), 2.0, device="cuda")
    dist.all_reduce(t, group=g)
    assert t.cpu().tolist() == [2.0, 2.0, 2.0]
    s = dist.split(0)
    assert s.ranks == [0] and dist.get_rank(s) == 0
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=s)
    dist.broadcast(t, src=0, group=s)
    assert t.cpu().tolist() == [2.0, 2.0, 2.0]
    assert dist.split(None) is None


def test_ddp_over_nccl_matches_cpu_training(world):
    hy.manual_seed(0)
    ref = hy.nn.Sequential(hy.nn.Linear(4, 8), hy.nn.Tanh(), hy.nn.Linear(8, 2))
    model = hy.nn.Sequential(hy.nn.Linear(4, 8), hy.nn.Tanh(), hy.nn.Linear(8, 2))
    model.load_state_dict(ref.state_dict())
    model = model.cuda()
    ddp = dist.DistributedDataParallel(model)
    opt = hy.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = hy.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for step in range(5):
        x, y = hy.randn(16, 4), hy.randn(16, 2)
        loss = ((ddp(x.cuda()) - y.cuda()) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ref_loss = ((ref(x) - y) ** 2).mean()
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_opt.step()
        assert_close(loss.cpu(), ref_loss.detach(), rtol=1e-5, atol=1e-6)
        for p, q in zip(model.parameters(), ref.parameters()):
            assert_close(p.detach().cpu(), q.detach(), rtol=1e-5, atol=1e-6)


def _clean_env():
    """This environment without the MPI launcher's variables, so the child is a lone local world."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PMI_", "MPI_LOCALRANKID",
                                                                   "SLURM_", "HYDRA_"))}


def test_dead_peer_timeout_aborts_the_communicator():
    """A receive whose sender never comes (on one rank: a receive from itself, with no send) stands for a
    dead peer: wait() raises DistTimeoutError after the group's timeout and aborts the NCCL communicator,
    which then refuses later calls instead of hanging. In a child process: the abort ends its communicator."""
    code = textwrap.dedent("""
        import hyflow as hy, hyflow.distributed as dist
        dist.init(backend="nccl", timeout=3)
        t = hy.zeros(4, device="cuda")
        try:
            w = dist.irecv(t, src=0)
        except dist.DistError as e:
            print("REFUSED", e, flush=True)
            raise SystemExit(0)
        try:
            w.wait()
            print("NO TIMEOUT", flush=True)
        except dist.DistTimeoutError as e:
            print("TIMEOUT", e, flush=True)
        try:
            dist.all_reduce(hy.ones(2, device="cuda"))
            print("LATER CALL RAN", flush=True)
        except dist.DistError as e:
            print("LATER REFUSED", e, flush=True)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90, env=_clean_env())
    out = proc.stdout + proc.stderr
    if "REFUSED" in out and "LATER" not in out:
        pytest.skip(f"NCCL refuses a receive from this rank itself, so one process cannot stand for a dead peer "
                    f"(the two-rank case is in test_nccl_multi.py): {out.strip()[-300:]}")
    assert proc.returncode == 0 and "TIMEOUT" in out and "NO TIMEOUT" not in out, out[-3000:]
    later = out[out.find("LATER"):]
    assert later.startswith("LATER REFUSED") and "aborted" in later, out[-3000:]


def test_large_strided_inputs_are_staged_before_nccl_reads_them(world):
    # The staging copy is queued on the current stream; NCCL's stream must wait for it, not only for the
    # work queued before the call. Large enough that an unordered read would see the copy unfinished.
    base = hy.arange(1 << 22, dtype=hy.float32).reshape(2048, 2048)
    x = base.cuda().transpose(0, 1)
    out = hy.zeros(1 << 22, device="cuda")
    dist.all_gather_into_tensor(out, x)
    assert_close(out.reshape(2048, 2048).cpu(), base.transpose(0, 1))
    y = base.cuda().transpose(0, 1)
    w = dist.all_reduce(y, async_op=True)
    junk = hy.full((1 << 22,), -1.0, device="cuda")  # may reuse a block freed while NCCL still used it
    w.wait()
    assert_close(y.cpu(), base.transpose(0, 1))
    assert junk.max().item() == -1.0


def test_output_of_another_dtype_is_refused(world):
    # NCCL moves the input's dtype: a narrower output would be overrun.
    with pytest.raises(TypeError, match="input's dtype"):
        dist.all_gather_into_tensor(hy.zeros(4, dtype=hy.float16, device="cuda"), hy.ones(4, device="cuda"))
    with pytest.raises(TypeError, match="input's dtype"):
        dist.reduce_scatter_tensor(hy.zeros(4, dtype=hy.float16, device="cuda"), hy.ones(4, device="cuda"))
    with pytest.raises(ValueError, match="elements"):
        dist.gather(hy.ones(4, device="cuda"), [hy.zeros(2, device="cuda")], dst=0)
