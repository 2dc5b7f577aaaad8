"""A short tour of hyflow: tensors, ops, sharing memory with NumPy (and DLPack), a user-defined op
and, when this build has it, a finite-difference stencil. Runs in a second or two.

    bash scripts/run_main.sh          # sets everything up, then runs this file
"""
import time

import numpy as np

import hyflow as hy


def section(title):
    print(f"\n== {title} " + "=" * max(0, 60 - len(title)))


def main():
    t0 = time.perf_counter()
    print(f"hyflow {hy.__version__}, {hy.get_num_threads()} threads")

    section("tensors")
    x = hy.tensor([[1.0, 2.0], [3.0, 4.0]])
    print("x =", x)
    print("shape", tuple(x.shape), "dtype", x.dtype, "strides", x.stride())
    print("zeros(2, 3, dtype=int32) =", hy.zeros(2, 3, dtype=hy.int32))
    print("arange(0, 1, 0.25) =", hy.arange(0, 1, 0.25))
    g = hy.Generator(seed=0)
    print("randn(2, 3) =", hy.randn(2, 3, generator=g))

    section("ops: broadcasting, type promotion, views")
    y = x * 10 + hy.tensor([0.5, -0.5])       # (2, 2) with (2,) broadcasts
    print("x * 10 + [0.5, -0.5] =", y)
    print("int tensor + 2.5 ->", (hy.tensor([1, 2]) + 2.5).dtype, "(Python numbers do not widen tensors)")
    xt = x.transpose(0, 1)
    print("x.T (a view, shares memory) =", xt, "| contiguous:", xt.is_contiguous())
    print("x.reshape(4) =", x.reshape(4))
    if hasattr(hy.Tensor, "sum"):
        print("x.sum(dim=1) =", x.sum(dim=1))
    if hasattr(hy.Tensor, "__matmul__"):
        print("x @ x =", x @ x)
    if hasattr(hy, "exp"):
        print("exp(x / 4) =", hy.exp(x / 4))

    section("NumPy / DLPack sharing (zero copy)")
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = hy.from_numpy(a)
    t.add_(hy.ones(2, 3, dtype=hy.float64))    # an in-place op on the tensor ...
    print("numpy array after t.add_(1):\n", a)  # ... is visible in the array it shares
    back = t.numpy()
    back[0, 0] = 100.0
    print("tensor after writing through .numpy():", t)
    if hasattr(hy, "from_dlpack"):
        d = hy.from_dlpack(t)
        print("from_dlpack shares memory:", d.data_ptr() == t.data_ptr())
        try:
            import torch
            tt = torch.from_dlpack(t)
            print("torch.from_dlpack(t) =", tt)
        except ImportError:
            pass

    section("a user-defined op (Python kernel)")
    if "demo_axpy" not in hy.ops.list_ops():
        hy.ops.define("demo_axpy(Tensor x, Tensor y, *, float a=1.0) -> Tensor", doc="a * x + y")

        @hy.ops.impl("demo_axpy", "cpu")
        def _demo_axpy(x, y, a):
            return x * a + y

    print("hy.ops.demo_axpy(x, x, a=3) =", hy.ops.demo_axpy(x, x, a=3.0))
    print("schema:", hy.ops.schema("demo_axpy")["schema"])

    if hasattr(hy, "laplacian"):
        section("a stencil: explicit heat diffusion on a 64 x 64 grid")
        n = 64
        u = np.zeros((n, n))
        u[n // 2 - 4:n // 2 + 4, n // 2 - 4:n // 2 + 4] = 1.0
        c = hy.from_numpy(u)
        buf = hy.empty(n, n, dtype=hy.float64)
        total0 = float(u.sum())
        for _ in range(200):
            hy.laplacian(c, boundary="neumann", out=buf)
            c.add_(buf, alpha=0.2)
        print(f"200 steps: peak {u.max():.4f} (from 1.0), total heat {u.sum():.6f} (from {total0:.6f})")

    section("summary")
    big = hy.rand(50, 100, generator=g) + 1
    print(f"a (50, 100) tensor prints summarized, like torch:\n{big}")
    print(f"\ndemo finished in {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
