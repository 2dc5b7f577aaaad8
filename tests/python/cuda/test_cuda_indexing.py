"""CUDA gather/index_select/scatter_add/index_add/masked_fill beyond the OpInfo differential
(test_cuda_ops.py): bit-identical deterministic accumulation, bad indices, in-place forms, and the
embedding lookup and its gradient, which are made of these kernels. Each test compares with the CPU."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close


def exact(gpu, cpu):
    assert gpu.device == "cuda:0"
    assert gpu.dtype == cpu.dtype
    assert gpu.cpu().tolist() == cpu.tolist()


@pytest.mark.parametrize("dtype", [hy.float32, hy.float64, hy.float16, hy.bfloat16, hy.int32, hy.int64])
def test_scatter_add_matches_the_cpu_bit_for_bit(dtype):
    # Many repeats per target: float sums depend on the order; the CUDA kernel adds in the CPU's order.
    rng = np.random.default_rng(0)
    self_ = hy.from_numpy(rng.standard_normal((50, 7)) * 10).to(dtype)
    src = hy.from_numpy(rng.standard_normal((3000, 7)) * 10).to(dtype)
    index = hy.from_numpy(rng.integers(0, 50, (3000, 7)))
    want = hy.scatter_add(self_, 0, index, src)
    for _ in range(2):  # and run after run
        exact(hy.scatter_add(self_.cuda(), 0, index.cuda(), src.cuda()), want)


def test_scatter_add_along_the_last_dim_and_int32_index():
    rng = np.random.default_rng(1)
    self_ = hy.from_numpy(rng.standard_normal((4, 9)).astype(np.float32))
    src = hy.from_numpy(rng.standard_normal((4, 500)).astype(np.float32))
    index = hy.from_numpy(rng.integers(0, 9, (4, 500)).astype(np.int32))
    exact(hy.scatter_add(self_.cuda(), 1, index.cuda(), src.cuda()), hy.scatter_add(self_, 1, index, src))


def test_scatter_add_bad_index_raises_and_writes_nothing():
    x = hy.zeros(4, 3, device="cuda")
    index = hy.tensor([[0, 1, 2], [4, 0, 0]]).cuda()
    with pytest.raises(IndexError, match="index 4 is out of bounds for dim 0 with size 4"):
        x.scatter_add_(0, index, hy.ones(2, 3, device="cuda"))
    assert x.cpu().tolist() == [[0.0] * 3] * 4
    with pytest.raises(IndexError, match="index -1 is out of bounds"):
        hy.scatter_add(x, 0, hy.tensor([[0, -1, 0]]).cuda(), hy.ones(1, 3, device="cuda"))


def test_gather_and_index_select_bad_index_raise_index_error():
    x = hy.arange(12, dtype=hy.float32).reshape(3, 4).cuda()
    with pytest.raises(IndexError, match="gather: index 7 is out of bounds for dim 1 with size 4"):
        hy.gather(x, 1, hy.tensor([[0, 7]]).cuda())
    with pytest.raises(IndexError, match="index_select: index 3 is out of bounds for dim 0 with size 3"):
        hy.index_select(x, 0, hy.tensor([0, 3]).cuda())


@pytest.mark.parametrize("dtype", [hy.float32, hy.float64, hy.int64])
def test_index_add_with_alpha_matches_the_cpu_bit_for_bit(dtype):
    rng = np.random.default_rng(2)
    self_ = hy.from_numpy(rng.standard_normal((6, 30, 5)) * 4).to(dtype)
    source = hy.from_numpy(rng.standard_normal((6, 400, 5)) * 4).to(dtype)
    index = hy.from_numpy(rng.integers(0, 30, 400))
    alpha = 3 if dtype == hy.int64 else 0.37
    want = hy.index_add(self_, 1, index, source, alpha=alpha)
    exact(hy.index_add(self_.cuda(), 1, index.cuda(), source.cuda(), alpha=alpha), want)
    with pytest.raises(IndexError, match="index_add: index 30 is out of range for dim 1 of size 30"):
        hy.index_add(self_.cuda(), 1, hy.tensor([30]).cuda(), source[:, :1].cuda())


def test_in_place_forms_on_strided_tensors():
    base = hy.arange(40, dtype=hy.float32).reshape(5, 8)
    view_cpu = base.clone()[:, ::2]
    gpu_base = base.cuda()
    view_gpu = gpu_base[:, ::2]
    index = hy.tensor([[0, 4, 4, 1]])
    src = hy.full((1, 4), 0.5)
    view_cpu.scatter_add_(0, index, src)
    view_gpu.scatter_add_(0, index.cuda(), src.cuda())
    exact(view_gpu, view_cpu)
    mask = hy.tensor([True, False, True, False])
    exact(view_gpu.masked_fill_(mask.cuda(), -1.0), view_cpu.masked_fill_(mask, -1.0))
    assert gpu_base[:, 1].cpu().tolist() == base[:, 1].tolist()  # the other columns are untouched


@pytest.mark.parametrize("dtype", [hy.bool, hy.int32, hy.int64, hy.float16, hy.bfloat16, hy.float32, hy.float64])
def test_masked_fill_broadcast_mask(dtype):
    x = hy.arange(24).reshape(2, 3, 4).to(dtype)
    mask = hy.tensor([True, False, False, True])
    exact(hy.masked_fill(x.cuda(), mask.cuda(), 1), hy.masked_fill(x, mask, 1))
    # a 0-d CPU mask joins a CUDA op like a Python number
    exact(hy.masked_fill(x.cuda(), hy.tensor(True), 0), hy.masked_fill(x, hy.tensor(True), 0))


def test_embedding_forward_and_backward_match_the_cpu():
    hy.manual_seed(0)
    emb = hy.nn.Embedding(50, 16, padding_idx=3)
    tokens = hy.from_numpy(np.random.default_rng(3).integers(0, 50, (8, 40)))
    tokens[0, :5] = 3
    out = emb(tokens)
    (out * out).sum().backward()
    want_out, want_grad = out.detach(), emb.weight.grad.clone()

    emb_gpu = hy.nn.Embedding(50, 16, padding_idx=3)
    with hy.no_grad():
        emb_gpu.weight.copy_(emb.weight.detach())
    emb_gpu = emb_gpu.to("cuda")
    out_gpu = emb_gpu(tokens.cuda())
    (out_gpu * out_gpu).sum().backward()
    exact(out_gpu.detach(), want_out)
    assert emb_gpu.weight.grad.device == "cuda:0"
    assert_close(emb_gpu.weight.grad.cpu(), want_grad, rtol=1e-6, atol=1e-6)
    assert emb_gpu.weight.grad[3].cpu().abs().sum().item() == 0.0  # padding_idx gets no gradient


def test_gather_backward_on_cuda():
    x = hy.arange(12, dtype=hy.float32).reshape(3, 4)
    index = hy.tensor([[0, 0, 3], [1, 1, 1], [2, 0, 0]])
    xc = x.cuda().requires_grad_(True)
    hy.gather(xc, 1, index.cuda()).sum().backward()
    xr = x.clone().requires_grad_(True)
    hy.gather(xr, 1, index).sum().backward()
    exact(xc.grad, xr.grad)


def test_slice_and_select_backward_on_cuda():
    # slice's backward used to build its index with a host-only arange and then mix devices
    x = hy.arange(20, dtype=hy.float32).reshape(4, 5)
    xc, xg = x.clone().requires_grad_(True), x.cuda().requires_grad_(True)
    (xc[:, 1:4:2] * 3).sum().backward()
    (xg[:, 1:4:2] * 3).sum().backward()
    exact(xg.grad, xc.grad)
    xc.grad, xg.grad = None, None
    (xc[2] * 2).sum().backward()
    (xg[2] * 2).sum().backward()
    exact(xg.grad, xc.grad)
