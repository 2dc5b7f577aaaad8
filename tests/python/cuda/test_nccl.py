"""The NCCL communicator on this machine's GPUs: one rank bootstrapped from the local world (and, in
scripts/gpu_check.sh, under `mpirun -n 1`), so every collective runs with real NCCL calls."""
import pytest

import hyflow as hy
import hyflow.distributed as dist
from hyflow.testing import assert_close

pytestmark = pytest.mark.skipif(not hy.build_info()["nccl"], reason="hyflow was built without its NCCL communicator")


@pytest.fixture
def world():
    g = dist.init(backend="nccl", timeout=60)
    yield g
    dist.destroy_process_group()


def test_collectives_on_one_rank(world):
    assert dist.get_backend() == "nccl" and dist.get_world_size() == 1
    x = hy.arange(8, dtype=hy.float32).cuda()
    dist.all_reduce(x)
    assert_close(x.cpu(), hy.arange(8, dtype=hy.float32))
    dist.broadcast(x, src=0)
    out = hy.zeros(8, device="cuda")
    dist.all_gather_into_tensor(out, x)
    assert_close(out.cpu(), x.cpu())
    rs = hy.zeros(8, device="cuda")
    dist.reduce_scatter_tensor(rs, x)
    assert_close(rs.cpu(), x.cpu())
    outs = [hy.zeros(8, device="cuda")]
    dist.all_gather(outs, x)
    assert_close(outs[0].cpu(), x.cpu())
    w = dist.all_reduce(x, async_op=True)
    w.wait()
    dist.barrier()


def test_strided_tensors_are_staged(world):
    x = hy.arange(12, dtype=hy.float32).reshape(3, 4).cuda().transpose(0, 1)
    dist.all_reduce(x, op=dist.ReduceOp.MAX)
    assert_close(x.cpu(), hy.arange(12, dtype=hy.float32).reshape(3, 4).transpose(0, 1))


def test_cpu_tensor_is_refused(world):
    with pytest.raises(ValueError, match="NCCL backend needs tensors on cuda"):
        dist.all_reduce(hy.ones(2))


def test_ddp_over_nccl_averages_gradients(world):
    hy.manual_seed(0)
    model = hy.nn.Linear(4, 2).cuda()
    ddp = dist.DistributedDataParallel(model) if hasattr(dist, "DistributedDataParallel") else \
        hy.nn.parallel.DistributedDataParallel(model)
    x = hy.randn(8, 4).cuda()
    ddp(x).sum().backward()
    grads = [p.grad.cpu() for p in model.parameters()]
    ref = hy.nn.Linear(4, 2)
    ref.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    ref(x.cpu()).sum().backward()
    for g, r in zip(grads, [p.grad for p in ref.parameters()]):
        assert_close(g, r, rtol=1e-5, atol=1e-5)


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


def test_groups_over_nccl(world):
    # new_group and split exchange small bookkeeping tensors over the communicator: on its GPU for NCCL.
    assert world._comm.device.startswith("cuda:")
    g = dist.new_group([0])
    assert g.ranks == [0]
    s = dist.split(0)
    assert s.size() == 1 and s.ranks == [0]
    x = hy.ones(4, device=world._comm.device)
    dist.all_reduce(x, group=s)
    assert x.tolist() == [1.0] * 4


def test_reduce_op_rules_match_the_other_backends(world):
    b = hy.tensor([True, False, True], device="cuda")
    dist.all_reduce(b)  # SUM of bools is "any", as with MPI and the local world
    assert b.dtype == hy.bool and b.tolist() == [True, False, True]
    dist.all_reduce(b, op=dist.ReduceOp.PROD)
    assert b.tolist() == [True, False, True]
    with pytest.raises(TypeError, match="AVG needs a floating"):
        dist.all_reduce(hy.ones(3, dtype=hy.int64, device="cuda"), op=dist.ReduceOp.AVG)
