"""Pickling generators: pickle.dumps(g), copy.copy(g), copy.deepcopy(g), a Generator inside a pickled DataLoader.

A generator's whole state is (seed, offset) (counter-based Philox, see docs/tensors.md), so it pickles as those
two integers and unpickles as a new, independent generator that continues with exactly the numbers the original
would draw next.
"""
from ._C import Generator

__all__ = []

_UINT64 = 2**64


def _reduce_ex(self, protocol):
    return (_rebuild_generator, tuple(self.get_state()))


def _rebuild_generator(seed, offset):
    for name, v in (("seed", seed), ("offset", offset)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"unpickling a Generator: {name} must be an int, got {type(v).__name__}")
        if not 0 <= v < _UINT64:
            raise ValueError(f"unpickling a Generator: {name} {v} is outside [0, 2**64)")
    g = Generator()
    g.set_state((seed, offset))
    return g


Generator.__reduce_ex__ = _reduce_ex
