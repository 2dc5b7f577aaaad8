"""hyflow.optim: optimizers (SGD, Adam, AdamW, Adadelta, Adagrad, RMSprop, LBFGS) and learning-rate schedulers
(see docs/nn.md#optim)."""
from . import lr_scheduler  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .sgd_adam import SGD, Adam, AdamW  # noqa: F401
from .adaptive import Adadelta, Adagrad, RMSprop  # noqa: F401
from .lbfgs import LBFGS  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adadelta", "Adagrad", "RMSprop", "LBFGS", "lr_scheduler"]
