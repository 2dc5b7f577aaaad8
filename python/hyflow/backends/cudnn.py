"""``torch.backends.cudnn``'s flags and queries. hyflow uses no cuDNN: the flags (torch's defaults:
``enabled`` and ``allow_tf32`` True, ``benchmark`` and ``deterministic`` False) may be set and read, and change
nothing; hyflow's kernels are deterministic whatever ``deterministic`` says (docs/cuda.md)."""
import contextlib

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit = 10


def is_available():
    """True when hyflow has a usable CUDA device (hy.cuda.is_available()); there is no separate cuDNN."""
    from .. import cuda
    return cuda.is_available()


def version():
    """None: hyflow links no cuDNN library (torch answers None when cuDNN is not available)."""
    return None


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
    """Set the flags inside a ``with`` block and restore them after, as ``torch.backends.cudnn.flags``."""
    g = globals()
    names = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32")
    saved = {n: g[n] for n in names}
    g.update(zip(names, (enabled, benchmark, benchmark_limit, deterministic, allow_tf32)))
    try:
        yield
    finally:
        g.update(saved)
