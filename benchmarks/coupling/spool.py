"""The spool folder both sides of the file-based coupling use: atomic .npy writes and polling reads.

A writer saves to `<name>.tmp` and renames it into place, so a reader never sees half a file; a reader
tries to load the file and, while it is not there, sleeps `poll_s` and tries again. This is how
simulation and ML codes are commonly coupled through a shared filesystem today.
"""
from __future__ import annotations

import os
import time

import numpy as np


def state_path(spool: str, step: int) -> str:
    return os.path.join(spool, f"state_{step:07d}.npy")


def tendency_path(spool: str, step: int) -> str:
    return os.path.join(spool, f"tendency_{step:07d}.npy")


def ready_path(spool: str) -> str:
    return os.path.join(spool, "ml_ready")


def result_path(spool: str) -> str:
    return os.path.join(spool, "ml_result.json")


def write_atomic(path: str, array: np.ndarray) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def write_text_atomic(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def wait_and_take(path: str, poll_s: float, still_alive, timeout_s: float = 600.0) -> np.ndarray:
    """Poll until `path` exists, load it and delete it. still_alive() is asked between polls so a
    dead peer raises RuntimeError instead of hanging; so does waiting longer than timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            array = np.load(path)
        except FileNotFoundError:
            if not still_alive():
                raise RuntimeError(f"the peer process is gone while waiting for {path}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {path}") from None
            time.sleep(poll_s)
            continue
        os.remove(path)
        return array


def wait_for_file(path: str, poll_s: float, still_alive, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not os.path.exists(path):
        if not still_alive():
            raise RuntimeError(f"the peer process is gone while waiting for {path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {path}")
        time.sleep(poll_s)
