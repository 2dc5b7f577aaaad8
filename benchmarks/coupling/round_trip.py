"""The coupling's round-trip latency, from per-step timestamps every variant records.

For a step s at or after the switch, the round trip is the wall time from the moment the simulation has
produced state s to the moment it has the surrogate's tendency computed from state s in hand, ready for
step s + 1. Each variant records, per step, when state s was produced, when the tendency came back, and
how long the ML bodies (train when it fires at s, infer) ran in between; this module turns those into
per-step samples and their median / p90.
"""
from __future__ import annotations

import numpy as np


def samples(produced: dict, in_hand: dict, ml_s: dict, first: int, end: int) -> dict:
    """Per-step round trips over steps [first, end - 1) (the last step's tendency is never used).

    produced[s], in_hand[s]: seconds on one clock; ml_s[s]: seconds of ML body time inside that round
    trip. Returns {"steps", "latency_s", "ml_s"}, aligned lists (steps missing a timestamp are skipped).
    """
    steps, latency, ml = [], [], []
    for step in range(first, end - 1):
        if step in produced and step in in_hand:
            steps.append(step)
            latency.append(in_hand[step] - produced[step])
            ml.append(ml_s.get(step, 0.0))
    return {"steps": steps, "latency_s": latency, "ml_s": ml}


def pool(runs: list) -> dict:
    """The samples of several runs (each as from samples()) joined into one."""
    return {key: [value for run in runs for value in run[key]] for key in ("steps", "latency_s", "ml_s")}


def median_ms(seconds: list) -> float:
    return 1e3 * float(np.median(seconds)) if len(seconds) else float("nan")


def summary(pooled: dict, train_steps=lambda step: False) -> dict:
    """Median and p90 (ms) of the round trip, the median of the ML body time inside it and of round trip
    minus that time (what the coupling itself adds), the median over the steps where train fired (those
    round trips hold a training), and the sample count."""
    latency = np.asarray(pooled["latency_s"]) * 1e3
    if latency.size == 0:
        nan = float("nan")
        return {"p50_ms": nan, "p90_ms": nan, "ml_p50_ms": nan, "minus_ml_p50_ms": nan, "train_steps_p50_ms": nan,
                "samples": 0}
    ml = np.asarray(pooled["ml_s"]) * 1e3
    overhead = latency - ml
    with_training = [ms for step, ms in zip(pooled["steps"], latency) if train_steps(step)]
    return {"p50_ms": float(np.median(latency)), "p90_ms": float(np.percentile(latency, 90)),
            "ml_p50_ms": float(np.median(ml)), "minus_ml_p50_ms": float(np.median(overhead)),
            "train_steps_p50_ms": float(np.median(with_training)) if with_training else float("nan"),
            "samples": int(latency.size)}
