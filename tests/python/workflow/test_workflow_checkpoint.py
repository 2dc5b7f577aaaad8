"""Workflow checkpoints: every supported value round-trips, unsupported ones raise naming the key, a
SIGKILL at any point of a save leaves the previous checkpoint loadable, pruning, and damaged files."""
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
from hyflow.serialization import CheckpointError
from hyflow.workflow.checkpoint import (TaskState, decode_state, encode_state, list_checkpoints,
                                        load_checkpoint, save_checkpoint)


def payload(step_value=0, **task_entries):
    state = TaskState(counter=step_value, **task_entries)
    return {"tasks": {"sim": state}, "channels": {"states": [[3, hy.ones(2)]]},
            "engine": {"next_step": step_value + 1}, "meta": {"workflow": "demo"}}


def test_every_supported_value_round_trips(tmp_path):
    g = hy.Generator(seed=7)
    hy.randn(5, generator=g)                       # advance it: the offset must survive too
    arrays = {str(dt): (np.arange(6) % 3).astype(dt).reshape(2, 3)
              for dt in (np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
                         np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128, ">f4")}
    value = {
        "tensor": hy.arange(6).reshape(2, 3).float(),
        "grad": hy.ones(3).requires_grad_(True),
        "plain": [1, 2.5, float("inf"), True, "s", None, (1, "x")],
        "nested": {"a": {"b": [hy.zeros(2, dtype=hy.int64)]}, 3: "int key"},
        "tagged": {"__hyflow__": "user value"},
        "arrays": arrays,
        "scalar": np.float32(1.5),
        "zero_d": np.array(2.0),
        "empty": np.zeros((0, 3), np.complex64),
        "strided": np.arange(12.0).reshape(3, 4)[:, ::2],
        "rng": g,
    }
    save_checkpoint(tmp_path, 3, {"tasks": {"t": TaskState(value)}})
    step, loaded = load_checkpoint(tmp_path)
    back = loaded["tasks"]["t"]
    assert step == 3 and isinstance(back, TaskState)
    np.testing.assert_array_equal(back["tensor"].numpy(), value["tensor"].numpy())
    assert back["grad"].requires_grad and back["grad"].is_leaf
    assert back["plain"] == value["plain"] and isinstance(back["plain"][6], tuple)
    assert back["nested"][3] == "int key" and back["nested"]["a"]["b"][0].dtype == hy.int64
    assert back["tagged"] == {"__hyflow__": "user value"}
    for name, arr in arrays.items():
        assert back["arrays"][name].dtype == arr.dtype, name
        np.testing.assert_array_equal(back["arrays"][name], arr)
    assert type(back["scalar"]) is np.float32 and back["scalar"] == 1.5
    assert back["zero_d"].shape == () and back["empty"].shape == (0, 3) and back["empty"].dtype == np.complex64
    np.testing.assert_array_equal(back["strided"], value["strided"])
    assert isinstance(back["rng"], hy.Generator) and back["rng"].get_state() == g.get_state()
    np.testing.assert_array_equal(hy.randn(4, generator=back["rng"]).numpy(), hy.randn(4, generator=g).numpy())


def test_payload_parts_and_pending_objects_survive(tmp_path):
    model = nn.Linear(2, 2)
    save_checkpoint(tmp_path, 10, payload(4, model=model))
    step, loaded = load_checkpoint(tmp_path)
    assert step == 10 and loaded["engine"] == {"next_step": 5} and loaded["meta"] == {"workflow": "demo"}
    np.testing.assert_array_equal(loaded["channels"]["states"][0][1].numpy(), [1.0, 1.0])
    state = loaded["tasks"]["sim"]
    assert state == {"counter": 4} and state.pending_keys() == ["model"]
    assert list_checkpoints(tmp_path)[0].workflow == "demo"


@pytest.mark.parametrize("value, type_name", [(lambda ctx: 0, "function"), ({1, 2}, "set"),
                                              (object(), "object"), (b"raw", "bytes"),
                                              (np.array(["a"]), "numpy dtype <U1")])
def test_unsupported_values_name_task_and_key(tmp_path, value, type_name):
    with pytest.raises(TypeError, match=rf"task 'train' state\['model_fn'\].*{type_name}.*checkpoints hold"):
        save_checkpoint(tmp_path, 1, {"tasks": {"train": {"ok": 1, "model_fn": value}}})
    assert os.listdir(tmp_path) == []             # refused before anything was written


def test_unsupported_nested_value_names_its_path():
    with pytest.raises(TypeError, match=r"channel 'c'\[0\]\['x'\]"):
        encode_state([{"x": {1}}], "channel 'c'")
    with pytest.raises(TypeError, match=r"direct ctx.state entry"):
        encode_state(TaskState(models=[nn.Linear(1, 1)]), "task 't' state")
    with pytest.raises(TypeError, match="key"):
        encode_state({(1, 2): 0}, "x")
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="contains itself"):
        encode_state(cyclic, "x")


def test_missing_directory_or_no_checkpoint_gives_none(tmp_path):
    assert load_checkpoint(tmp_path / "nope") is None
    assert load_checkpoint(tmp_path) is None
    assert list_checkpoints(tmp_path) == []


def test_keep_prunes_the_oldest_after_commit(tmp_path):
    for step in (10, 20, 30, 40):
        save_checkpoint(tmp_path, step, payload(step), keep=2)
    assert [i.step for i in list_checkpoints(tmp_path)] == [30, 40]
    assert sorted(os.listdir(tmp_path)) == ["LATEST", "step-00000030", "step-00000040"]
    save_checkpoint(tmp_path, 50, payload(50), keep=None)
    assert [i.step for i in list_checkpoints(tmp_path)] == [30, 40, 50]
    with pytest.raises(ValueError, match="keep"):
        save_checkpoint(tmp_path, 60, payload(), keep=0)


def test_commit_order_not_step_number_decides_newest(tmp_path):
    # A fresh run writing into a folder from a longer earlier run: its step 10 is the newest checkpoint.
    save_checkpoint(tmp_path, 500, payload(500), keep=None)
    save_checkpoint(tmp_path, 10, payload(10), keep=2)
    assert load_checkpoint(tmp_path)[0] == 10
    (tmp_path / "LATEST").unlink()
    assert load_checkpoint(tmp_path)[0] == 10


def test_same_step_saved_again_replaces_it(tmp_path):
    save_checkpoint(tmp_path, 10, payload(1))
    save_checkpoint(tmp_path, 10, payload(2))
    step, loaded = load_checkpoint(tmp_path)
    assert step == 10 and loaded["tasks"]["sim"]["counter"] == 2
    assert sorted(os.listdir(tmp_path)) == ["LATEST", "step-00000010"]


def _damage(path, how):
    data = path / "data.safetensors"
    raw = data.read_bytes()
    if how == "truncate":
        data.write_bytes(raw[: len(raw) // 2])
    else:  # flip a byte, same size: only the checksum notices
        data.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))


@pytest.mark.parametrize("how, reason", [("truncate", "truncated"), ("flip", "corrupted")])
def test_damaged_only_checkpoint_raises_naming_the_file(tmp_path, how, reason):
    path = save_checkpoint(tmp_path, 10, payload())
    _damage(tmp_path / os.path.basename(path), how)
    with pytest.raises(CheckpointError, match=rf"step-00000010.data\.safetensors.*{reason}"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_damaged_latest_falls_back_to_an_older_one_with_a_warning(tmp_path, caplog, how):
    save_checkpoint(tmp_path, 10, payload(10))
    newest = save_checkpoint(tmp_path, 20, payload(20))
    _damage(tmp_path / os.path.basename(newest), how)
    with caplog.at_level(logging.WARNING, logger="hyflow.workflow"):
        step, loaded = load_checkpoint(tmp_path)
    assert step == 10 and loaded["tasks"]["sim"]["counter"] == 10
    assert "step-00000020" in caplog.text and "step-00000010" in caplog.text


@pytest.mark.parametrize("latest", [None, "garbage\x00", "step-00000099"])
def test_missing_or_corrupt_latest_uses_the_newest_valid_checkpoint(tmp_path, latest):
    save_checkpoint(tmp_path, 10, payload(10))
    save_checkpoint(tmp_path, 20, payload(20))
    if latest is None:
        (tmp_path / "LATEST").unlink()
    else:
        (tmp_path / "LATEST").write_text(latest)
    assert load_checkpoint(tmp_path)[0] == 20


def test_a_folder_without_manifest_is_never_picked(tmp_path):
    save_checkpoint(tmp_path, 10, payload(10))
    (tmp_path / "step-00000020").mkdir()            # e.g. copied by hand, half done
    assert load_checkpoint(tmp_path)[0] == 10
    manifest = tmp_path / "step-00000010" / "manifest.json"
    manifest.write_text(json.dumps({"format": "hyflow.workflow.checkpoint", "version": 99}))
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(tmp_path)


# ------------------------------------------------------------------------------ crash atomicity

_CRASHING_SAVER = textwrap.dedent("""
    import os, sys, time
    import hyflow as hy
    from hyflow.workflow.checkpoint import TaskState, save_checkpoint

    directory, target = sys.argv[1], sys.argv[2]
    def state(n):
        return {"tasks": {"sim": TaskState(counter=n, big=hy.ones(50000) * n)}}
    save_checkpoint(directory, 1, state(1))

    calls = {"fsync": 0, "replace": 0}
    def stall(name, real):
        def patched(*args):
            calls[name] += 1
            if f"{name}:{calls[name]}" == target:
                print("stalled", flush=True)
                time.sleep(60)
            return real(*args)
        return patched
    os.fsync, os.replace = stall("fsync", os.fsync), stall("replace", os.replace)
    save_checkpoint(directory, 2, state(2))
    print("done", flush=True)
""")

# The save's calls in order: fsync:1 data file, replace:1 data file into the scratch folder, fsync:2
# scratch folder, fsync:3 manifest, fsync:4 scratch folder, replace:2 scratch -> step folder, fsync:5
# parent, fsync:6 LATEST temp, replace:3 LATEST (the commit), fsync:7 parent. Each stalls before the
# real call, so only a kill at fsync:7 comes after the commit.
KILL_POINTS = [("fsync:1", 1), ("replace:1", 1), ("fsync:3", 1), ("replace:2", 1), ("fsync:5", 1),
               ("replace:3", 1), ("fsync:7", 2)]


@pytest.mark.parametrize("kill_at, expected_step", KILL_POINTS)
def test_sigkill_during_save_leaves_a_loadable_checkpoint(tmp_path, kill_at, expected_step):
    script = tmp_path / "saver.py"
    script.write_text(_CRASHING_SAVER)
    directory = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, str(script), str(directory), kill_at],
                            stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        line = proc.stdout.readline().strip()
        assert line == "stalled", f"the saver never reached {kill_at} (printed {line!r})"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    step, loaded = load_checkpoint(directory)
    assert step == expected_step and loaded["tasks"]["sim"]["counter"] == step   # whole, never a mix
    np.testing.assert_array_equal(loaded["tasks"]["sim"]["big"].numpy(), np.full(50000, float(step)))
    # The next save cleans up the scratch the killed one left behind.
    save_checkpoint(directory, 3, {"tasks": {}})
    assert not [e for e in os.listdir(directory) if e.startswith(".")]
    assert load_checkpoint(directory)[0] == 3


def test_encode_decode_without_a_file():
    tree = encode_state({"a": np.arange(3, dtype=np.uint16), "g": hy.Generator(seed=2)}, "x")
    back = decode_state(tree)
    assert back["a"].dtype == np.uint16 and back["g"].get_state() == (2, 0)
