"""Moving task outputs between MPI ranks: a value (tensors, numbers, strings, None and lists/tuples/dicts
of them) travels as a JSON header describing its structure followed by one message per tensor.

No pickle: what arrives is data, never code. Tensors are sent from their own memory when contiguous.
"""
import json

import hyflow as hy

__all__ = ["send_value", "recv_value", "send_stopped", "PeerStopped"]

_DTYPES = {str(d): d for d in (hy.bool, hy.int32, hy.int64, hy.float16, hy.bfloat16, hy.float32, hy.float64)}


def _encode(value, tensors, where):
    if isinstance(value, hy.Tensor):
        tensors.append(value.detach().contiguous())
        return {"t": len(tensors) - 1, "dtype": str(value.dtype), "shape": list(value.shape)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"v": value}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [_encode(v, tensors, where) for v in value]}
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise TypeError(f"{where}: dict keys sent between ranks must be str, got {k!r}")
        return {"dict": {k: _encode(v, tensors, where) for k, v in value.items()}}
    raise TypeError(f"{where}: a {type(value).__name__} cannot be sent between ranks (send tensors, numbers, "
                    "strings, None, or lists/tuples/dicts of them)")


def _decode(node, tensors):
    if "t" in node:
        return tensors[node["t"]]
    if "v" in node:
        return node["v"]
    if "list" in node:
        return [_decode(v, tensors) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, tensors) for v in node["tuple"])
    return {k: _decode(v, tensors) for k, v in node["dict"].items()}


def _bytes_to_words(data):
    padded = data + b"\0" * (-len(data) % 8)
    return hy.tensor([int.from_bytes(padded[i:i + 8], "little", signed=True) for i in range(0, len(padded), 8)],
                     dtype=hy.int64) if padded else hy.zeros([0], dtype=hy.int64)


def _words_to_bytes(words, n):
    return b"".join(int(w).to_bytes(8, "little", signed=True) for w in words.tolist())[:n]


def send_value(group, dst, tag, value, where):
    """Send `value` to world rank `dst` on `group` (a hyflow.distributed ProcessGroup)."""
    from .. import distributed as dist
    tensors = []
    header = json.dumps(_encode(value, tensors, where), separators=(",", ":")).encode()
    dist.send(hy.tensor([len(header)], dtype=hy.int64), dst, group=group, tag=tag)
    if header:
        dist.send(_bytes_to_words(header), dst, group=group, tag=tag)
    for t in tensors:
        dist.send(t, dst, group=group, tag=tag)


class PeerStopped:
    """What recv_value returns in place of a value when the sender's task stopped for good (it failed,
    or something it depends on did): no more values will come on that edge."""

    def __init__(self, reason):
        self.reason = reason

    def __repr__(self):
        return f"PeerStopped({self.reason!r})"


def send_stopped(group, dst, tag, reason):
    """Tell world rank `dst` that no more values will come on this edge, and why."""
    from .. import distributed as dist
    header = json.dumps({"stopped": str(reason)}, separators=(",", ":")).encode()
    dist.send(hy.tensor([len(header)], dtype=hy.int64), dst, group=group, tag=tag)
    dist.send(_bytes_to_words(header), dst, group=group, tag=tag)


def recv_value(group, src, tag):
    """Receive one value sent by send_value from world rank `src` (or a PeerStopped from send_stopped)."""
    from .. import distributed as dist
    size = hy.zeros([1], dtype=hy.int64)
    dist.recv(size, src, group=group, tag=tag)
    n = int(size.tolist()[0])
    words = hy.zeros([(n + 7) // 8], dtype=hy.int64)
    if n:
        dist.recv(words, src, group=group, tag=tag)
    node = json.loads(_words_to_bytes(words, n).decode())
    if "stopped" in node:  # values are wrapped as t/v/list/tuple/dict: this key is never a value
        return PeerStopped(node["stopped"])
    specs = []
    _collect_tensor_specs(node, specs)
    tensors = [None] * len(specs)
    for index, dtype, shape in sorted(specs):
        t = hy.empty(shape, dtype=_DTYPES[dtype])
        dist.recv(t, src, group=group, tag=tag)
        tensors[index] = t
    return _decode(node, tensors)


def _collect_tensor_specs(node, out):
    if "t" in node:
        out.append((node["t"], node["dtype"], node["shape"]))
    elif "list" in node or "tuple" in node:
        for v in node.get("list", node.get("tuple")):
            _collect_tensor_specs(v, out)
    elif "dict" in node:
        for v in node["dict"].values():
            _collect_tensor_specs(v, out)
