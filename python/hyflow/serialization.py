"""Safe checkpoints: ``hy.save`` / ``hy.load`` in the safetensors format, with no pickle anywhere.

    hy.save({"model": model_state, "step": 120, "lr": [0.1, 0.01]}, "ckpt.safetensors")
    state = hy.load("ckpt.safetensors")           # the same nested object back
    hy.save({"w": w, "b": b}, "plain.safetensors")  # a flat dict of tensors stays a plain safetensors file

A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON (padded with spaces to a
multiple of 8) and then the raw little-endian tensor bytes. Nested containers and plain leaves (int,
float, str, bool, None) are described by a JSON tree stored in ``__metadata__["hyflow.structure"]``.
Saving is atomic (temp file, fsync, rename); loading validates every header field before it reads
a byte of tensor data, so a hostile or truncated file raises CheckpointError instead of crashing.
See docs/checkpoints.md.
"""
import builtins
import ctypes
import io
import itertools
import json
import math
import mmap as _mmap
import os
import struct
import sys

import numpy as np

from . import _C
from ._atomic import atomic_write
from ._foreign_formats import CONVERT_HINT, describe_foreign, warn_if_pickle_suffix

__all__ = ["save", "load", "load_metadata", "CheckpointError"]

STRUCTURE_KEY = "hyflow.structure"
MAX_HEADER_BYTES = 100 * 1024 * 1024
MAX_NDIM = 64  # NumPy's limit; loaded tensors pass through NumPy arrays
_ALIGN = 8

# safetensors dtype code -> (hyflow dtype, little-endian NumPy dtype of the stored bytes)
_CODES = {
    "BOOL": (_C.bool, np.dtype("|b1")),
    "I32": (_C.int32, np.dtype("<i4")),
    "I64": (_C.int64, np.dtype("<i8")),
    "F16": (_C.float16, np.dtype("<f2")),
    "BF16": (_C.bfloat16, np.dtype("<u2")),  # no NumPy bfloat16: the bit pattern travels as uint16
    "F32": (_C.float32, np.dtype("<f4")),
    "F64": (_C.float64, np.dtype("<f8")),
}
_CODE_OF = {hy_dtype: code for code, (hy_dtype, _) in _CODES.items()}
# Valid safetensors codes that hyflow has no dtype for: named in the error instead of "unknown".
_FOREIGN_CODES = {"U8", "I8", "U16", "I16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3",
                  "F6_E3M2", "F4", "C64"}
_ENTRY_FIELDS = {"dtype", "shape", "data_offsets"}


class CheckpointError(ValueError):
    """A checkpoint file that is truncated, malformed or not a safetensors file."""


# ----------------------------------------------------------------------------------------- save

def save(obj, path, *, metadata=None):
    """Write ``obj`` (a tensor, or nested dicts/lists/tuples of tensors, NumPy arrays and plain values) to
    ``path``: a file name, or a binary file object written from its position (torch.save's two forms).

    The old file at a named ``path`` is replaced atomically: a crash at any moment leaves either the old or
    the new checkpoint, never a mix (a file object is the caller's: written in place). ``metadata`` adds
    str -> str entries to ``__metadata__``.
    """
    to_file_object = hasattr(path, "write")
    if not to_file_object:
        path = os.fspath(path)
    name = getattr(path, "name", None) if to_file_object else path
    if isinstance(name, str):
        warn_if_pickle_suffix(name)
    tensors, structure = _flatten(obj)
    meta = _user_metadata(metadata)
    if structure is not None:
        meta[STRUCTURE_KEY] = json.dumps(structure, separators=(",", ":"), allow_nan=False)

    layout = []
    for name, t in tensors.items():
        code = _CODE_OF.get(t.dtype)
        if code is None:
            hint = ("; save hy.view_as_real(t) and rebuild it with hy.view_as_complex after loading"
                    if t.dtype.is_complex else "")
            raise TypeError(f"save: tensor {name!r} has dtype {t.dtype}, which safetensors cannot store{hint}")
        layout.append((name, code, t))
    # Data goes widest itemsize first so every tensor starts aligned to its itemsize (the header is
    # padded to 8); the header keeps the caller's order, which is the order load() returns.
    layout.sort(key=lambda item: -item[2].element_size())
    entries, offset = {}, 0
    for name, code, t in layout:
        nbytes = t.numel() * t.element_size()
        entries[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header = {name: entries[name] for name in tensors}
    if meta:
        header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % _ALIGN)
    prefix = [struct.pack("<Q", len(text)), text]
    chunks = itertools.chain(prefix, _tensor_chunks(t for _, _, t in layout))
    if to_file_object:
        for chunk in chunks:
            path.write(chunk)
    else:
        _atomic_write(path, chunks)


def _user_metadata(metadata):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise TypeError("save: metadata must be a dict of str -> str")
    if STRUCTURE_KEY in metadata:
        raise ValueError(f"save: metadata key {STRUCTURE_KEY!r} is reserved for hyflow")
    return dict(metadata)


def _tensor_chunks(tensors):
    """Each tensor's little-endian bytes, made one at a time (at most one contiguous copy is alive)
    and without a copy for contiguous CPU tensors on little-endian machines."""
    for t in tensors:
        if not t.is_cpu:
            t = t.to("cpu")
        t = t.contiguous()  # stays referenced by this frame while the caller writes the chunk
        if t.dtype == _C.bfloat16:
            # bfloat16 has no NumPy dtype: read the raw bits through the tensor's own memory.
            nbytes = t.numel() * t.element_size()
            raw = (ctypes.c_char * nbytes).from_address(t.data_ptr()) if nbytes else b""
            arr = np.frombuffer(raw, dtype=np.uint16)
        else:
            arr = t.numpy(force=True)
        yield _little_endian(arr).reshape(-1).view(np.uint8)


def _little_endian(arr):
    if sys.byteorder == "little" or arr.dtype.itemsize == 1:
        return arr
    return arr.byteswap()


def _atomic_write(path, chunks):
    atomic_write(path, chunks)  # a module-level name the SIGKILL tests can wrap


# -------------------------------------------------------------------------------- structure tree

def _is_flat_tensor_dict(obj):
    return (isinstance(obj, dict) and "__metadata__" not in obj
            and all(isinstance(k, str) and isinstance(v, _C.Tensor) for k, v in obj.items()))


def _flatten(obj):
    """(ordered name -> tensor, structure tree or None for a plain flat dict of tensors)."""
    if _is_flat_tensor_dict(obj):
        return dict(obj), None
    tensors = {}
    taken = {"__metadata__"}
    active = set()  # ids of the containers on the current path, to refuse cycles

    def add_tensor(t, path):
        base = ".".join(path) or "tensor"
        name, i = base, 0
        while name in taken:
            i += 1
            name = f"{base}~{i}"
        taken.add(name)
        tensors[name] = t
        return name

    def visit(node, path):
        if isinstance(node, _C.Tensor):
            return {"tensor": add_tensor(node, path)}
        if type(node) is np.ndarray:  # stored as a tensor, loaded back as an array (torch.save keeps them too)
            return {"ndarray": add_tensor(_ndarray_as_tensor(node, path), path)}
        if isinstance(node, (dict, list, tuple)):
            if id(node) in active:
                raise ValueError(f"save: {_where(path)} contains itself")
            active.add(id(node))
            if isinstance(node, dict):
                out = {"dict": [[_encode_key(k, path), visit(v, path + [_escape(k)])]
                                for k, v in node.items()]}
            else:
                kind = "list" if isinstance(node, list) else "tuple"
                out = {kind: [visit(v, path + [str(i)]) for i, v in enumerate(node)]}
            active.discard(id(node))
            return out
        return _encode_value(node, path)

    return tensors, visit(obj, [])


# NumPy dtypes a checkpoint holds (as the tensor dtypes of _CODES; NumPy has no bfloat16)
_NUMPY_DTYPES = [np.dtype(t) for t in (np.bool_, np.int32, np.int64, np.float16, np.float32, np.float64)]


def _ndarray_as_tensor(arr, path):
    native = arr.dtype.newbyteorder("=")
    if native not in _NUMPY_DTYPES:
        raise TypeError(f"save: cannot store a NumPy array of dtype {arr.dtype} at {_where(path)}; checkpoints "
                        f"hold arrays of {', '.join(str(d) for d in _NUMPY_DTYPES)} (convert it with .astype)")
    return _C.from_numpy(np.array(arr, dtype=native, order="C", copy=True))  # the tensor owns this copy


def _escape(key):
    # Dots join the path, so a literal "." in a key becomes %2E (and "%" itself %25).
    return str(key).replace("%", "%25").replace(".", "%2E")


def _where(path):
    return "/".join(path) if path else "the saved object"


def _encode_key(key, path):
    if key is None or isinstance(key, (str, builtins.bool, builtins.int)):
        return key
    if isinstance(key, builtins.float) and math.isfinite(key):
        return key
    raise TypeError(f"save: dict key {key!r} at {_where(path)} is not a str, int, finite float, bool or None")


def _encode_value(value, path):
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        value = value.item()
    if value is None or isinstance(value, (str, builtins.bool, builtins.int)):
        return {"value": value}
    if isinstance(value, builtins.float):
        return {"value": value} if math.isfinite(value) else {"float": repr(value)}
    raise TypeError(f"save: cannot store {type(value).__name__} at {_where(path)}; "
                    "checkpoints hold tensors, dicts, lists, tuples, int, float, str, bool and None")


def _decode(node, tensors, used, path):
    if not isinstance(node, dict) or len(node) != 1:
        raise CheckpointError(f"structure node at {_where(path)} must be an object with one key, got {node!r:.80}")
    (kind, body), = node.items()
    if kind == "tensor":
        if not isinstance(body, str) or body not in tensors:
            raise CheckpointError(f"structure at {_where(path)} names tensor {body!r:.80}, which the file lacks")
        used.add(body)
        return tensors[body]
    if kind == "ndarray":
        t = _decode({"tensor": body}, tensors, used, path)
        if t.dtype == _C.bfloat16:
            raise CheckpointError(f"structure ndarray at {_where(path)} names a bfloat16 tensor; NumPy has no bfloat16")
        return t.numpy()
    if kind in ("list", "tuple"):
        if not isinstance(body, list):
            raise CheckpointError(f"structure {kind} at {_where(path)} must hold a JSON array")
        items = [_decode(v, tensors, used, path + [str(i)]) for i, v in enumerate(body)]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        if not isinstance(body, list):
            raise CheckpointError(f"structure dict at {_where(path)} must hold a JSON array of [key, value]")
        out = {}
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2 and _is_scalar(pair[0])):
                raise CheckpointError(f"structure dict item at {_where(path)} must be [key, value], got {pair!r:.80}")
            out[pair[0]] = _decode(pair[1], tensors, used, path + [_escape(pair[0])])
        return out
    if kind == "value":
        if not _is_scalar(body):
            raise CheckpointError(f"structure value at {_where(path)} must be a JSON scalar")
        return body
    if kind == "float":
        if body not in ("nan", "inf", "-inf"):
            raise CheckpointError(f"structure float at {_where(path)} must be 'nan', 'inf' or '-inf'")
        return builtins.float(body)
    raise CheckpointError(f"structure node at {_where(path)} has unknown kind {kind!r:.40}")


def _is_scalar(value):
    return value is None or isinstance(value, (str, builtins.bool, builtins.int, builtins.float))


# ----------------------------------------------------------------------------------------- load

def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Read a checkpoint written by ``save`` (or any safetensors file of supported dtypes).

    Returns the saved nested object, or a dict name -> tensor for a plain safetensors file. ``f`` is a path
    or a binary file object (read from its current position, like torch.load). Tensors own copies of their
    bytes; ``mmap=True`` maps the file copy-on-write instead (zero-copy reads, writes stay private to the
    process). ``map_location`` moves the tensors, which load on the CPU: a device ('cpu', 'cuda:0',
    hy.device), a dict from the saved location ('cpu': the format keeps no device) to a device, or a
    callable (tensor, 'cpu') -> tensor or None (None keeps it). ``weights_only`` is accepted for torch's
    signature: the format holds only tensors and plain data and is never unpickled, so every load is
    weights-only. Raises CheckpointError for a malformed file.
    """
    if pickle_module is not None or pickle_load_args:
        raise TypeError("load(): pickle_module and pickle load arguments have no meaning: hyflow checkpoints "
                        "are safetensors files and are never unpickled")
    if hasattr(f, "read"):
        obj = _load_file_object(f, mmap=bool(mmap))
    else:
        obj = _load_path(os.fspath(f), mmap=bool(mmap))
    return obj if map_location is None else _map_location(obj, map_location)


def _load_file_object(f, *, mmap):
    # The rest of the stream is the checkpoint: read once, then parsed in memory (a pipe or a socket cannot
    # seek back, and a temp file would write every byte to disk and read it again).
    data = f.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load(): file object must be opened in binary mode (its read() gave "
                        f"{type(data).__name__})")
    name = getattr(f, "name", None)
    name = name if isinstance(name, str) else "<file object>"
    data = bytes(data)  # BytesIO then shares it rather than copying
    # mmap=True: the tensors view one writable copy of the bytes (private to this load, as a copy-on-write
    # mapping is) instead of owning a copy each
    return _load_open(io.BytesIO(data), name, len(data), (lambda: bytearray(data)) if mmap else None)


def _load_path(path, *, mmap):
    with open(path, "rb") as f:
        def map_file():
            return _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_COPY)
        return _load_open(f, path, os.fstat(f.fileno()).st_size, map_file if mmap else None)


def _load_open(f, path, file_size, map_bytes):
    """The object in the open binary stream ``f`` of ``file_size`` bytes (named ``path`` in errors). With
    ``map_bytes`` (a callable giving a buffer of the whole file), tensors view that buffer where they can."""
    entries, metadata, data_start = _read_header(f, path, file_size)
    if map_bytes is not None:
        tensors = _map_tensors(map_bytes(), f, path, entries, data_start)
    else:
        tensors = {name: _read_tensor(f, path, data_start, *entry) for name, entry in entries.items()}
    structure = metadata.get(STRUCTURE_KEY)
    if structure is None:
        return tensors
    return _rebuild(structure, tensors, path)


def _map_location(obj, map_location):
    if callable(map_location):
        def move(t):
            moved = map_location(t, "cpu")
            return t if moved is None else moved
    else:
        if isinstance(map_location, dict):
            target = map_location.get("cpu", "cpu")
        else:
            target = map_location
        target = str(target)
        if target.split(":")[0] not in ("cpu", "cuda"):
            raise ValueError(f"load(): map_location must be a device, a dict or a callable, got {map_location!r}")
        if target == "cpu":
            return obj

        def move(t):
            return t.to(target)
    return _map_tensors_in(obj, move)


def _map_tensors_in(obj, move):
    if isinstance(obj, _C.Tensor):
        return move(obj)
    if isinstance(obj, dict):
        return {k: _map_tensors_in(v, move) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map_tensors_in(v, move) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_map_tensors_in(v, move) for v in obj)
    return obj


def load_metadata(path):
    """The ``__metadata__`` str -> str dict of a checkpoint, reading (and validating) only its header."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        return _read_header(f, path, os.fstat(f.fileno()).st_size)[1]


def _rebuild(text, tensors, path):
    try:
        tree = json.loads(text, parse_constant=_reject_constant)
        used = set()
        obj = _decode(tree, tensors, used, [])
    except CheckpointError as e:
        raise CheckpointError(f"{path}: malformed {STRUCTURE_KEY} metadata: {e}") from None
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: {STRUCTURE_KEY} metadata is not valid JSON: {e}") from None
    unused = [name for name in tensors if name not in used]
    if unused:
        raise CheckpointError(f"{path}: malformed {STRUCTURE_KEY} metadata: tensor {unused[0]!r} is not referenced")
    return obj


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r:.80}")
        out[key] = value
    return out


def _read_header(f, path, file_size):
    """Validate the header of the ``file_size``-byte file open in ``f``; returns ({name: (code, shape, begin,
    end)}, metadata, data start)."""
    if file_size < 8:
        raise CheckpointError(f"{path}: file is {file_size} bytes, too short for the 8-byte header length")
    (n,) = struct.unpack("<Q", f.read(8))
    if n > MAX_HEADER_BYTES or n > file_size - 8:
        # A safetensors length that cannot be right: say what the file is when we recognize it.
        foreign = describe_foreign(f, path)
        if foreign is not None:
            raise CheckpointError(f"{path}: this file is {foreign}, not a safetensors file, and hyflow never "
                                  f"unpickles (that can run arbitrary code); {CONVERT_HINT}")
    if n > MAX_HEADER_BYTES:
        raise CheckpointError(f"{path}: header length {n} exceeds the {MAX_HEADER_BYTES}-byte limit")
    if n > file_size - 8:
        raise CheckpointError(f"{path}: header length {n} runs past the end of the {file_size}-byte file")
    raw = f.read(n)
    if len(raw) != n:
        raise CheckpointError(f"{path}: file shrank while reading its header")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                            parse_constant=_reject_constant)
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path}: header is not valid UTF-8 ({e})") from None
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: header must be a JSON object, got {type(header).__name__}")

    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: __metadata__ must be an object of string values")
    buffer_size = file_size - 8 - n
    entries = {name: _check_entry(path, name, info, buffer_size) for name, info in header.items()}
    _check_layout(path, entries, buffer_size)
    return entries, metadata, 8 + n


def _check_entry(path, name, info, buffer_size):
    where = f"{path}: tensor {name!r:.80}"
    if not isinstance(info, dict):
        raise CheckpointError(f"{where}: entry must be an object, got {type(info).__name__}")
    if set(info) != _ENTRY_FIELDS:
        raise CheckpointError(f"{where}: entry needs exactly the fields {sorted(_ENTRY_FIELDS)}, got {sorted(info)}")
    code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if code not in _CODES:
        if code in _FOREIGN_CODES:
            raise CheckpointError(f"{where}: dtype {code} is valid safetensors but hyflow has no such dtype")
        raise CheckpointError(f"{where}: unknown dtype {code!r:.40}")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(_is_index(d) for d in shape):
        raise CheckpointError(f"{where}: shape must be a list of at most {MAX_NDIM} non-negative ints, "
                              f"got {shape!r:.80}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_index(o) for o in offsets)):
        raise CheckpointError(f"{where}: data_offsets must be [begin, end] non-negative ints, got {offsets!r:.80}")
    begin, end = offsets
    if not begin <= end <= buffer_size:
        raise CheckpointError(f"{where}: data_offsets {offsets} outside the {buffer_size}-byte data buffer")
    expected = math.prod(shape) * _CODES[code][1].itemsize  # Python ints: no overflow
    if end - begin != expected:
        raise CheckpointError(f"{where}: shape {shape} of {code} needs {expected} bytes, "
                              f"data_offsets {offsets} hold {end - begin}")
    return code, shape, begin, end


def _is_index(value):
    return isinstance(value, builtins.int) and not isinstance(value, builtins.bool) and 0 <= value < 2**63


def _check_layout(path, entries, buffer_size):
    # Tensors must tile the data buffer exactly: no overlap (aliasing) and no gap (hidden bytes).
    cursor, previous = 0, None
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda e: (e[1][2], e[1][3])):
        if begin < cursor:
            raise CheckpointError(f"{path}: tensor {name!r:.80} overlaps tensor {previous!r:.80}")
        if begin > cursor:
            raise CheckpointError(f"{path}: {begin - cursor} unused bytes before tensor {name!r:.80}")
        cursor, previous = end, name
    if cursor != buffer_size:
        raise CheckpointError(f"{path}: tensors cover {cursor} bytes but the data buffer has {buffer_size}")


def _read_tensor(f, path, data_start, code, shape, begin, end):
    hy_dtype, stored = _CODES[code]
    f.seek(data_start + begin)
    if code == "BF16":
        t = _C.ops.empty(tuple(shape), dtype=hy_dtype)
        nbytes = end - begin
        if nbytes:
            target = (ctypes.c_char * nbytes).from_address(t.data_ptr())
            _read_exact(f, path, target, nbytes)
            if sys.byteorder != "little":
                np.frombuffer(target, dtype=np.uint16).byteswap(inplace=True)
        return t
    arr = np.empty(shape, dtype=stored.newbyteorder("="))
    if arr.nbytes:
        _read_exact(f, path, memoryview(arr.reshape(-1).view(np.uint8)), arr.nbytes)
        if sys.byteorder != "little" and arr.itemsize > 1:
            arr.byteswap(inplace=True)
    return _wrap(arr, code, path)


def _read_exact(f, path, target, nbytes):
    if f.readinto(target) != nbytes:
        raise CheckpointError(f"{path}: file shrank while reading tensor data")


def _wrap(arr, code, path):
    # A bool byte other than 0/1 is undefined behaviour for C++ kernels, so refuse it here.
    if code == "BOOL" and arr.size and arr.view(np.uint8).max() > 1:
        raise CheckpointError(f"{path}: BOOL tensor holds bytes other than 0 and 1")
    return _C.from_numpy(arr)


def _map_tensors(mapping, f, path, entries, data_start):
    tensors = {}
    for name, (code, shape, begin, end) in entries.items():
        stored = _CODES[code][1]
        start = data_start + begin
        # bfloat16 cannot pass through NumPy, and misaligned data would be slow or unsafe to
        # compute on: both get an ordinary copy.
        if code == "BF16" or start % stored.itemsize or sys.byteorder != "little" or end == begin:
            tensors[name] = _read_tensor(f, path, data_start, code, shape, begin, end)
            continue
        arr = np.frombuffer(mapping, dtype=stored, count=(end - begin) // stored.itemsize, offset=start)
        tensors[name] = _wrap(arr.reshape(shape), code, path)
    return tensors
