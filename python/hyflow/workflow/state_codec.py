"""Turn workflow state into a tree ``hy.save`` can store, and back.

``hy.save`` already stores tensors, dicts, lists, tuples and plain leaves. This module adds the values a
task keeps in ``ctx.state`` that it cannot store directly, each as a small dict tagged with the key
``"__hyflow__"``:

    {"__hyflow__": "tensor", "data": t, "requires_grad": True, "device": "cuda:0"}   # grad / non-CPU tensor
    {"__hyflow__": "ndarray", "dtype": "<u2", "shape": [3, 4], "data": t, "scalar": False}
    {"__hyflow__": "generator", "state": [seed, offset]}
    {"__hyflow__": "stateful", "class": "mymod.Net", "state": <its state_dict, encoded>}
    {"__hyflow__": "task_state", "items": [[key, value], ...], "pending": [[key, class, state], ...]}
    {"__hyflow__": "dict", "items": [[key, value], ...]}        # a user dict that itself has "__hyflow__"

Stateful objects are accepted only as direct entries of a TaskState: that is the one place a fresh object
can claim their saved state again (see task_state.py).
"""
import builtins
import logging
import math

import numpy as np

from .. import _C
from ..serialization import CheckpointError
from .task_state import TaskState, class_path, is_stateful

__all__ = ["encode_state", "decode_state"]

TAG = "__hyflow__"
_log = logging.getLogger("hyflow.workflow")

_SUPPORTED = ("checkpoints hold hyflow tensors, numpy arrays, int, float, bool, str, None, lists/tuples/dicts "
              "of these, hy.Generator, and objects with state_dict()/load_state_dict() (hy.nn.Module, "
              "optimizers, lr schedulers) stored directly as a ctx.state entry")

# NumPy dtypes hyflow tensors hold as they are.
_NATIVE_NUMPY = {np.dtype(t) for t in (np.bool_, np.int32, np.int64, np.float16, np.float32, np.float64)}
# The rest travel in a wider (exact) or same-size (bit view) dtype and are cast/viewed back on load.
_WIDEN = {np.dtype(t): np.int32 for t in (np.int8, np.uint8, np.int16, np.uint16)}
_WIDEN[np.dtype(np.uint32)] = np.int64
_BIT_VIEW = {np.dtype(np.uint64): np.int64, np.dtype(np.complex64): np.float32,
             np.dtype(np.complex128): np.float64}


def encode_state(state, where):
    """``state`` as a tree of tensors, containers and plain leaves that ``hy.save`` stores.

    ``where`` names the value in error messages, e.g. ``"task 'train' state"``. Tensor data is not
    copied: save the tree before the values change.
    """
    return _Encoder().encode(state, where, top=True)


def decode_state(tree):
    """The inverse of ``encode_state``; a TaskState comes back with its stateful entries pending."""
    return _decode(tree, "checkpoint")


# --------------------------------------------------------------------------------------- encode

class _Encoder:
    def __init__(self):
        self.active = set()  # ids of the containers on the current path, to refuse cycles

    def encode(self, value, where, top=False):
        if isinstance(value, _C.Tensor):
            return _encode_tensor(value)
        if isinstance(value, (np.ndarray, np.generic)):
            return _encode_array(value, where)
        if isinstance(value, _C.Generator):
            return {TAG: "generator", "state": list(value.get_state())}
        if value is None or isinstance(value, (str, builtins.bool, builtins.int, builtins.float)):
            return value
        if isinstance(value, TaskState):
            return self._container(value, where, self._encode_task_state)
        if isinstance(value, dict):
            return self._container(value, where, self._encode_dict)
        if isinstance(value, (list, tuple)):
            return self._container(value, where, self._encode_sequence)
        if is_stateful(value):
            raise TypeError(f"cannot checkpoint {where}: a {class_path(value)} (an object with state_dict()) "
                            f"can only be checkpointed as a direct ctx.state entry, e.g. "
                            f"ctx.state['name'] = obj, where setdefault can restore it")
        raise TypeError(f"cannot checkpoint {where}: type {class_path(value)} is not supported; {_SUPPORTED}")

    def _container(self, value, where, encode):
        if id(value) in self.active:
            raise ValueError(f"cannot checkpoint {where}: it contains itself")
        self.active.add(id(value))
        try:
            return encode(value, where)
        finally:
            self.active.discard(id(value))

    def _encode_sequence(self, seq, where):
        items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(seq)]
        return items if isinstance(seq, list) else tuple(items)

    def _encode_dict(self, d, where):
        out = {_check_key(k, where): self.encode(v, f"{where}[{k!r}]") for k, v in d.items()}
        if TAG in out:  # the user's own key would read as our tag: store the dict as pairs instead
            return {TAG: "dict", "items": [[k, v] for k, v in out.items()]}
        return out

    def _encode_task_state(self, state, where):
        items = []
        for key, value in state.items():
            _check_key(key, where)
            if is_stateful(value):
                encoded = {TAG: "stateful", "class": class_path(value),
                           "state": self.encode(value.state_dict(), f"{where}[{key!r}].state_dict()")}
            else:
                encoded = self.encode(value, f"{where}[{key!r}]")
            items.append([key, encoded])
        # Saved states nobody claimed since the last restore are written again unchanged.
        pending = [[key, p.class_name, self.encode(p.state, f"{where}[{key!r}] (pending restore)")]
                   for key, p in state.pending_items()]
        return {TAG: "task_state", "items": items, "pending": pending}


def _check_key(key, where):
    if key is None or isinstance(key, (str, builtins.bool, builtins.int)):
        return key
    if isinstance(key, builtins.float) and math.isfinite(key):
        return key
    raise TypeError(f"cannot checkpoint {where}: key {key!r} of type {class_path(key)} is not a str, int, "
                    f"finite float, bool or None")


def _encode_tensor(t):
    device = str(t.device)
    if not t.requires_grad and device == "cpu":
        return t
    # Saved detached: the autograd graph cannot outlive the process, requires_grad can.
    return {TAG: "tensor", "data": t.detach(), "requires_grad": t.requires_grad, "device": device}


def _encode_array(arr, where):
    scalar = isinstance(arr, np.generic)
    arr = np.asarray(arr)
    dtype = arr.dtype
    flat = arr.reshape(-1)
    if dtype.byteorder not in ("=", "|"):
        flat = flat.astype(dtype.newbyteorder("="))
    native = flat.dtype
    if native in _NATIVE_NUMPY:
        stored = flat
    elif native in _WIDEN:
        stored = flat.astype(_WIDEN[native])
    elif native in _BIT_VIEW:
        stored = np.ascontiguousarray(flat).view(_BIT_VIEW[native])
    else:
        raise TypeError(f"cannot checkpoint {where}: numpy dtype {dtype} is not supported (numeric and bool "
                        f"dtypes are); {_SUPPORTED}")
    return {TAG: "ndarray", "dtype": dtype.str, "shape": list(arr.shape), "scalar": scalar,
            "data": _C.from_numpy(np.ascontiguousarray(stored))}


# --------------------------------------------------------------------------------------- decode

def _decode(node, where):
    if isinstance(node, dict):
        kind = node.get(TAG)
        if kind is None:
            return {k: _decode(v, f"{where}[{k!r}]") for k, v in node.items()}
        decoder = _DECODERS.get(kind)
        if decoder is None:
            raise CheckpointError(f"{where}: unknown encoded kind {kind!r:.40}")
        try:
            return decoder(node, where)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"{where}: malformed {kind} entry ({type(e).__name__}: {e})") from None
    if isinstance(node, list):
        return [_decode(v, f"{where}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, tuple):
        return tuple(_decode(v, f"{where}[{i}]") for i, v in enumerate(node))
    return node


def _decode_tensor(node, where):
    t = node["data"]
    device = node.get("device", "cpu")
    if device != "cpu":
        try:
            t = t.to(device)
        except Exception as e:  # a GPU checkpoint resumed on a CPU-only machine keeps working on CPU
            _log.warning("%s: cannot move the restored tensor to %s (%s); it stays on the CPU", where, device, e)
    if node["requires_grad"]:
        t.requires_grad_(True)
    return t


def _decode_array(node, where):
    dtype = np.dtype(node["dtype"])
    data = node["data"].numpy()
    native = dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype
    if native in _BIT_VIEW:
        arr = data.view(native)
    else:
        arr = data.astype(native, copy=False)
    arr = arr.astype(dtype, copy=False).reshape(node["shape"])
    return arr[()] if node["scalar"] else arr


def _decode_generator(node, where):
    g = _C.Generator()
    g.set_state(tuple(node["state"]))
    return g


def _decode_task_state(node, where):
    state = TaskState()
    for key, value in node["items"]:
        sub = f"{where}[{key!r}]"
        if isinstance(value, dict) and value.get(TAG) == "stateful":
            state.set_pending(key, value["class"], _decode(value["state"], sub))
        else:
            state[key] = _decode(value, sub)
    for key, class_name, value in node["pending"]:
        state.set_pending(key, class_name, _decode(value, f"{where}[{key!r}]"))
    return state


def _decode_dict(node, where):
    return {k: _decode(v, f"{where}[{k!r}]") for k, v in node["items"]}


def _decode_stateful(node, where):
    raise CheckpointError(f"{where}: a stateful object's state outside a task state")


_DECODERS = {"tensor": _decode_tensor, "ndarray": _decode_array, "generator": _decode_generator,
             "task_state": _decode_task_state, "dict": _decode_dict, "stateful": _decode_stateful}
