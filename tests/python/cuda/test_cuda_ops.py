"""CPU vs CUDA differential over the OpInfo samples of every op with a CUDA kernel (docs/cuda.md,
coverage table): same result within the op's tolerance, or the same exception type. A dtype the CUDA
kernel does not support yet (NotImplementedError) is a skip with the reason, so gaps stay visible."""
import importlib
import pkgutil

import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close

import opinfo
from test_cuda_opinfo_coverage import cuda_ops  # the op table's ops with a CUDA kernel

OPS = []
for mod in pkgutil.iter_modules(opinfo.__path__):
    OPS.extend(importlib.import_module(f"opinfo.{mod.name}").OPS)
COVERED = cuda_ops()
CASES = [pytest.param(info, dt, id=f"{info.name}-{dt}") for info in OPS if info.name in COVERED for dt in info.dtypes]


def to_hy(x, dtype, device):
    if isinstance(x, np.ndarray):
        # A copy: from_numpy shares the array's memory, and an in-place op (index_put_) on the CPU run
        # would otherwise change the sample the CUDA run starts from.
        t = hy.from_numpy(np.array(x))
        if dtype == "bfloat16" and x.dtype == np.float32:
            t = t.to(hy.bfloat16)
        return t.to(device)
    if isinstance(x, list) and x and isinstance(x[0], np.ndarray):
        return [to_hy(v, dtype, device) for v in x]
    return x


# Random ops draw from the one generator: each run starts from the same seed, so both devices see the
# same counters (uniform draws are then bit-identical, normal ones within an ulp of libm).
RANDOM = {"rand", "randn", "uniform_", "normal_", "randint", "multinomial"}


def run(fn, sample, dtype, device):
    if fn.__name__ in RANDOM:
        hy.manual_seed(1234)
    args = [to_hy(a, dtype, device) for a in sample.args]
    kwargs = {k: to_hy(v, dtype, device) for k, v in sample.kwargs.items()}
    return fn(*args, **kwargs)


@pytest.mark.parametrize("info,dtype", CASES)
def test_cuda_matches_cpu(info, dtype):
    rng = np.random.default_rng(1234)
    fn = getattr(hy.ops, info.name)
    tol = (info.tol or {}).get(dtype)
    for sample in info.samples(dtype, rng):
        try:
            want = run(fn, sample, dtype, "cpu")
        except Exception as e:  # noqa: BLE001
            try:
                run(fn, sample, dtype, "cuda")
            except NotImplementedError as gap:
                if not isinstance(e, NotImplementedError):
                    pytest.skip(f"{info.name} on CUDA, {dtype}: {gap}")
            except Exception as g:  # noqa: BLE001
                assert type(g) is type(e), f"{sample.desc}: CPU raised {e!r}, CUDA {g!r}"
            else:
                raise AssertionError(f"{sample.desc}: CPU raised {e!r}, CUDA did not")
            continue
        try:
            got = run(fn, sample, dtype, "cuda")
        except NotImplementedError as e:
            pytest.skip(f"{info.name} on CUDA, {dtype}: {e}")
        wants = list(want) if isinstance(want, (tuple, list)) else [want]
        gots = list(got) if isinstance(got, (tuple, list)) else [got]
        for w, g in zip(wants, gots):
            assert g.device == "cuda:0", sample.desc
            assert g.dtype == w.dtype, sample.desc
            kw = {"rtol": tol[0], "atol": tol[1]} if tol else {}
            assert_close(g.cpu(), w, equal_nan=True, **kw)


def test_op_without_a_cuda_kernel_says_so():
    # Every op of the table has a CUDA kernel now: an op defined with a CPU kernel only shows the error.
    hy.ops.define("cuda_test_cpu_only(Tensor x) -> Tensor")

    @hy.ops.impl("cuda_test_cpu_only", "cpu")
    def _kernel(x):
        return x * 2

    with pytest.raises(NotImplementedError, match="op 'cuda_test_cpu_only' has no CUDA kernel yet"):
        hy.ops.cuda_test_cpu_only(hy.ones(8, device="cuda"))
    if not hy.build_info()["cufft"]:  # the FFTs of a build without cuFFT say why
        with pytest.raises(NotImplementedError, match="built without cuFFT"):
            hy.fft.rfft(hy.ones(8, device="cuda"))
    if not hy.build_info()["cusolver"]:  # hy.linalg's decompositions of a build without cuSOLVER say why
        msg = r"op 'linalg_inv' has no CUDA kernel yet \(built without cuSOLVER"
        with pytest.raises(NotImplementedError, match=msg):
            hy.linalg.inv(hy.eye(3, device="cuda"))


def test_mixing_devices_names_both():
    with pytest.raises(RuntimeError, match="cpu and cuda:0"):
        hy.ones(3) + hy.ones(3, device="cuda")
    # A Python number (a 0-d CPU tensor) joins a CUDA op.
    assert_close((hy.ones(3, device="cuda") + 2).cpu(), hy.full((3,), 3.0))


def test_autograd_on_cuda():
    x = hy.arange(6, dtype=hy.float32).reshape(2, 3).cuda().requires_grad_(True)
    y = (x * x).sum()
    y.backward()
    assert x.grad.device == "cuda:0"
    assert_close(x.grad.cpu(), 2 * hy.arange(6, dtype=hy.float32).reshape(2, 3))


def test_gradient_flows_back_through_a_device_move():
    x = hy.arange(3, dtype=hy.float32, requires_grad=True)
    y = (x.cuda() * 2).sum()
    y.backward()
    assert x.grad.device == "cpu"
    assert_close(x.grad, hy.full((3,), 2.0))


def test_model_training_step_on_cuda():
    hy.manual_seed(0)
    model = hy.nn.Sequential(hy.nn.Linear(8, 16), hy.nn.ReLU(), hy.nn.Linear(16, 1)).to("cuda")
    assert all(p.device == "cuda:0" for p in model.parameters())
    opt = hy.optim.SGD(model.parameters(), lr=0.1)
    x, target = hy.randn(32, 8).cuda(), hy.randn(32, 1).cuda()
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    # The same steps on the CPU from the same initial weights give the same losses.
    hy.manual_seed(0)
    cpu_model = hy.nn.Sequential(hy.nn.Linear(8, 16), hy.nn.ReLU(), hy.nn.Linear(16, 1))
    cpu_opt = hy.optim.SGD(cpu_model.parameters(), lr=0.1)
    cx, ct = x.cpu(), target.cpu()
    for i in range(5):
        cpu_opt.zero_grad()
        loss = ((cpu_model(cx) - ct) ** 2).mean()
        loss.backward()
        cpu_opt.step()
        assert abs(loss.item() - losses[i]) < 1e-4 * max(1.0, abs(losses[i]))


def test_random_streams_match_the_cpu():
    for dt in (hy.float32, hy.float64, hy.float16, hy.bfloat16):
        hy.manual_seed(7)
        cpu = hy.rand(1000, dtype=dt)
        hy.manual_seed(7)
        gpu = hy.rand(1000, dtype=dt, device="cuda")
        assert gpu.cpu().to(hy.float64).tolist() == cpu.to(hy.float64).tolist()  # bit-identical
        hy.manual_seed(7)
        cpu = hy.randn(1000, dtype=dt)
        hy.manual_seed(7)
        gpu = hy.randn(1000, dtype=dt, device="cuda")
        assert_close(gpu.cpu(), cpu, rtol=1e-6, atol=1e-6) if dt in (hy.float32, hy.float64) else \
            assert_close(gpu.cpu().float(), cpu.float(), rtol=1e-2, atol=1e-2)
