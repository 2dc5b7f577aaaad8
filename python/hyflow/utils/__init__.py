"""hyflow.utils: torch.utils's module paths, so `from hyflow.utils.data import DataLoader` works unchanged."""
from . import data  # noqa: F401

__all__ = ["data"]
