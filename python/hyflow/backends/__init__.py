"""Per-backend queries, as in ``torch.backends``: ``hy.backends.cpu.get_cpu_capability()``."""
from . import cpu  # noqa: F401
