"""Shape ops (csrc/ops/table/shape.yaml) against NumPy: concatenate, stack, split, flip, roll, pad,
take_along_axis, add.at and take."""
import numpy as np

from . import ALL, COMPLEX, OpInfo, Sample, rand_array


def _arr(rng, dtype, shape, nc=False):
    return rand_array(rng, shape, dtype, -5, 5, nc)


def _idx(rng, high, shape):
    return rng.integers(0, high, size=shape).astype(np.int64)


# --- cat / stack ---------------------------------------------------------------------------------

def cat_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample(([a(2, 3), a(4, 3)],), desc="dim 0")
    yield Sample(([a(2, 3), a(2, 1), a(2, 0)],), {"dim": 1}, desc="dim 1 with an empty piece")
    yield Sample(([a(2, 3, 4), _arr(rng, dtype, (2, 3, 2), True)],), {"dim": -1}, desc="non-contiguous, dim -1")
    yield Sample(([a(0), a(3, 2), a(0), a(1, 2)],), desc="legacy 1-D empties skipped")
    yield Sample(([a(5)],), desc="one tensor")
    yield Sample(([a(3, 2), rng.integers(-3, 3, size=(1, 2)).astype(np.int32)],), desc="mixed dtypes promote")
    yield Sample(([a(200, 300), a(100, 300)],), desc="large")
    yield Sample(([a(20, 3, 4), a(20, 0, 4), a(20, 5, 4)],), {"dim": 1}, desc="many rows (one-pass path)")


def ref_cat(tensors, dim=0):
    kept = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)]
    return np.concatenate(kept, axis=dim)


def stack_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample(([a(2, 3), a(2, 3), a(2, 3)],), desc="dim 0")
    yield Sample(([a(2, 3), _arr(rng, dtype, (2, 3), True)],), {"dim": -1}, desc="new last dim, non-contiguous")
    yield Sample(([a(2, 3), a(2, 3)],), {"dim": 1}, desc="middle dim")
    yield Sample(([a(), a()],), desc="0-d tensors")
    yield Sample(([a(0, 2), a(0, 2)],), {"dim": 1}, desc="empty")
    yield Sample(([a(10, 4), a(10, 4), a(10, 4)],), {"dim": 1}, desc="many rows (one-pass path)")


def ref_stack(tensors, dim=0):
    return np.stack(tensors, axis=dim)


# --- split / chunk (torch semantics, NumPy split at cumulative offsets) -------------------------------

def split_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(7, 3), 2), desc="int size, remainder")
    yield Sample((a(6, 4), 3), {"dim": 0}, desc="int size, even")
    yield Sample((a(3, 8), [1, 4, 3]), {"dim": 1}, desc="sections")
    yield Sample((a(3, 8), [0, 8]), {"dim": -1}, desc="sections with an empty piece")
    yield Sample((_arr(rng, dtype, (5, 4), True), 10), desc="size larger than the dim")
    yield Sample((a(0, 3), 2), desc="empty dim")


def ref_split(x, s, dim=0):
    n = x.shape[dim]
    if isinstance(s, int):
        return np.split(x, list(range(s, n, s)), axis=dim) if n else [x]
    return np.split(x, list(np.cumsum(s)[:-1]), axis=dim)


def chunk_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(7, 3), 3), desc="uneven")
    yield Sample((a(6, 3), 4), desc="fewer pieces than chunks")
    yield Sample((a(2, 9), 3), {"dim": 1}, desc="dim 1")
    yield Sample((a(2, 5), 1), {"dim": -1}, desc="one chunk")


def ref_chunk(x, chunks, dim=0):
    n = x.shape[dim]
    return ref_split(x, -(-n // chunks), dim)


# --- flip / roll --------------------------------------------------------------------------------------

def flip_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(5), [0]))
    yield Sample((a(3, 4), [0, 1]), desc="both dims")
    yield Sample((a(2, 3, 4), [-1]), desc="last dim")
    yield Sample((_arr(rng, dtype, (3, 4), True), [1]), desc="non-contiguous")
    yield Sample((a(2, 3), []), desc="no dims (copy)")
    yield Sample((a(0, 3), [0]), desc="empty")
    yield Sample((a(300, 200), [0, 1]), desc="large")


def ref_flip(x, dims):
    return np.flip(x, axis=tuple(dims)) if dims else x.copy()


def roll_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(3, 4), [1]), desc="flattened")
    yield Sample((a(3, 4), [-5]), {"dims": [1]}, desc="negative, larger than the dim")
    yield Sample((a(3, 4, 5), [1, 2]), {"dims": [0, -1]}, desc="two dims")
    yield Sample((_arr(rng, dtype, (4, 6), True), [3]), {"dims": [1]}, desc="non-contiguous")
    yield Sample((a(0, 3), [2]), {"dims": [0]}, desc="empty")


def ref_roll(x, shifts, dims=None):
    if dims is None:
        return np.roll(x, shifts[0])
    return np.roll(x, tuple(shifts), axis=tuple(dims))


# --- pad ----------------------------------------------------------------------------------------------

def pad_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(3, 4), [1, 2]), desc="constant, last dim")
    yield Sample((a(3, 4), [1, 0, 2, 1]), {"value": 1.0}, desc="constant value, two dims")
    yield Sample((a(3, 5), [-1, 2, 0, -2]), desc="negative pads crop")
    yield Sample((_arr(rng, dtype, (2, 3, 4), True), [2, 2]), {"mode": "reflect"}, desc="reflect")
    yield Sample((a(2, 3, 4), [1, 3, 2, 0]), {"mode": "replicate"}, desc="replicate")
    yield Sample((a(2, 3, 4), [3, 2, 1, 3]), {"mode": "circular"}, desc="circular")
    yield Sample((a(4, 5), [1, 1, 2, 2]), {"mode": "reflect"}, desc="reflect two dims")
    yield Sample((a(64, 300), [3, 3, 1, 1]), {"mode": "reflect"}, desc="large")


_NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def ref_pad(x, pad, mode="constant", value=0.0):
    widths = [[0, 0] for _ in range(x.ndim)]
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = [pad[2 * i], pad[2 * i + 1]]
    crop = tuple(slice(max(0, -l), x.shape[d] - max(0, -r)) for d, (l, r) in enumerate(widths))
    x = x[crop]
    widths = [[max(0, l), max(0, r)] for l, r in widths]
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.array(value).astype(x.dtype))
    return np.pad(x, widths, mode=_NP_MODE[mode])


# --- gather / scatter_add / index_select ---------------------------------------------------------------

def gather_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(4, 5), 1, _idx(rng, 5, (4, 3))), desc="dim 1")
    yield Sample((a(4, 5), 0, _idx(rng, 4, (6, 5))), desc="dim 0, more rows than self")
    yield Sample((a(4, 5), -1, _idx(rng, 5, (2, 2))), desc="index smaller than self")
    yield Sample((_arr(rng, dtype, (3, 4, 5), True), 1, _idx(rng, 4, (3, 4, 5)).astype(np.int32)),
                 desc="non-contiguous self, int32 index")
    yield Sample((a(3, 4), 1, _idx(rng, 4, (3, 8))[:, ::2]), desc="strided index")
    yield Sample((a(3, 4), 0, _idx(rng, 3, (0, 4))), desc="empty index")
    yield Sample((a(200, 300), 1, _idx(rng, 300, (200, 300))), desc="large")


def ref_gather(x, dim, index):
    index = index.astype(np.int64)
    crop = tuple(slice(None) if d == dim % x.ndim else slice(0, s) for d, s in enumerate(index.shape))
    return np.take_along_axis(x[crop], index, axis=dim)


def scatter_add_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(4, 5), 0, _idx(rng, 4, (6, 5)), a(6, 5)), desc="dim 0, repeated indices")
    yield Sample((a(4, 5), 1, _idx(rng, 5, (4, 8)), a(4, 8)), desc="dim 1")
    yield Sample((a(4, 5), -1, _idx(rng, 5, (2, 3)).astype(np.int32), a(3, 4)), desc="index smaller than src")
    yield Sample((_arr(rng, dtype, (3, 4), True), 0, _idx(rng, 3, (3, 4)), _arr(rng, dtype, (3, 4), True)),
                 desc="non-contiguous")
    yield Sample((a(10), 0, _idx(rng, 10, (50,)), a(50)), desc="1-D histogram-like")
    yield Sample((a(4, 5), 0, _idx(rng, 4, (0, 5)), a(0, 5)), desc="empty index")
    yield Sample((a(8, 40000), 0, _idx(rng, 8, (3, 40000)), a(3, 40000)), desc="large (parallel slices)")
    if dtype not in ("float16", "bfloat16"):  # 200 adds per element: 16-bit rounding would dominate
        yield Sample((a(100, 4), 0, _idx(rng, 100, (20000, 4)), a(20000, 4)), desc="large (parallel output ranges)")


def ref_scatter_add(x, dim, index, src):
    index = index.astype(np.int64)
    dim = dim % x.ndim
    out = x.copy()
    coords = list(np.indices(index.shape))
    coords[dim] = index
    vals = src[tuple(slice(0, s) for s in index.shape)]
    np.add.at(out, tuple(coords), vals.astype(out.dtype))
    return out


def index_select_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(5, 3), 0, _idx(rng, 5, (7,))), desc="rows, repeated")
    yield Sample((a(3, 6), 1, _idx(rng, 6, (4,)).astype(np.int32)), desc="columns, int32 index")
    yield Sample((_arr(rng, dtype, (2, 5, 3), True), -2, _idx(rng, 5, (3,))), desc="non-contiguous middle dim")
    yield Sample((a(5, 3), 0, _idx(rng, 5, (12,))[::3]), desc="strided index")
    yield Sample((a(5, 3), 0, _idx(rng, 5, (0,))), desc="empty index")
    yield Sample((a(1000, 64), 0, _idx(rng, 1000, (800,))), desc="large (embedding lookup)")


def ref_index_select(x, dim, index):
    return np.take(x, index.astype(np.int64), axis=dim)


# --- repeat / tile --------------------------------------------------------------------------------------

def repeat_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(2, 3), [2, 1]))
    yield Sample((a(2, 3), [2, 1, 3]), desc="extra leading dim")
    yield Sample((_arr(rng, dtype, (3, 2), True), [1, 4]), desc="non-contiguous")
    yield Sample((a(2, 3), [0, 2]), desc="zero repeats")
    yield Sample((a(), [3]), desc="0-d")


def tile_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(2, 3), [2]), desc="fewer dims than the tensor")
    yield Sample((a(2, 3), [2, 2]))
    yield Sample((a(3), [2, 1, 2]), desc="more dims")


def ref_tile(x, reps):
    return np.tile(x, reps)


OPS = [
    OpInfo("cat", ref_cat, cat_samples, ALL + COMPLEX),
    OpInfo("stack", ref_stack, stack_samples, ALL + COMPLEX),
    OpInfo("split", ref_split, split_samples, ALL + COMPLEX),
    OpInfo("chunk", ref_chunk, chunk_samples, ALL + COMPLEX),
    OpInfo("flip", ref_flip, flip_samples, ALL + COMPLEX),
    OpInfo("roll", ref_roll, roll_samples, ALL + COMPLEX),
    OpInfo("pad", ref_pad, pad_samples, ALL),
    OpInfo("gather", ref_gather, gather_samples, ALL),
    OpInfo("scatter_add", ref_scatter_add, scatter_add_samples, ALL,
           tol={"float16": (1e-2, 1e-1), "bfloat16": (5e-2, 5e-1), "float32": (1e-5, 1e-4)}),
    OpInfo("index_select", ref_index_select, index_select_samples, ALL),
    OpInfo("repeat", ref_tile, repeat_samples, ALL),
    OpInfo("tile", ref_tile, tile_samples, ALL),
]
