"""The motion/energy curve of a clip: how much the picture changes from frame to frame.

Measured as the mean absolute luma difference between consecutive frames at low resolution,
divided by 255, so in [0, 1] (a steady shot sits near 0.00–0.02, busy action around 0.05–0.1,
and a cut spikes far higher). It comes out of the same decode pass as shot detection
(`detect_shots(...).motion`); `motion_curve` is the stand-alone entry point. The dependency runs
one way, motion → cuts: the decode pass and `motion_energy` live in `gvmgen.media.cuts`.
"""

from __future__ import annotations

import os

import numpy as np

from gvmgen.errors import InputError
from gvmgen.media.cuts import frame_differences, motion_energy

__all__ = ["motion_curve", "motion_energy", "resample_curve"]


def motion_curve(
    path: str | os.PathLike,
    start: float = 0.0,
    duration: float | None = None,
    fps: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`(times [N] float64 seconds from start, energy [N] float32 in [0, 1])`.

    With `fps` None there is one value per frame of the input; otherwise values are averaged
    into bins of `1 / fps` seconds, `times` being the bins' starts.
    """
    diff = frame_differences(path, start, duration)
    energy = motion_energy(diff.motion)
    if fps is None:
        return diff.times, energy
    return resample_curve(diff.times, energy, fps)


def resample_curve(
    times: np.ndarray, values: np.ndarray, fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Average a per-frame curve into bins of `1 / fps` seconds; an empty bin (fps above the
    frame rate) repeats the value before it."""
    if fps <= 0:
        raise InputError(f"curve rate fps={fps} must be positive")
    if len(times) == 0:
        return np.zeros(0, np.float64), np.zeros(0, np.float32)
    bins = np.floor(np.asarray(times) * fps + 1e-9).astype(np.int64)
    count = int(bins[-1]) + 1
    sums = np.bincount(bins, weights=values, minlength=count)
    counts = np.bincount(bins, minlength=count)
    out = np.empty(count, np.float32)
    last = float(values[0])
    for k in range(count):
        last = sums[k] / counts[k] if counts[k] else last
        out[k] = last
    return np.arange(count) / fps, out
