"""Per-backend queries and flags, as in ``torch.backends``: ``hy.backends.cpu.get_cpu_capability()``,
``hy.backends.cuda.is_built()``, ``hy.backends.cudnn.benchmark = True``, ``hy.backends.mps.is_available()``.

The cuDNN and TF32 flags are accepted and kept so PyTorch programs run unchanged; hyflow reads none of them
(it uses no cuDNN and no TF32 math, and on the CPU there is nothing they could change): docs/cuda.md."""
from . import cpu, cuda, cudnn, mps  # noqa: F401
