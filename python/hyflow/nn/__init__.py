"""hyflow.nn: modules, layers, losses and initializers with torch.nn's API (see docs/nn.md)."""
from . import functional, init, utils  # noqa: F401
from .layers import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401
