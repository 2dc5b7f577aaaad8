"""multinomial (csrc/ops/table/random.yaml). Draws are random, so the table test uses distributions with
one possible outcome (one non-zero weight per row); tests/python/test_sort_select.py checks frequencies."""
import numpy as np

from . import FLOAT, OpInfo, Sample


def _one_hot(rng, rows, n, dtype, scale=1.0):
    w = np.zeros((rows, n), dtype=np.float32 if dtype == "bfloat16" else dtype)
    w[np.arange(rows), rng.integers(0, n, size=rows)] = scale
    return w


def multinomial_samples(dtype, rng):
    yield Sample((_one_hot(rng, 1, 6, dtype)[0], 4, True), desc="1-D with replacement")
    yield Sample((_one_hot(rng, 5, 7, dtype, 3.5), 3, True), desc="2-D unnormalized with replacement")
    yield Sample((_one_hot(rng, 4, 3, dtype), 1), desc="without replacement")
    yield Sample((_one_hot(rng, 3, 8, dtype).T.copy().T, 2, True), desc="non-contiguous")


def ref_multinomial(w, num_samples, replacement=False):
    return np.repeat(np.argmax(w, axis=-1)[..., None], num_samples, axis=-1).astype(np.int64)


OPS = [OpInfo("multinomial", ref_multinomial, multinomial_samples, FLOAT)]
