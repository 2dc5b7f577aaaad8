"""Workflow checkpoints: a directory of complete, atomically committed snapshots.

    path = save_checkpoint("ckpt", 100, {"tasks": {"train": state}, "channels": {...}, "engine": {...},
                                         "meta": {"workflow": "surrogate"}}, keep=2)
    step, payload = load_checkpoint("ckpt")      # None when the directory holds no checkpoint

On disk::

    ckpt/LATEST                        "step-00000100\\n": the committed checkpoint to resume from
    ckpt/step-00000100/data.safetensors  the encoded payload, written with hy.save
    ckpt/step-00000100/manifest.json     format, version, step, sequence, workflow, data size + sha256

A checkpoint is built in ``ckpt/.tmp-*``, every file and the folder fsynced, then renamed into place; only
then is LATEST replaced (temp file, fsync, rename), and only after that are old checkpoints pruned. A crash
at any moment leaves the previous checkpoint loadable, and a half-written one is never picked: it either
lacks its final name or fails its size/checksum check. One process writes to a checkpoint directory.
"""
import collections
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Mapping

from .. import serialization
from .._atomic import atomic_write, fsync_directory
from ..serialization import CheckpointError
from .state_codec import decode_state, encode_state
from .task_state import TaskState

__all__ = ["TaskState", "encode_state", "decode_state", "save_checkpoint", "load_checkpoint",
           "list_checkpoints", "CheckpointInfo", "CheckpointError"]

FORMAT = "hyflow.workflow.checkpoint"
VERSION = 1
DATA_FILE = "data.safetensors"
MANIFEST_FILE = "manifest.json"
LATEST_FILE = "LATEST"
_STEP_DIR = re.compile(r"step-(\d+)\Z")
_SCRATCH_PREFIXES = (".tmp-", ".trash-", f".{LATEST_FILE}.")  # the last: an interrupted LATEST write
_log = logging.getLogger("hyflow.workflow")

CheckpointInfo = collections.namedtuple("CheckpointInfo", "step path sequence workflow created")
CheckpointInfo.__doc__ = "A complete checkpoint: its step, folder, commit sequence number, workflow name, unix time."


# ------------------------------------------------------------------------------------------- save

def save_checkpoint(directory, step, payload, keep=2):
    """Commit ``payload`` as the checkpoint of ``step`` in ``directory``; returns the checkpoint folder.

    ``payload["tasks"]`` maps task names to TaskState (or plain dicts), ``payload["channels"]`` channel
    names to their items; other entries are stored as they are. ``keep`` newest checkpoints survive
    (None keeps all). Unsupported values raise TypeError before anything is written.
    """
    directory = os.fspath(directory)
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ValueError(f"save_checkpoint: step must be a non-negative int, got {step!r}")
    if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or keep < 1):
        raise ValueError(f"save_checkpoint: keep must be a positive int or None, got {keep!r}")
    if not isinstance(payload, Mapping):
        raise TypeError(f"save_checkpoint: payload must be a dict, got {type(payload).__name__}")
    tree = _encode_payload(payload)

    os.makedirs(directory, exist_ok=True)
    sequence = 1 + max((info.sequence for info in list_checkpoints(directory)), default=0)
    name = f"step-{step:08d}"
    scratch = os.path.join(directory, f".tmp-{name}-{uuid.uuid4().hex[:12]}")
    os.mkdir(scratch)
    try:
        data_path = os.path.join(scratch, DATA_FILE)
        serialization.save(tree, data_path)  # fsyncs the file and the scratch folder itself
        manifest = {"format": FORMAT, "version": VERSION, "step": step, "sequence": sequence,
                    "workflow": _workflow_name(payload), "created": time.time(),
                    "data": {"file": DATA_FILE, "bytes": os.path.getsize(data_path),
                             "sha256": _sha256(data_path)}}
        _write_durably(os.path.join(scratch, MANIFEST_FILE), json.dumps(manifest, indent=1) + "\n")
        fsync_directory(scratch)
        final = _move_into_place(directory, scratch, name)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    _write_latest(directory, name)
    _prune(directory, keep)
    return final


def _encode_payload(payload):
    tree = {}
    for part, value in payload.items():
        if not isinstance(part, str):
            raise TypeError(f"save_checkpoint: payload keys must be str, got {part!r}")
        if part == "tasks":
            tree[part] = {name: encode_state(_as_task_state(state, name), f"task {name!r} state")
                          for name, state in _mapping(value, "tasks").items()}
        elif part == "channels":
            tree[part] = {name: encode_state(items, f"channel {name!r}")
                          for name, items in _mapping(value, "channels").items()}
        else:
            tree[part] = encode_state(value, f"checkpoint {part!r}")
    return tree


def _mapping(value, part):
    if not isinstance(value, Mapping):
        raise TypeError(f"save_checkpoint: payload[{part!r}] must be a dict of name -> value, "
                        f"got {type(value).__name__}")
    return value


def _as_task_state(state, name):
    if isinstance(state, TaskState):
        return state
    if isinstance(state, Mapping):
        return TaskState(state)
    raise TypeError(f"save_checkpoint: task {name!r} state must be a TaskState or dict, got {type(state).__name__}")


def _workflow_name(payload):
    meta = payload.get("meta")
    name = meta.get("workflow") if isinstance(meta, Mapping) else None
    return name if isinstance(name, str) else None


def _move_into_place(directory, scratch, name):
    final = os.path.join(directory, name)
    if os.path.lexists(final):
        # Same step saved again (a resumed run): the old folder steps aside first, because a rename
        # cannot replace a non-empty folder. Until LATEST moves, a crash here falls back to another one.
        os.replace(final, os.path.join(directory, f".trash-{name}-{uuid.uuid4().hex[:12]}"))
    os.replace(scratch, final)
    fsync_directory(directory)
    return final


def _write_latest(directory, name):
    atomic_write(os.path.join(directory, LATEST_FILE), [(name + "\n").encode("utf-8")])


def _prune(directory, keep):
    """Delete checkpoints older than the ``keep`` newest, and scratch left by interrupted saves."""
    if keep is not None:
        for info in list_checkpoints(directory)[:-keep]:
            shutil.rmtree(info.path, ignore_errors=True)
    for entry in os.listdir(directory):
        if entry.startswith(_SCRATCH_PREFIXES):
            path = os.path.join(directory, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def _write_durably(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------- load

def list_checkpoints(directory):
    """The complete checkpoints in ``directory`` (manifest valid, data file of the recorded size),
    oldest first (by commit order). The data checksum is verified only when loading."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        return []
    infos = []
    for entry in os.listdir(directory):
        if _STEP_DIR.match(entry):
            try:
                infos.append(_read_manifest(os.path.join(directory, entry))[0])
            except CheckpointError:
                continue
    return sorted(infos, key=lambda info: (info.sequence, info.step))


def load_checkpoint(directory, step=None):
    """``(step, payload)`` of the checkpoint LATEST names, or None when ``directory`` holds none.

    If LATEST is missing, unreadable or names a damaged checkpoint, the newest valid one is used (with
    a warning when something was damaged); when no valid checkpoint is left, CheckpointError names the
    damaged path. Task states come back as TaskState with their stateful objects pending.
    ``step``: load the checkpoint of that step instead (the ranks of an MPI run resume from the newest
    step they all have); CheckpointError when there is no complete one.
    """
    directory = os.fspath(directory)
    if step is not None:
        matches = [info.path for info in reversed(list_checkpoints(directory)) if info.step == step]
        if not matches:
            raise CheckpointError(f"{directory}: no complete checkpoint of step {step}")
        return _load_one(matches[0])
    if not os.path.isdir(directory):
        return None
    latest = _read_latest(directory)
    complete = [info.path for info in reversed(list_checkpoints(directory))]
    candidates = ([latest] if latest else []) + [p for p in complete if p != latest]
    if not candidates:
        broken = sorted(e for e in os.listdir(directory) if _STEP_DIR.match(e))
        if broken:  # something was committed here but nothing readable is left: never silently restart
            _read_manifest(os.path.join(directory, broken[-1]))  # raises with the reason
        return None
    failures = []
    for path in candidates:
        try:
            step, payload = _load_one(path)
        except CheckpointError as e:
            failures.append(e)
            continue
        if failures:
            _log.warning("skipping a damaged checkpoint (%s); resuming from %s instead", failures[0], path)
        return step, payload
    raise failures[0]


def _read_latest(directory):
    path = os.path.join(directory, LATEST_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            name = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not _STEP_DIR.match(name):
        _log.warning("%s is corrupt (%r); looking for the newest complete checkpoint", path, name[:40])
        return None
    return os.path.join(directory, name)


def _read_manifest(path):
    """(CheckpointInfo, manifest) for a checkpoint folder whose manifest and data size check out."""
    manifest_path = os.path.join(path, MANIFEST_FILE)
    if not os.path.isdir(path):
        raise CheckpointError(f"{path}: checkpoint folder does not exist")
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: incomplete checkpoint, {MANIFEST_FILE} is missing") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{manifest_path}: unreadable manifest ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{manifest_path}: not a hyflow workflow checkpoint manifest")
    if manifest.get("version") != VERSION:
        raise CheckpointError(f"{manifest_path}: checkpoint format version {manifest.get('version')!r}, this "
                              f"hyflow reads version {VERSION}")
    try:
        step, sequence, data = manifest["step"], manifest["sequence"], manifest["data"]
        expected_bytes, checksum = data["bytes"], data["sha256"]
    except (KeyError, TypeError):
        raise CheckpointError(f"{manifest_path}: manifest lacks step, sequence or data fields") from None
    if not all(isinstance(v, int) for v in (step, sequence, expected_bytes)) or not isinstance(checksum, str):
        raise CheckpointError(f"{manifest_path}: manifest fields have the wrong types")
    data_path = os.path.join(path, DATA_FILE)
    try:
        size = os.path.getsize(data_path)
    except OSError:
        raise CheckpointError(f"{data_path}: data file is missing") from None
    if size != expected_bytes:
        raise CheckpointError(f"{data_path}: data file is {size} bytes, the manifest says {expected_bytes} "
                              f"(truncated or overwritten)")
    info = CheckpointInfo(step, path, sequence, manifest.get("workflow"), manifest.get("created"))
    return info, manifest


def _load_one(path):
    info, manifest = _read_manifest(path)
    data_path = os.path.join(path, DATA_FILE)
    actual = _sha256(data_path)
    if actual != manifest["data"]["sha256"]:
        raise CheckpointError(f"{data_path}: data file is corrupted (sha256 {actual[:16]}..., the manifest "
                              f"says {manifest['data']['sha256'][:16]}...)")
    tree = serialization.load(data_path)
    try:
        payload = decode_state(tree)
    except CheckpointError as e:
        raise CheckpointError(f"{data_path}: {e}") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{data_path}: payload is a {type(payload).__name__}, not a dict")
    return info.step, payload
