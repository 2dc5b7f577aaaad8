"""tril / triu (csrc/ops/table/triangular.yaml) against NumPy."""
import numpy as np

from . import ALL, OpInfo, Sample, rand_array


def triangle_samples(dtype, rng):
    a = lambda *s: rand_array(rng, s, dtype)  # noqa: E731
    yield Sample((a(4, 5),), desc="main diagonal")
    yield Sample((a(5, 4), 1), desc="above")
    yield Sample((a(3, 6), -2), desc="below")
    yield Sample((a(2, 3, 4), 0), desc="batched")
    yield Sample((rand_array(rng, (4, 6), dtype, noncontig=True), 1), desc="non-contiguous")
    yield Sample((a(4, 3).T, -1), desc="transposed")
    yield Sample((a(3, 4), 10), desc="diagonal beyond the matrix")
    yield Sample((a(3, 4), -10), desc="diagonal below the matrix")
    yield Sample((a(0, 3),), desc="empty rows")
    yield Sample((a(3, 0), 1), desc="empty cols")
    yield Sample((a(2, 70, 90), 3), desc="large batched")


OPS = [
    OpInfo("tril", lambda x, diagonal=0: np.tril(x, diagonal), triangle_samples, ALL),
    OpInfo("triu", lambda x, diagonal=0: np.triu(x, diagonal), triangle_samples, ALL),
]
