"""CUDA convolution (im2col + cuBLAS, col2im), max pooling, the simulation stencils, roll and cat as the
layers and solvers use them, forward and backward, compared with the CPU (the OpInfo differential in
test_cuda_ops.py checks each op on its own)."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close

F = hy.nn.functional


def pair(x):
    """A CPU leaf and an independent CUDA leaf with the same values."""
    return x.clone().requires_grad_(True), x.cuda().requires_grad_(True)


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1}, {"dilation": 2, "padding": 2}, {"groups": 2}])
def test_conv2d_forward_and_backward(kw):
    hy.manual_seed(0)
    x = hy.randn(3, 4, 11, 9)
    w = hy.randn(6, 4 // kw.get("groups", 1), 3, 3)
    b = hy.randn(6)
    (xc, xg), (wc, wg), (bc, bg) = pair(x), pair(w), pair(b)
    yc, yg = F.conv2d(xc, wc, bc, **kw), F.conv2d(xg, wg, bg, **kw)
    assert yg.device == "cuda:0"
    assert_close(yg.detach().cpu(), yc.detach(), rtol=1e-4, atol=1e-4)
    (yc * yc).sum().backward()
    (yg * yg).sum().backward()
    for c, g in ((xc, xg), (wc, wg), (bc, bg)):
        assert_close(g.grad.cpu(), c.grad, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1, "output_padding": 1},
                                {"stride": 1, "dilation": 2, "output_padding": 1},  # output_padding >= stride
                                {"groups": 2, "stride": (2, 3), "padding": (0, 1)}])
@pytest.mark.parametrize("dtype", [hy.float32, hy.float64, hy.bfloat16])
def test_conv_transpose2d_forward_and_backward(kw, dtype):
    # The CUDA kernel is a batched cuBLAS GEMM into patch rows plus col2im (kernels/conv_transpose_by_ops.cpp).
    hy.manual_seed(3)
    x = hy.randn(2, 4, 7, 6).to(dtype)
    w = hy.randn(4, 6 // kw.get("groups", 1), 3, 3).to(dtype)
    b = hy.randn(6).to(dtype)
    (xc, xg), (wc, wg), (bc, bg) = pair(x), pair(w), pair(b)
    yc, yg = F.conv_transpose2d(xc, wc, bc, **kw), F.conv_transpose2d(xg, wg, bg, **kw)
    assert yg.device == "cuda:0" and yg.dtype == dtype and yg.shape == yc.shape
    tol = 2e-2 if dtype == hy.bfloat16 else 1e-4
    assert_close(yg.detach().cpu().float(), yc.detach().float(), rtol=tol, atol=tol)
    (yc.float() ** 2).sum().backward()
    (yg.float() ** 2).sum().backward()
    for c, g in ((xc, xg), (wc, wg), (bc, bg)):
        assert_close(g.grad.cpu().float(), c.grad.float(), rtol=tol, atol=10 * tol)


def test_conv_transpose2d_layer_and_errors_on_cuda():
    hy.manual_seed(4)
    layer = hy.nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1)
    x = hy.randn(2, 3, 8, 8)
    ref = layer(x)
    got = layer.cuda()(x.cuda())
    assert_close(got.detach().cpu(), ref.detach(), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="output padding must be smaller"):
        F.conv_transpose2d(x.cuda(), layer.weight, stride=1, output_padding=1)
    with pytest.raises(RuntimeError, match="same device"):
        F.conv_transpose2d(x, layer.weight)


def test_conv2d_in_image_blocks_joins_them_with_cat():
    # More than 1 MiB of patches: the layer works block by block and cats the blocks (and split's backward).
    hy.manual_seed(1)
    x, w = hy.randn(40, 8, 24, 24), hy.randn(16, 8, 3, 3)
    (xc, xg), (wc, wg) = pair(x), pair(w)
    yc, yg = F.conv2d(xc, wc, padding=1), F.conv2d(xg, wg, padding=1)
    assert_close(yg.detach().cpu(), yc.detach(), rtol=1e-4, atol=1e-4)
    yc.sum().backward()
    yg.sum().backward()
    assert_close(xg.grad.cpu(), xc.grad, rtol=1e-4, atol=1e-4)


def test_col2im_is_bit_identical_to_the_cpu():
    # Each input element sums its patch entries in the CPU's (kernel tap) order, without atomics.
    rng = np.random.default_rng(2)
    cols = hy.from_numpy(rng.standard_normal((2, 6 * 5, 3 * 3 * 3)).astype(np.float32))
    args = ([2, 3, 11, 9], [3, 3], [1, 1], [1, 1], [2, 2])
    want = hy.ops.col2im(cols.permute([2, 0, 1]).contiguous().permute([1, 2, 0]), *args)
    got = hy.ops.col2im(cols.permute([2, 0, 1]).contiguous().permute([1, 2, 0]).cuda(), *args)
    assert got.cpu().tolist() == want.tolist()


def test_max_pool_forward_backward_with_overlapping_windows():
    x = hy.randn(2, 3, 10, 10)
    x[0, 0, 2, 2] = float("nan")
    (xc, xg) = pair(x)
    yc = F.max_pool2d(xc, 3, stride=2, padding=1)
    yg = F.max_pool2d(xg, 3, stride=2, padding=1)
    assert_close(yg.detach().cpu(), yc.detach(), equal_nan=True)
    vc, ic = hy.ops.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1], [1, 1])
    vg, ig = hy.ops.max_pool2d_with_indices(x.cuda(), [3, 3], [2, 2], [1, 1], [1, 1])
    assert ig.cpu().tolist() == ic.tolist()
    g = hy.randn(*yc.shape)
    yc.backward(g)
    yg.backward(g.cuda())
    assert xg.grad.cpu().tolist() == xc.grad.tolist()  # same scatter order: bit-identical


def test_max_pool_backward_bad_index_raises():
    g = hy.ones(1, 1, 2, 2, device="cuda")
    with pytest.raises(IndexError, match="index 16 out of range for 16 input elements per plane"):
        hy.ops.max_pool2d_backward(g, hy.tensor([[[[0, 1], [2, 16]]]]).cuda(), [1, 1, 4, 4])


@pytest.mark.parametrize("boundary", ["periodic", "dirichlet", "neumann"])
@pytest.mark.parametrize("grid_dims", [1, 2, 3])
def test_stencils_and_their_gradients(boundary, grid_dims):
    shape = (2,) + (7, 6, 5)[:grid_dims]
    u = hy.randn(*shape, dtype=hy.float64)
    v = hy.randn(2, grid_dims, *shape[1:], dtype=hy.float64)
    kw = dict(grid_dims=grid_dims, dx=0.5, boundary=boundary, value=1.5)
    for fn, x in ((hy.laplacian, u), (hy.gradient, u), (hy.divergence, v)):
        xc, xg = pair(x)
        yc, yg = fn(xc, **kw), fn(xg, **kw)
        assert yg.device == "cuda:0"
        assert_close(yg.detach().cpu(), yc.detach(), rtol=1e-12, atol=1e-12)
        w = hy.randn(*yc.shape, dtype=hy.float64)
        (yc * w).sum().backward()
        (yg * w.cuda()).sum().backward()
        assert_close(xg.grad.cpu(), xc.grad, rtol=1e-12, atol=1e-12)


def test_heat_equation_steps_match_the_cpu():
    u = hy.rand(64, 64)
    uc, ug = u.clone(), u.cuda()
    for _ in range(50):
        uc = uc + 0.2 * hy.laplacian(uc, boundary="neumann")
        ug = ug + 0.2 * hy.laplacian(ug, boundary="neumann")
    assert_close(ug.cpu(), uc, rtol=1e-5, atol=1e-6)


def test_roll_cat_stack():
    x = hy.arange(60).reshape(3, 4, 5)
    xg = x.cuda()
    assert hy.roll(xg, [1, -2], [0, 2]).cpu().tolist() == hy.roll(x, [1, -2], [0, 2]).tolist()
    assert hy.roll(xg, [7]).cpu().tolist() == hy.roll(x, [7]).tolist()
    y = hy.ones(3, 2, 5, dtype=hy.float32)
    got = hy.cat([xg, y.cuda(), hy.zeros(0, device="cuda")], 1)  # int64 + float32 promote; 1-D empty skipped
    assert got.dtype == hy.float32
    assert got.cpu().tolist() == hy.cat([x, y, hy.zeros(0)], 1).tolist()
    assert hy.stack([xg, xg], -1).cpu().tolist() == hy.stack([x, x], -1).tolist()
    with pytest.raises(ValueError, match="sizes must match except in dim 0"):
        hy.cat([xg, hy.zeros(1, 2, 2, device="cuda")], 0)


@pytest.mark.parametrize("dtype", [hy.float32, hy.float64, hy.bfloat16])
def test_layer_norm_forward_and_backward(dtype):
    # layer_norm_backward (layer_norm.cu): input, weight and bias gradients against the CPU.
    hy.manual_seed(5)
    x, w, b = hy.randn(37, 5, 129).to(dtype), hy.randn(129).to(dtype), hy.randn(129).to(dtype)
    (xc, xg), (wc, wg), (bc, bg) = pair(x), pair(w), pair(b)
    yc, yg = F.layer_norm(xc, (129,), wc, bc), F.layer_norm(xg, (129,), wg, bg)
    tol = 2e-2 if dtype == hy.bfloat16 else 1e-4
    assert_close(yg.detach().cpu().float(), yc.detach().float(), rtol=tol, atol=tol)
    g = hy.randn(37, 5, 129).to(dtype)
    yc.backward(g)
    yg.backward(g.cuda())
    for c, d in ((xc, xg), (wc, wg), (bc, bg)):
        assert_close(d.grad.cpu().float(), c.grad.float(), rtol=tol, atol=10 * tol)
