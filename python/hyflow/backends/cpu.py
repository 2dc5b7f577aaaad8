"""The CPU backend: which ISA variant of the hot kernels this process runs (docs/design.md, "CPU variants")."""
from .. import _C


def get_cpu_capability():
    """The CPU kernel variant in use: ``"avx512"``, ``"avx2"`` or ``"default"`` (the build's baseline).

    Chosen once, at import: the best variant this build compiled and the CPU supports, capped by the
    ``HYFLOW_CPU_CAPABILITY`` environment variable (``default``, ``avx2`` or ``avx512``).
    """
    return _C._cpu_capability()
