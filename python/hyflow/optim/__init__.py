"""hyflow.optim: optimizers (SGD, Adam, AdamW) and learning-rate schedulers (see docs/nn.md#optim)."""
from . import lr_scheduler  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .sgd_adam import SGD, Adam, AdamW  # noqa: F401
