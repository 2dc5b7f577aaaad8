"""hy.save / hy.load: safetensors round trips (bit-exact for every dtype), nested structures, interop with
the safetensors package, atomic replacement under SIGKILL, and a corpus of malformed files that must
raise CheckpointError with a clear message."""
import collections
import ctypes
import json
import os
import pathlib
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import hyflow as hy
from hyflow.serialization import CheckpointError, load_metadata

DTYPES = [hy.bool, hy.int32, hy.int64, hy.float16, hy.bfloat16, hy.float32, hy.float64]
NP_OF = {hy.bool: np.bool_, hy.int32: np.int32, hy.int64: np.int64, hy.float16: np.float16,
         hy.float32: np.float32, hy.float64: np.float64}


def raw_bits(t):
    """The tensor's elements as bytes in row-major order (bfloat16 read through its memory)."""
    t = t.contiguous()
    if t.dtype == hy.bfloat16:
        return ctypes.string_at(t.data_ptr(), t.numel() * 2) if t.numel() else b""
    return t.numpy().tobytes()


def bf16_from_bits(bits):
    bits = np.ascontiguousarray(bits, dtype=np.uint16)
    t = hy.empty(bits.shape, dtype=hy.bfloat16)
    if bits.size:
        ctypes.memmove(t.data_ptr(), bits.ctypes.data, bits.nbytes)
    return t


def sample(dtype, shape, seed=0):
    """Random values of dtype, with NaN payloads, infinities and signed zeros in float tensors."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == hy.bool:
        return hy.from_numpy(np.asarray(rng.random(shape) < 0.5))
    if dtype in (hy.int32, hy.int64):
        info = np.iinfo(NP_OF[dtype])
        values = rng.integers(info.min, info.max, size=shape, dtype=NP_OF[dtype], endpoint=True)
        return hy.from_numpy(np.asarray(values))
    width = {hy.float16: 16, hy.bfloat16: 16, hy.float32: 32, hy.float64: 64}[dtype]
    uint = {16: np.uint16, 32: np.uint32, 64: np.uint64}[width]
    bits = rng.integers(0, np.iinfo(uint).max, size=n, dtype=uint, endpoint=True)
    special = {16: [0x7C01, 0xFE03, 0x8000, 0x7C00],                       # f16 sNaN/qNaN payloads, -0, inf
               32: [0x7F800001, 0xFFC12345, 0x80000000, 0x7F800000],
               64: [0x7FF0000000000001, 0xFFF8DEADBEEF0001, 0x8000000000000000, 0x7FF0000000000000]}[width]
    if dtype == hy.bfloat16:
        special = [0x7F81, 0xFFC5, 0x8000, 0x7F80]
    bits[:min(n, 4)] = special[:min(n, 4)]
    bits = bits.reshape(shape)
    if dtype == hy.bfloat16:
        return bf16_from_bits(bits)
    return hy.from_numpy(bits.view(NP_OF[dtype]).copy())


def assert_same(a, b):
    assert isinstance(b, hy.Tensor)
    assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
    assert raw_bits(a) == raw_bits(b)


def assert_tree_same(a, b):
    assert type(a) is type(b)
    if isinstance(a, hy.Tensor):
        assert_same(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_tree_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_tree_same(x, y)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


# ---------------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (7,), (4, 5), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("mmap", [False, True], ids=["read", "mmap"])
def test_round_trip_bit_exact(tmp_path, dtype, shape, mmap):
    t = sample(dtype, shape)
    path = tmp_path / "t.safetensors"
    hy.save(t, path)
    assert_same(t, hy.load(path, mmap=mmap))
    hy.save({"x": t}, path)
    assert_same(t, hy.load(path, mmap=mmap)["x"])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_non_contiguous_tensors(tmp_path, dtype):
    base = sample(dtype, (6, 8), seed=3)
    views = {"transposed": base.T, "strided": base[::2, 1::3], "column": base[:, 5], "permuted": base.reshape(2, 3, 8)
             .permute(2, 0, 1)}
    assert not views["transposed"].is_contiguous()
    hy.save(views, tmp_path / "v.safetensors")
    loaded = hy.load(tmp_path / "v.safetensors")
    for name, view in views.items():
        assert_same(view.contiguous(), loaded[name])
        assert loaded[name].is_contiguous()


def test_nested_state_like_structure(tmp_path):
    g = hy.Generator(seed=0)
    model = {"encoder.layer.0.weight": hy.randn(4, 3, generator=g), "encoder.layer.0.bias": hy.zeros(4),
             "head.weight": hy.randn(2, 4, generator=g).to(hy.bfloat16)}
    optim = {"state": {0: {"step": 10, "exp_avg": hy.randn(4, 3, generator=g), "exp_avg_sq": hy.ones(4, 3)},
                       1: {"step": 10, "momentum": None}},
             "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "params": [0, 1],
                               "amsgrad": False, "name": "default", "nan": float("nan"), "inf": float("-inf")}]}
    obj = {"model": model, "optimizer": optim, "epoch": 3, "tags": ["a.b", "%2E", ""], "empty": {}, "none": None,
           "pair": (hy.arange(3), 2.5), "loss_history": [], "mask": hy.tensor([True, False])}
    path = tmp_path / "ckpt.safetensors"
    hy.save(obj, path)
    assert_tree_same(obj, hy.load(path))
    assert_tree_same(obj, hy.load(path, mmap=True))


def test_tricky_keys_do_not_collide(tmp_path):
    a, b, c, d, e = (hy.full((1,), float(i)) for i in range(5))
    obj = {"x": {"y": a}, "x.y": b, 0: c, "0": d, "__metadata__": e, 1.5: [a], True: None}
    hy.save(obj, tmp_path / "k.safetensors")
    assert_tree_same(obj, hy.load(tmp_path / "k.safetensors"))


def test_numpy_scalars_are_stored_as_python_numbers(tmp_path):
    hy.save({"step": np.int64(5), "lr": np.float32(0.5), "flag": np.bool_(True), "t": hy.ones(1)},
            tmp_path / "s.safetensors")
    out = hy.load(tmp_path / "s.safetensors")
    assert out["step"] == 5 and type(out["step"]) is int
    assert out["lr"] == 0.5 and out["flag"] is True


@pytest.mark.parametrize("mmap", [False, True], ids=["read", "mmap"])
def test_numpy_arrays_load_back_as_numpy_arrays(tmp_path, mmap):
    # torch.save(array) / torch.load give the array back (pytorch/examples' time_sequence_prediction saves
    # its data that way: tests/python/test_torch_port.py); here the array is stored as a tensor
    arrays = {"f64": np.sin(np.arange(12.0)).reshape(3, 4), "i32": np.arange(5, dtype=np.int32),
              "bool": np.array([True, False]), "f16": np.ones((2, 0), np.float16), "scalar": np.array(2.5),
              "big_endian": np.arange(3, dtype=">i8"), "strided": np.arange(20.0)[::3]}
    hy.save({"arrays": arrays, "t": hy.ones(2)}, tmp_path / "a.safetensors")
    out = hy.load(tmp_path / "a.safetensors", mmap=mmap)
    assert type(out["t"]) is hy.Tensor
    for name, arr in arrays.items():
        got = out["arrays"][name]
        assert type(got) is np.ndarray and got.shape == arr.shape, name
        assert got.dtype == arr.dtype.newbyteorder("="), name
        np.testing.assert_array_equal(got, arr)
    hy.save(arrays["f64"], tmp_path / "one.safetensors")  # a bare array, as torch.save(data, f)
    np.testing.assert_array_equal(hy.load(tmp_path / "one.safetensors"), arrays["f64"])
    with pytest.raises(TypeError, match=r"NumPy array of dtype uint8 at a; .*astype"):
        hy.save({"a": np.zeros(2, np.uint8)}, tmp_path / "u8.safetensors")
    with pytest.raises(TypeError, match="cannot store MaskedArray"):  # subclasses would lose what they add
        hy.save({"m": np.ma.masked_array([1.0, 2.0], mask=[0, 1])}, tmp_path / "m.safetensors")


def test_save_to_a_file_object(tmp_path):
    # torch.save(obj, open(name, "wb")) and torch.save(obj, io.BytesIO()): written from the file's position
    import io
    obj = {"w": hy.arange(6, dtype=hy.float32).reshape(2, 3), "data": np.arange(4.0), "step": 3}
    buf = io.BytesIO()
    buf.write(b"prefix")
    hy.save(obj, buf)
    buf.seek(len(b"prefix"))
    out = hy.load(buf)
    assert out["step"] == 3 and out["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    np.testing.assert_array_equal(out["data"], np.arange(4.0))
    with open(tmp_path / "f.safetensors", "wb") as f:
        hy.save(obj, f)
    assert hy.load(tmp_path / "f.safetensors")["step"] == 3
    with pytest.warns(UserWarning, match="PyTorch pickles"), open(tmp_path / "data.pt", "wb") as f:
        hy.save(obj, f)  # the file's name is checked like a path's



class _Stream:
    """A read-only, non-seekable binary stream (a pipe's or a socket's file object)."""

    def __init__(self, data):
        self._data = data

    def read(self, n=-1):
        out, self._data = (self._data, b"") if n < 0 else (self._data[:n], self._data[n:])
        return out


def test_load_from_a_file_object_reads_it_in_memory(tmp_path, monkeypatch):
    """hy.load(f) parses the bytes it read from f: no temp file is written (nor needed: a stream that cannot
    seek loads too), every dtype and both read modes come back, and errors name the file object."""
    import io
    import tempfile

    def no_temp_files(*args, **kwargs):
        raise AssertionError("hy.load(file object) wrote a temp file")

    for fn in ("NamedTemporaryFile", "TemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, fn, no_temp_files)
    obj = {"f32": hy.arange(6, dtype=hy.float32).reshape(2, 3), "bf16": hy.tensor([1.5, -2.0], dtype=hy.bfloat16),
           "b": hy.tensor([True, False]), "empty": hy.zeros(0, 3, dtype=hy.float64), "n": [1, "x", None]}
    path = tmp_path / "ckpt.safetensors"
    hy.save(obj, path)
    raw = path.read_bytes()
    for mmap in (False, True):
        with open(path, "rb") as file:
            for f in (io.BytesIO(raw), _Stream(raw), file):
                out = hy.load(f, mmap=mmap)
                assert out["n"] == [1, "x", None]
                for key in ("f32", "bf16", "b", "empty"):
                    assert_same(obj[key], out[key])
                out["f32"].add_(1)   # writable; writes reach neither the file nor the bytes read
    assert path.read_bytes() == raw
    with pytest.raises(CheckpointError, match=r"^<file object>: header length"):
        hy.load(io.BytesIO(raw[:20]))
    with open(path, "rb") as f:
        f.read(3)   # read from the position, as torch.load: this one is not at a checkpoint's start
        with pytest.raises(CheckpointError, match=re.escape(str(path))):
            hy.load(f)


def test_flat_dict_is_plain_file_and_keeps_order(tmp_path):
    d = {"z.weight": hy.ones(2, dtype=hy.float64), "a": hy.arange(4, dtype=hy.int32), "m": hy.ones(3, dtype=hy.float16)}
    hy.save(d, tmp_path / "flat.safetensors")
    assert load_metadata(tmp_path / "flat.safetensors") == {}
    loaded = hy.load(tmp_path / "flat.safetensors")
    assert list(loaded) == list(d)
    for key in d:
        assert_same(d[key], loaded[key])
    hy.save(collections.OrderedDict(d), tmp_path / "ordered.safetensors")  # a state_dict-like OrderedDict too
    assert (tmp_path / "ordered.safetensors").read_bytes() == (tmp_path / "flat.safetensors").read_bytes()


def test_user_metadata(tmp_path):
    path = tmp_path / "m.safetensors"
    hy.save({"w": hy.ones(2)}, path, metadata={"format": "pt", "note": "ünïcode"})
    assert load_metadata(path) == {"format": "pt", "note": "ünïcode"}
    with pytest.raises(ValueError, match="reserved"):
        hy.save({"w": hy.ones(2)}, path, metadata={"hyflow.structure": "{}"})
    with pytest.raises(TypeError, match="metadata"):
        hy.save({"w": hy.ones(2)}, path, metadata={"n": 1})


def test_data_is_aligned_to_itemsize(tmp_path):
    tensors = {"b": hy.ones(3, dtype=hy.bool), "h": hy.ones(3, dtype=hy.float16), "d": hy.ones(3, dtype=hy.float64)}
    path = tmp_path / "a.safetensors"
    hy.save(tensors, path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n])
    for name, t in tensors.items():
        assert header[name]["data_offsets"][0] % t.element_size() == 0


def test_mmap_is_copy_on_write_and_survives_replacement(tmp_path):
    path = tmp_path / "m.safetensors"
    hy.save({"w": hy.arange(1000, dtype=hy.float32)}, path)
    before = path.read_bytes()
    mapped = hy.load(path, mmap=True)["w"]
    mapped.fill_(7.0)
    assert path.read_bytes() == before                      # writes stay private to the process
    hy.save({"w": hy.zeros(5)}, path)                       # the file can be replaced while mapped
    assert mapped.sum().item() == 7000.0
    assert hy.load(path)["w"].shape == (5,)


def test_save_rejects_unstorable_objects(tmp_path):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(TypeError, match="cannot store set"):
        hy.save({"s": {1, 2}}, path)
    with pytest.raises(TypeError, match="dict key"):
        hy.save({(1, 2): hy.ones(1)}, path)
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        hy.save({"loop": loop}, path)
    assert not path.exists() and os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------------
# Atomicity
# ---------------------------------------------------------------------------------------------------
def test_failed_save_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    import hyflow.serialization as serialization
    path = tmp_path / "c.safetensors"
    hy.save({"w": hy.ones(3)}, path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk on fire")
    monkeypatch.setattr(serialization.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk on fire"):
        hy.save({"w": hy.zeros(100)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.safetensors"]


def test_save_leaves_no_temp_and_normal_permissions(tmp_path):
    path = tmp_path / "p.safetensors"
    hy.save(hy.ones(2), str(path))
    hy.save(hy.ones(3), pathlib.Path(path))
    assert os.listdir(tmp_path) == ["p.safetensors"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


CHILD = textwrap.dedent("""
    import os, sys, time
    import hyflow as hy
    import hyflow.serialization as serialization
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "synced":  # the temp file is complete and fsynced, the rename has not happened yet
        real_fsync = os.fsync
        def paused_fsync(fd):
            real_fsync(fd)
            print("paused", flush=True)
            time.sleep(60)
        serialization.os.fsync = paused_fsync
    if mode == "midwrite":  # the header and part of the data are in the temp file
        real_write = serialization._atomic_write
        def paused_chunks(chunks):
            for i, chunk in enumerate(chunks):
                if i == 3:
                    print("paused", flush=True)
                    time.sleep(60)
                yield chunk
        serialization._atomic_write = lambda path, chunks: real_write(path, paused_chunks(chunks))
    step = 1
    while True:
        hy.save({"step": step, "w": hy.full((4_000_000,), float(step)), "v": hy.full((1000,), float(step))}, path)
        print("saved", step, flush=True)
        step += 1
""")


def check_consistent(path):
    out = hy.load(path)
    for name in ("w", "v"):
        assert out[name].min().item() == out[name].max().item() == float(out["step"])
    return out["step"]


def start_saver(path, mode):
    hy.save({"step": 0, "w": hy.zeros(4_000_000), "v": hy.zeros(1000)}, path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), mode], stdout=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize("mode", ["synced", "midwrite"])
def test_sigkill_inside_save_keeps_the_old_checkpoint(tmp_path, mode):
    path = tmp_path / "run.safetensors"
    child = start_saver(path, mode)
    try:
        assert child.stdout.readline() == "paused\n"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert check_consistent(path) == 0  # the new bytes never replaced the old file
    leftovers = [p for p in os.listdir(tmp_path) if p != "run.safetensors"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".run.safetensors.") and leftovers[0].endswith(".tmp")
    assert f"-{child.pid}." in leftovers[0]  # the temp names its writer
    hy.save({"step": 9, "w": hy.full((4_000_000,), 9.0), "v": hy.full((1000,), 9.0)}, path)
    assert check_consistent(path) == 9
    # issue 15: the killed writer's temp no longer accumulates; the next save of the path removes it
    assert os.listdir(tmp_path) == ["run.safetensors"]


def test_a_save_removes_only_the_temps_no_live_writer_uses(tmp_path):
    from hyflow import _atomic
    path = tmp_path / "m.safetensors"
    host = _atomic._host()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = time.time() - 2 * _atomic.STALE_AFTER_S
    temps = {
        f".m.safetensors.{host}-{dead.pid}.0123456789ab.tmp": False,     # its writer is gone
        f".m.safetensors.{host}-{sleeper.pid}.0123456789ab.tmp": True,   # a live process may be writing it
        f".m.safetensors.{host}-{os.getpid()}.0123456789ab.tmp": True,   # another thread of this process
        ".m.safetensors.0123456789ab.tmp": True,                         # unnamed writer, written just now
        ".m.safetensors.abcdef012345.tmp": False,                        # unnamed writer, silent for long
        f".m.safetensors.otherhost-{dead.pid}.0123456789ab.tmp": True,   # another host, fresh
        f".m.safetensors.otherhost-1.abcdef012345.tmp": False,           # another host, silent for long
        f".other.safetensors.{host}-{dead.pid}.0123456789ab.tmp": True,  # another path's temp
        "m.safetensors.tmp": True,                                       # not a temp of ours at all
    }
    try:
        for name in temps:
            (tmp_path / name).write_bytes(b"partial")
        for name in (".m.safetensors.abcdef012345.tmp", ".m.safetensors.otherhost-1.abcdef012345.tmp"):
            os.utime(tmp_path / name, (old, old))
        hy.save({"x": hy.ones(3)}, path)
    finally:
        sleeper.kill()
        sleeper.wait()
    left = set(os.listdir(tmp_path))
    assert left == {"m.safetensors"} | {name for name, kept in temps.items() if kept}
    assert hy.load(path)["x"].tolist() == [1.0, 1.0, 1.0]


def test_sigkill_at_random_moments_during_repeated_saves(tmp_path):
    rng = np.random.default_rng(0)
    for trial in range(5):
        path = tmp_path / f"run{trial}.safetensors"
        child = start_saver(path, "loop")
        try:
            assert child.stdout.readline().startswith("saved")
            began = time.perf_counter()
            assert child.stdout.readline().startswith("saved")
            time.sleep(rng.random() * (time.perf_counter() - began))  # somewhere inside the next save
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
        assert check_consistent(path) >= 2


# ---------------------------------------------------------------------------------------------------
# Interop with the safetensors package
# ---------------------------------------------------------------------------------------------------
def test_read_files_written_by_safetensors_numpy(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy", reason="pip install safetensors for interop tests")
    rng = np.random.default_rng(0)
    arrays = {"bool": rng.random((3, 2)) < 0.5, "i32": rng.integers(-9, 9, (4,), dtype=np.int32),
              "i64": np.arange(6, dtype=np.int64).reshape(2, 3), "f16": rng.random((5,)).astype(np.float16),
              "f32": rng.random((2, 2, 2)).astype(np.float32), "f64": rng.random(()),
              "empty": np.zeros((0, 4), np.float32)}
    path = tmp_path / "np.safetensors"
    st_numpy.save_file(arrays, str(path), metadata={"format": "np"})
    loaded = hy.load(path)
    assert set(loaded) == set(arrays)
    for name, arr in arrays.items():
        np.testing.assert_array_equal(loaded[name].numpy(), arr)
        assert loaded[name].numpy().dtype == arr.dtype


def test_safetensors_numpy_reads_hyflow_files(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy", reason="pip install safetensors for interop tests")
    tensors = {name: sample(dtype, (3, 4), seed=i) for i, (name, dtype) in
               enumerate([("b", hy.bool), ("i", hy.int32), ("l", hy.int64), ("h", hy.float16), ("f", hy.float32),
                          ("d", hy.float64)])}
    tensors["scalar"] = hy.tensor(2.5)
    path = tmp_path / "hy.safetensors"
    hy.save(tensors, path)
    loaded = st_numpy.load_file(str(path))
    for name, t in tensors.items():
        assert loaded[name].tobytes() == raw_bits(t) and loaded[name].shape == tuple(t.shape)
    # a nested checkpoint is still a valid safetensors file, with its tensors under escaped dotted names
    hy.save({"model": {"a.b": hy.ones(2)}, "step": 1}, path)
    assert list(st_numpy.load_file(str(path))) == ["model.a%2Eb"]


def test_bfloat16_interop_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch", reason="pip install safetensors for interop tests")
    t = sample(hy.bfloat16, (5, 7), seed=4)
    path = tmp_path / "bf16.safetensors"
    hy.save({"w": t, "f": hy.ones(2)}, path)
    from_torch_side = st_torch.load_file(str(path))["w"]
    assert from_torch_side.dtype == torch.bfloat16
    assert from_torch_side.view(torch.int16).numpy().tobytes() == raw_bits(t)

    theirs = torch.randn(3, 4, dtype=torch.float32).to(torch.bfloat16).t()  # non-contiguous on their side
    st_torch.save_file({"w": theirs.contiguous(), "i": torch.arange(3)}, str(path), metadata={"format": "pt"})
    loaded = hy.load(path)
    assert loaded["w"].dtype == hy.bfloat16 and loaded["w"].shape == (4, 3)
    assert raw_bits(loaded["w"]) == theirs.contiguous().view(torch.int16).numpy().tobytes()
    np.testing.assert_array_equal(loaded["i"].numpy(), np.arange(3))


# ---------------------------------------------------------------------------------------------------
# Malformed files: each must raise CheckpointError (a ValueError) naming the problem
# ---------------------------------------------------------------------------------------------------
def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def build(header, data=b"\0" * 8, length=None):
    """A file from a header (dict, or raw bytes/str) and data bytes; length overrides the size prefix."""
    if isinstance(header, dict):
        header = json.dumps(header)
    if isinstance(header, str):
        header = header.encode("utf-8")
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header) if length is None else length) + header + data


def structured(structure, tensors=None):
    header = {"w": entry()} if tensors is None else tensors
    header["__metadata__"] = {"hyflow.structure": structure}
    return build(header, b"" if tensors is not None else b"\0" * 8)


MALFORMED = {
    "empty_file": (b"", "too short"),
    "five_bytes": (b"\x01\x02\x03\x04\x05", "too short"),
    "header_past_end": (build({"w": entry()}, length=4096), "runs past the end"),
    "header_bomb": (struct.pack("<Q", 2**40) + b"{}", "exceeds"),
    "bad_utf8": (build(b'{"w\xff\xfe": 1}'), "not valid UTF-8"),
    "bad_json": (build('{"w": {"dtype": "F32",'), "not valid JSON"),
    "nan_in_json": (build('{"w": NaN}'), "not valid JSON"),
    "deep_json": (build("[" * 100_000 + "]" * 100_000, b""), "not valid JSON"),
    "duplicate_key": (build('{"w": %s, "w": %s}' % (json.dumps(entry()), json.dumps(entry()))), "duplicate key"),
    "header_is_list": (build("[1, 2]"), "must be a JSON object"),
    "entry_not_object": (build({"w": [1, 2]}), "entry must be an object"),
    "missing_field": (build({"w": {"dtype": "F32", "shape": [2]}}), "exactly the fields"),
    "extra_field": (build({"w": dict(entry(), extra=1)}), "exactly the fields"),
    "unknown_dtype": (build({"w": entry(dtype="F99")}), "unknown dtype 'F99'"),
    "foreign_dtype": (build({"w": entry(dtype="U8", shape=(8,))}), "U8 is valid safetensors but hyflow"),
    "negative_dim": (build({"w": entry(shape=(-2,))}), "non-negative ints"),
    "float_dim": (build({"w": entry(shape=(2.0,))}), "non-negative ints"),
    "bool_dim": (build({"w": entry(shape=(True, 2))}), "non-negative ints"),
    "string_shape": (build({"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}), "shape must be"),
    "too_many_dims": (build({"w": entry(shape=[1] * 65 + [2])}), "at most 64"),
    "offsets_not_pair": (build({"w": entry(offsets=(0,))}), "data_offsets must be"),
    "offsets_negative": (build({"w": entry(offsets=(-8, 0))}), "data_offsets must be"),
    "offsets_past_buffer": (build({"w": entry(offsets=(0, 16))}), "outside the 8-byte data buffer"),
    "offsets_reversed": (build({"w": entry(offsets=(8, 0))}), "outside"),
    "size_mismatch": (build({"w": entry(shape=(3,))}), "needs 12 bytes"),
    "dim_past_int64": (build({"w": entry(shape=(2**63, 0))}), "non-negative ints"),
    "overflowing_numel": (build({"w": entry(shape=(2**62, 2**62, 4))}), f"needs {2**128} bytes"),
    "overlap": (build({"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}, b"\0" * 12), "overlaps"),
    "gap": (build({"a": entry(offsets=(0, 8)), "b": entry(offsets=(12, 20))}, b"\0" * 20), "unused bytes"),
    "trailing_bytes": (build({"w": entry()}, b"\0" * 12), "cover 8 bytes but the data buffer has 12"),
    "metadata_not_strings": (build({"w": entry(), "__metadata__": {"k": 1}}), "__metadata__ must be"),
    "bool_not_0_or_1": (build({"w": entry(dtype="BOOL", shape=(8,))}, b"\0\1\2\0\0\0\0\0"), "other than 0 and 1"),
    "structure_bad_json": (structured("{not json"), "not valid JSON"),
    "structure_missing_tensor": (structured('{"tensor": "nope"}'), "which the file lacks"),
    "structure_unknown_kind": (structured('{"pickle": "x"}'), "unknown kind"),
    "structure_two_keys": (structured('{"list": [], "dict": []}'), "one key"),
    "structure_bad_dict_item": (structured('{"dict": [["k"]]}', {}), "must be [key, value]"),
    "structure_unreferenced_tensor": (structured('{"list": []}'), "not referenced"),
    "structure_bad_float": (structured('{"float": "1e999"}', {}), "'nan', 'inf' or '-inf'"),
    "structure_value_not_scalar": (structured('{"value": [1]}', {}), "JSON scalar"),
    "structure_ndarray_missing_tensor": (structured('{"ndarray": "nope"}'), "which the file lacks"),
    "structure_ndarray_of_bfloat16": (structured('{"ndarray": "w"}', {"w": entry(dtype="BF16", shape=(0,),
                                                                                offsets=(0, 0))}), "no bfloat16"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
@pytest.mark.parametrize("mmap", [False, True], ids=["read", "mmap"])
def test_malformed_files_raise_checkpoint_error(tmp_path, name, mmap):
    data, message = MALFORMED[name]
    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=re.escape(message)) as info:
        hy.load(path, mmap=mmap)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_valid_corner_cases_load(tmp_path):
    # The smallest valid files: no tensors at all, and only zero-size tensors sharing an offset.
    path = tmp_path / "ok.safetensors"
    path.write_bytes(build({}, b""))
    assert hy.load(path) == {}
    path.write_bytes(build({"a": entry(shape=(0,), offsets=(0, 0)), "b": entry(shape=(2, 0), offsets=(0, 0))}, b""))
    out = hy.load(path)
    assert out["a"].shape == (0,) and out["b"].shape == (2, 0)
    path.write_bytes(build({}, b"", length=0)[:8])  # header length 0: empty string is not JSON
    with pytest.raises(CheckpointError, match="not valid JSON"):
        hy.load(path)


# --- foreign formats: what a PyTorch user's first hy.save/hy.load meets --------------------------------------

@pytest.mark.parametrize("suffix", [".pt", ".pth", ".PT"])
def test_save_warns_on_torch_suffix(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    with pytest.warns(UserWarning, match=r"hy.save writes the safetensors format.*\.safetensors"):
        hy.save({"w": hy.ones(2)}, path)
    assert hy.load(path)["w"].tolist() == [1.0, 1.0]  # still written, in safetensors


def test_save_does_not_warn_on_safetensors_suffix(tmp_path):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hy.save({"w": hy.ones(2)}, tmp_path / "model.safetensors")


@pytest.mark.parametrize("legacy", [False, True])
def test_load_names_a_real_torch_checkpoint(tmp_path, legacy):
    # hy.load used to report "header length <huge> exceeds the limit" for these.
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path, _use_new_zipfile_serialization=not legacy)
    what = "legacy pickle format" if legacy else r"zip format, a pickle in data.pkl"
    with pytest.raises(CheckpointError, match=rf"is a PyTorch checkpoint \(torch.save's {what}\).*never unpickles"
                                              r".*safetensors.torch.save_file") as ei:
        hy.load(path)
    assert isinstance(ei.value, ValueError) and "load_state_dict" in str(ei.value)
    with pytest.raises(CheckpointError, match="PyTorch checkpoint"):
        hy.load(path, mmap=True)


def test_load_names_plain_pickles_zips_and_npy(tmp_path):
    import pickle
    import zipfile
    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"w": [1.0] * 100}, protocol=4))
    with pytest.raises(CheckpointError, match=r"a Python pickle \(protocol 4\)"):
        hy.load(tmp_path / "p.pkl")
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        z.writestr("readme.txt", "x" * 100)
    with pytest.raises(CheckpointError, match="a zip archive"):
        hy.load(tmp_path / "a.zip")
    np.save(tmp_path / "a.npy", np.ones(100))
    with pytest.raises(CheckpointError, match=r"a NumPy \.npy file"):
        hy.load(tmp_path / "a.npy")
