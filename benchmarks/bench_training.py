"""Training-step throughput: hyflow eager vs PyTorch eager CPU, same process, same thread count.

Cases: an MLP 784-512-512-10 (batch 128), a small CNN on 1x28x28 inputs (batch 64) and the standard MNIST
network of PyTorch's examples (conv 1->32 and 32->64, 3x3, max-pool, linears 9216->128->10; batch 64), float32,
one step = forward + cross-entropy + backward + optimizer step (SGD momentum and AdamW). Reports steps/s.
    python benchmarks/bench_training.py --threads 2
"""
import numpy as np

from _common import optional_torch, parse_args, report, setup_threads, timeit

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F
import hyflow.optim as optim


def mlp(lib):
    return lib.Sequential(lib.Linear(784, 512), lib.ReLU(), lib.Linear(512, 512), lib.ReLU(), lib.Linear(512, 10))


def cnn(lib):
    return lib.Sequential(lib.Conv2d(1, 16, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(16, 32, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(32 * 7 * 7, 10))


def mnist_net(lib):
    """pytorch/examples mnist/main.py's Net without its dropout layers (random masks differ between libraries)."""
    return lib.Sequential(lib.Conv2d(1, 32, 3), lib.ReLU(), lib.Conv2d(32, 64, 3), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(9216, 128), lib.ReLU(), lib.Linear(128, 10))


def make_step(model, opt, x, y, ce):
    def step():
        loss = ce(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def main():
    args = parse_args(__doc__)
    setup_threads(args.threads)
    torch = optional_torch()
    rng = np.random.default_rng(0)
    rows = []
    for name, build, shape in (("MLP 784-512-512-10 b128", mlp, (128, 784)),
                               ("CNN 28x28 b64", cnn, (64, 1, 28, 28)),
                               ("MNIST net (conv 32->64) b64", mnist_net, (64, 1, 28, 28))):
        xn = rng.standard_normal(shape).astype(np.float32)
        yn = rng.integers(0, 10, shape[0])
        for oname in ("SGD(momentum)", "AdamW"):
            hm = build(nn)
            ho = optim.SGD(hm.parameters(), lr=1e-2, momentum=0.9) if oname.startswith("SGD") else \
                optim.AdamW(hm.parameters(), lr=1e-3)
            r = {"case": f"{name} {oname}", "unit": "steps/s"}
            r["hyflow"] = 1.0 / timeit(make_step(hm, ho, hy.tensor(xn), hy.tensor(yn), F.cross_entropy),
                                       args.repeats, min_time=0.2, warmup=2)
            if torch:
                tm = build(torch.nn)
                to = torch.optim.SGD(tm.parameters(), lr=1e-2, momentum=0.9) if oname.startswith("SGD") else \
                    torch.optim.AdamW(tm.parameters(), lr=1e-3)
                r["torch"] = 1.0 / timeit(make_step(tm, to, torch.from_numpy(xn), torch.from_numpy(yn),
                                                    torch.nn.functional.cross_entropy),
                                          args.repeats, min_time=0.2, warmup=2)
                r["torch/hyflow"] = r["hyflow"] / r["torch"]
            rows.append(r)
    report("training", rows,
           [("case", "case", None), ("unit", "unit", None), ("hyflow", "hyflow", "{:.1f}"),
            ("torch", "torch", "{:.1f}"), ("torch/hyflow", "hyflow vs torch", "{:.2f}x")],
           args, notes=["'hyflow vs torch' > 1 means hyflow trains faster",
                        "hyflow conv/pool: C++ im2col/col2im and max_pool2d ops + one GEMM per block of images (op-table ops)",
                        f"hyflow float32 GEMM library: {hy.build_info()['gemm_f32']}",
                        "hyflow optimizers: one fused C++ kernel per parameter group"])


if __name__ == "__main__":
    main()
