"""Dynamics that follow the picture: how hard each bar plays, from motion, cut rate and changes
of brightness, shaped like a composer's phrase (a softer entrance, a lift into each section).

The intensity of a bar (0 quiet … 1 full) sets three things: the velocity of every note in it,
which layers play (a static stretch loses its hats and fills, a busy one gains a ride of
sixteenths), and a level ride applied to the whole mix. The ride is what gives a cue of 30 s or
more a loudness range like a composed score's (GVMGen's own music spans 7–11 LU); a cue whose
picture never changes still breathes with its sections.
"""

from __future__ import annotations

import itertools

import numpy as np

from gvmgen.engines.base import CueConditioning

RIDE_DB = 6.5  # level of the quietest bar below the fullest, dB
VELOCITY_FLOOR = 0.6  # a note's velocity is scaled by FLOOR … 1 with its bar's intensity
CUT_RATE_FULL = 0.8  # cuts per second that count as fully busy cutting
BRIGHTNESS_STEP_FULL = 0.12  # luma change between frames (0..1) that counts as a big change
PICTURE_SPAN = 0.25  # a picture whose energy varies less than this is not read as dramatic
_SMOOTH_BARS = 1  # ± bars of the running mean: the ride moves by phrases, not by beats
_LUMA = np.array([0.2126, 0.7152, 0.0722])


def bar_intensity(
    cue: CueConditioning, downbeats: np.ndarray, section_starts: list[int]
) -> np.ndarray:
    """Intensity 0..1 of each bar `[len(downbeats)]` (bar b spans downbeats[b]..[b+1])."""
    edges = np.append(
        downbeats,
        cue.duration if len(downbeats) < 2 else downbeats[-1] + (downbeats[-1] - downbeats[-2]),
    )
    picture = (
        0.5 * _per_bar(edges, *_motion(cue))
        + 0.3 * _cut_rate(cue, edges)
        + 0.2 * _per_bar(edges, *_brightness_change(cue))
    )
    energy = 0.7 * _spread(picture, PICTURE_SPAN) + 0.3 * _arc(len(downbeats), section_starts)
    return _spread(_smoothed(energy, _SMOOTH_BARS))


def _spread(values: np.ndarray, least_span: float = 1e-3) -> np.ndarray:
    """`values` rescaled so the cue uses the whole range: its 10th percentile at 0, its 95th at
    1 (the loudness stage sets the cue's level; dynamics are what happens inside it). A span
    under `least_span` is not blown up to the whole range."""
    if len(values) < 2:
        return np.full(len(values), 0.7)
    low, high = np.percentile(values, [10, 95])
    if high - low < 1e-6:
        return np.full(len(values), 0.7)
    return np.clip((values - low) / max(high - low, least_span), 0.0, 1.0)


def ride_db(intensity: np.ndarray) -> np.ndarray:
    """The level ride per bar, dB (0 at full intensity)."""
    return -RIDE_DB * (1.0 - intensity)


def velocity_scale(intensity: float) -> float:
    return VELOCITY_FLOOR + (1.0 - VELOCITY_FLOOR) * float(intensity)


def _per_bar(edges: np.ndarray, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of `values` at `times` inside each bar; bars with none take the nearest value."""
    bars = len(edges) - 1
    if len(values) == 0:
        return np.zeros(bars)
    centres = 0.5 * (edges[:-1] + edges[1:])
    out = np.interp(centres, times, values)
    index = np.searchsorted(edges, times, side="right") - 1
    for bar in range(bars):
        inside = values[index == bar]
        if len(inside):
            out[bar] = inside.mean()
    return out


def _motion(cue: CueConditioning) -> tuple[np.ndarray, np.ndarray]:
    if cue.motion is not None and cue.motion_times is not None and len(cue.motion):
        return np.asarray(cue.motion_times, float), np.clip(np.asarray(cue.motion, float), 0, 1)
    times, change = _brightness_change(cue)
    return times, np.clip(4.0 * change, 0.0, 1.0)


def _brightness_change(cue: CueConditioning) -> tuple[np.ndarray, np.ndarray]:
    """|change of mean luma| between consecutive frames, 0..1 (1 = a full step), at the later
    frame's time."""
    if len(cue.frames) < 2:
        return np.zeros(0), np.zeros(0)
    step = max(1, cue.frames.shape[1] // 16)
    luma = cue.frames[:, ::step, ::step, :3].reshape(len(cue.frames), -1, 3).mean(axis=1) @ _LUMA
    change = np.abs(np.diff(luma / 255.0)) / BRIGHTNESS_STEP_FULL
    return np.asarray(cue.frame_times[1:], float), np.clip(change, 0.0, 1.0)


def _cut_rate(cue: CueConditioning, edges: np.ndarray) -> np.ndarray:
    """Cuts per second in a 4 s window around each bar, 0..1 of `CUT_RATE_FULL`."""
    centres = 0.5 * (edges[:-1] + edges[1:])
    cuts = np.asarray(cue.cuts, float)
    counts = np.array([np.sum(np.abs(cuts - c) <= 2.0) for c in centres], float)
    return np.clip(counts / 4.0 / CUT_RATE_FULL, 0.0, 1.0)


def _arc(bars: int, section_starts: list[int]) -> np.ndarray:
    """A phrase shape: each section starts lower and builds; the cue's first bars are softest."""
    arc = np.zeros(bars)
    starts = [*sorted(set(section_starts) | {0}), bars]
    for first, end in itertools.pairwise(starts):
        length = max(end - first, 1)
        arc[first:end] = np.linspace(0.2, 1.0, length) if length > 1 else 0.6
    arc[: min(2, bars)] = np.minimum(arc[: min(2, bars)], 0.3)
    return arc


def _smoothed(values: np.ndarray, half: int) -> np.ndarray:
    if len(values) < 3 or half <= 0:
        return values
    padded = np.pad(values, half, mode="edge")
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.convolve(padded, kernel, mode="valid")
