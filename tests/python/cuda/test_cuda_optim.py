"""The fused SGD/Adam/AdamW steps on CUDA parameters (one multi-tensor launch per step) against the same
optimizers on the CPU: same parameters and state after several steps."""
import pytest

import hyflow as hy
from hyflow import _C
from hyflow.testing import assert_close

CONFIGS = [
    (hy.optim.SGD, dict(lr=0.1)),
    (hy.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (hy.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    (hy.optim.Adam, dict(lr=0.01)),
    (hy.optim.Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    (hy.optim.AdamW, dict(lr=0.01, weight_decay=0.1, maximize=True)),
]


def params_like(dtype):
    hy.manual_seed(5)
    # one parameter larger than a chunk of the chunk table (65536 elements) and several small ones
    return [hy.randn(300, 301, dtype=dtype), hy.randn(7, dtype=dtype), hy.randn(3, 4, dtype=dtype)]


@pytest.mark.parametrize("dtype", [hy.float32, hy.float64])
@pytest.mark.parametrize("cls,kw", CONFIGS)
def test_fused_step_on_cuda_matches_the_cpu(cls, kw, dtype, monkeypatch):
    calls = []
    for name in ("_fused_sgd_", "_fused_adam_"):
        real = getattr(_C.ops, name)
        monkeypatch.setattr(_C.ops, name, lambda *a, _real=real, **k: (calls.append(a[0][0].device), _real(*a, **k))[1])
    cpu = [p.clone().requires_grad_(True) for p in params_like(dtype)]
    gpu = [p.cuda().requires_grad_(True) for p in params_like(dtype)]
    opt_c, opt_g = cls(cpu, **kw), cls(gpu, **kw)
    for step in range(4):
        grads = [hy.randn(*p.shape, dtype=dtype) for p in cpu]
        for p, g in zip(cpu, grads):
            p.grad = g.clone()
        for p, g in zip(gpu, grads):
            p.grad = g.cuda()
        opt_c.step()
        opt_g.step()
    assert "cuda:0" in calls  # the CUDA parameters went through the fused kernel
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == hy.float32 else dict(rtol=1e-12, atol=1e-12)
    for c, g in zip(cpu, gpu):
        assert g.device == "cuda:0"
        assert_close(g.detach().cpu(), c.detach(), **tol)
        for key, value in opt_c.state[c].items():
            if key != "step":
                assert_close(opt_g.state[g][key].cpu(), value, **tol)


def test_fused_step_refuses_mixed_devices():
    p = hy.zeros(3, device="cuda")
    with pytest.raises((RuntimeError, ValueError), match="cuda:0"):  # the device check or the kernel's
        _C.ops._fused_sgd_([p], [hy.zeros(3)], [], 0.1, 0.0, 0.0, 0.0, False, False, False)
