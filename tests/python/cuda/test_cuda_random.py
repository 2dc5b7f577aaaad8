"""CUDA randint, multinomial and dropout draw the CPU's Philox counters: the same seed gives the same
values on either device (docs/cuda.md, Random)."""
import numpy as np
import pytest

import hyflow as hy


def same_draw(fn):
    hy.manual_seed(11)
    cpu = fn("cpu")
    hy.manual_seed(11)
    gpu = fn("cuda")
    assert gpu.device == "cuda:0"
    assert gpu.dtype == cpu.dtype
    return gpu.cpu(), cpu


@pytest.mark.parametrize("dtype", [hy.int32, hy.int64, hy.float32, hy.float64])
def test_randint_is_bit_identical_to_the_cpu(dtype):
    gpu, cpu = same_draw(lambda dev: hy.randint(-7, 1000, (33, 65), dtype=dtype, device=dev))
    assert gpu.tolist() == cpu.tolist()
    # the full int64 range (the multiply-high mapping needs all 64 bits)
    gpu, cpu = same_draw(lambda dev: hy.randint(-2**63, 2**63 - 1, (1000,), device=dev))
    assert gpu.tolist() == cpu.tolist()


@pytest.mark.parametrize("dtype", [hy.float64, hy.float32, hy.float16, hy.bfloat16])
def test_uniform_with_bounds_is_bit_identical_to_the_cpu(dtype):
    # low + (high - low) * u with the product rounded on its own, as on the CPU: a fused multiply-add
    # on the device would move some float64 draws by an ulp (and, rarely, a float32 one).
    gpu, cpu = same_draw(lambda dev: hy.empty(4099, dtype=dtype, device=dev).uniform_(-3.7, 11.3))
    assert gpu.to(hy.float64).tolist() == cpu.to(hy.float64).tolist()
    # a mean and std other than (0, 1): mean + std * draw, the product rounded on its own
    gpu, cpu = same_draw(lambda dev: hy.empty(4099, dtype=hy.float64, device=dev).normal_(2.5, 0.3))
    np.testing.assert_allclose(gpu.numpy(), cpu.numpy(), rtol=1e-14, atol=0)


def test_randint_continues_the_stream():
    hy.manual_seed(3)
    a = hy.rand(10)
    b = hy.randint(0, 5, (10,))
    hy.manual_seed(3)
    ag = hy.rand(10, device="cuda")
    bg = hy.randint(0, 5, (10,), device="cuda")
    assert ag.cpu().tolist() == a.tolist() and bg.cpu().tolist() == b.tolist()


@pytest.mark.parametrize("replacement", [True, False])
def test_multinomial_matches_the_cpu(replacement):
    w = hy.from_numpy(np.random.default_rng(0).random((16, 300)) ** 3)
    w[3, :290] = 0.0  # a row with few positive weights
    gpu, cpu = same_draw(lambda dev: hy.multinomial(w.to(dev), 9, replacement))
    assert gpu.tolist() == cpu.tolist()
    gpu, cpu = same_draw(lambda dev: hy.multinomial(w[0].float().to(dev), 2000, True))
    assert gpu.tolist() == cpu.tolist()


def test_multinomial_bad_weights_raise_like_the_cpu():
    w = hy.tensor([[0.5, 0.5, 0.0], [0.2, -1.0, 0.3]]).cuda()
    with pytest.raises(RuntimeError, match=r"element < 0 \(self\[1, 1\] = -1\)"):
        hy.multinomial(w, 1)
    with pytest.raises(RuntimeError, match="sum of probabilities <= 0"):
        hy.multinomial(hy.zeros(4, device="cuda"), 1, True)
    with pytest.raises(RuntimeError, match="only 2 categories have a non-zero weight"):
        hy.multinomial(hy.tensor([0.5, 0.5, 0.0]).cuda(), 3)


def test_dropout_on_cuda_uses_the_same_mask_as_the_cpu():
    x = hy.randn(64, 33)
    gpu, cpu = same_draw(lambda dev: hy.nn.functional.dropout(x.to(dev), 0.3))
    assert gpu.tolist() == cpu.tolist()
    assert 0 < (cpu == 0).float().mean().item() < 0.6
