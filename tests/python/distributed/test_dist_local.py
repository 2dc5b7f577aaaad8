"""hyflow.distributed without mpirun: the world of one process (same API, no MPI needed), launcher
detection from the environment, and argument errors."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.distributed as dist
from hyflow.distributed import _launch

LAUNCHER_VARS = ["OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "MV2_COMM_WORLD_RANK",
                 "MV2_COMM_WORLD_SIZE", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "RANK", "WORLD_SIZE"]



@pytest.mark.parametrize("env, want", [
    ({}, None),
    ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4"}, ("openmpi", 2, 4)),
    ({"PMI_RANK": "1", "PMI_SIZE": "2"}, ("pmi", 1, 2)),
    ({"SLURM_PROCID": "3", "SLURM_STEP_NUM_TASKS": "8", "SLURM_NTASKS": "8"}, ("slurm", 3, 8)),
    ({"SLURM_PROCID": "0", "SLURM_NTASKS": "8"}, None),  # sbatch script itself, no srun step
    ({"RANK": "1", "WORLD_SIZE": "2"}, ("env", 1, 2)),
    ({"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "2", "RANK": "0", "WORLD_SIZE": "2"}, ("openmpi", 0, 2)),
])
def test_launcher_detection(env, want):
    got = _launch.detect(env)
    assert (got and (got.launcher, got.rank, got.size)) == (want if want else None)


def test_launcher_detection_rejects_bad_values():
    with pytest.raises(ValueError, match="PMI_RANK"):
        _launch.detect({"PMI_RANK": "x", "PMI_SIZE": "2"})
    with pytest.raises(ValueError, match="valid rank"):
        _launch.detect({"RANK": "3", "WORLD_SIZE": "2"})


def test_timeout_from_env(monkeypatch):
    monkeypatch.setenv("HYFLOW_DIST_TIMEOUT", "12.5")
    assert _launch.timeout_from_env() == 12.5
    monkeypatch.setenv("HYFLOW_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="HYFLOW_DIST_TIMEOUT"):
        _launch.timeout_from_env()


def test_local_world(world):
    assert dist.is_initialized() and dist.get_backend() == "local"
    assert dist._group(None)._comm.device == "cpu"  # where the Python layer makes its bookkeeping tensors
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    with pytest.raises(RuntimeError, match="already initialized"):
        dist.init()


def test_torchrun_style_multi_process_env_is_refused(monkeypatch):
    for v in LAUNCHER_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    dist.destroy_process_group()
    with pytest.raises(RuntimeError, match="mpirun"):
        dist.init()
    monkeypatch.setenv("WORLD_SIZE", "1")
    dist.init()
    assert dist.get_world_size() == 1
    dist.destroy_process_group()


def test_not_initialized_raises():
    dist.destroy_process_group()
    with pytest.raises(RuntimeError, match="init"):
        dist.get_rank()


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"])
def test_collectives_in_one_process_world(world, dtype):
    d = getattr(hy, dtype)
    x = hy.tensor(np.arange(6).reshape(2, 3) % 2 == 1) if dtype == "bool" else hy.arange(6).reshape(2, 3).to(d)
    base = x.to(hy.float64).numpy()
    strided = x.transpose(0, 1)
    ops = [dist.ReduceOp.SUM, dist.ReduceOp.PROD, dist.ReduceOp.MIN, dist.ReduceOp.MAX]
    if x.dtype.is_floating_point:
        ops.append(dist.ReduceOp.AVG)
    for op in ops:
        t = x.clone()
        dist.all_reduce(t, op=op)
        np.testing.assert_array_equal(t.to(hy.float64).numpy(), base)
    assert dist.all_reduce(x.clone(), async_op=True).wait()
    dist.broadcast(x.clone(), src=0)
    dist.reduce(x.clone(), dst=0)
    outs = [hy.zeros((3, 2), dtype=d).transpose(0, 1)]
    dist.all_gather(outs, x)
    np.testing.assert_array_equal(outs[0].to(hy.float64).numpy(), base)
    out = hy.zeros((3, 2), dtype=d)
    dist.all_gather_into_tensor(out, strided)
    np.testing.assert_array_equal(out.to(hy.float64).numpy(), base.T)
    g = [hy.zeros((2, 3), dtype=d)]
    dist.gather(x, g, dst=0)
    np.testing.assert_array_equal(g[0].to(hy.float64).numpy(), base)
    s = hy.zeros((2, 3), dtype=d)
    dist.scatter(s, [x], src=0)
    np.testing.assert_array_equal(s.to(hy.float64).numpy(), base)
    rs = hy.zeros((2, 3), dtype=d)
    dist.reduce_scatter(rs, [x])
    np.testing.assert_array_equal(rs.to(hy.float64).numpy(), base)
    dist.reduce_scatter_tensor(rs, x)
    a2a = [hy.zeros((2, 3), dtype=d)]
    dist.all_to_all(a2a, [x])
    np.testing.assert_array_equal(a2a[0].to(hy.float64).numpy(), base)
    single = hy.zeros((2, 3), dtype=d)
    dist.all_to_all_single(single, x)
    np.testing.assert_array_equal(single.to(hy.float64).numpy(), base)
    dist.barrier()


def test_groups_in_one_process_world(world):
    g = dist.new_group([0])
    assert g.ranks == [0] and dist.get_world_size(g) == 1
    t = hy.ones(2)
    dist.all_reduce(t, group=g)
    s = dist.split(0)
    assert s.size() == 1 and s.ranks == [0]
    assert dist.split(None) is None
    with pytest.raises(ValueError, match="not in the world"):
        dist.new_group([1])


def test_bad_arguments_in_one_process_world(world):
    with pytest.raises(TypeError, match="AVG needs a floating-point"):
        dist.all_reduce(hy.ones(2, dtype=hy.int64), op=dist.ReduceOp.AVG)
    with pytest.raises(ValueError, match="must hold 1 tensors"):
        dist.all_gather([hy.ones(2), hy.ones(2)], hy.ones(2))
    with pytest.raises(TypeError, match="dtype"):
        dist.all_gather([hy.ones(2, dtype=hy.int32)], hy.ones(2))
    with pytest.raises(ValueError, match="element counts"):
        dist.all_gather([hy.ones(3)], hy.ones(2))
    with pytest.raises(ValueError, match="src=1 is not a member"):
        dist.broadcast(hy.ones(2), src=1)
    with pytest.raises(ValueError, match="no peer"):
        dist.send(hy.ones(2), dst=0)
    with pytest.raises(TypeError, match="ProcessGroup"):
        dist.all_reduce(hy.ones(2), group="world")
    with pytest.raises(RuntimeError, match="not MPI"):
        dist.get_mpi4py_comm()


def test_build_info_reports_mpi():
    assert hy.build_info()["mpi"] is dist.is_mpi_available()
    assert dist.is_available()
    assert issubclass(dist.DistTimeoutError, dist.DistError) and issubclass(dist.DistError, RuntimeError)
