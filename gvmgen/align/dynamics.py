"""Intensity in the mix: level across intensity markers, and a brightness tilt for engines that
cannot compose by intensity (GVMGen hears the picture only).

Runs on the aligned music before loudness (align → ending → loudness → duck): the cue is then
levelled as a whole, so its integrated loudness stays on target while a marker from intensity 2
to 8 is heard as a step in short-term loudness at the marker's downbeat.
"""

from __future__ import annotations

import numpy as np

from gvmgen.controls import NEUTRAL_INTENSITY, CueControls

STEP_DB = 1.5  # level per intensity step across a marker (2 → 8: 9 dB)
RAMP = 0.2  # s: a level change glides in over this, ending on the downbeat's attack
TILT_DB = 1.5  # high-shelf gain per intensity step away from 5, for picture-only engines
TILT_HZ = 2000.0


def change_times(controls: CueControls, downbeats: np.ndarray) -> list[tuple[float, int]]:
    """(time, intensity) of each intensity marker in the cue, moved to its nearest downbeat
    (the same downbeat the arranger changes the music on)."""
    out = []
    for change in controls.changes:
        if change.control != "intensity":
            continue
        time = change.time
        if len(downbeats):
            time = float(downbeats[np.argmin(np.abs(downbeats - change.time))])
        out.append((time, int(change.value)))
    return out


def intensity_levels(
    audio: np.ndarray, sample_rate: int, controls: CueControls, downbeats: np.ndarray
) -> np.ndarray:
    """`audio` `[C, N]` with a gain of STEP_DB per intensity step from the cue's starting
    intensity, changing at each intensity marker's downbeat; unchanged without markers."""
    changes = change_times(controls, downbeats)
    if not changes:
        return audio
    first = controls.start.intensity or NEUTRAL_INTENSITY
    times = np.arange(audio.shape[1]) / sample_rate
    knots_t, knots_g, level = [0.0], [0.0], 0.0
    for time, intensity in sorted(changes):
        knots_t += [max(time - RAMP, knots_t[-1]), max(time, knots_t[-1] + 1e-6)]
        knots_g += [level, STEP_DB * (intensity - first)]
        level = knots_g[-1]
    gain_db = np.interp(times, knots_t, knots_g)
    return (audio * (10 ** (gain_db / 20)).astype(np.float32)).astype(np.float32)


def brightness_tilt(
    audio: np.ndarray, sample_rate: int, controls: CueControls, downbeats: np.ndarray
) -> np.ndarray:
    """A high shelf of TILT_DB per intensity step from 5 (brighter above, darker below), the
    mix's share of intensity for an engine whose notes it cannot change; across a marker the
    two shelves crossfade over RAMP at its downbeat."""
    spans = [(0.0, controls.start.intensity), *change_times(controls, downbeats)]
    if all(i in (None, NEUTRAL_INTENSITY) for _, i in spans):
        return audio
    out = np.zeros_like(audio, dtype=np.float32)
    times = np.arange(audio.shape[1]) / sample_rate
    for k, (start, intensity) in enumerate(spans):
        end = spans[k + 1][0] if k + 1 < len(spans) else np.inf
        weight = np.clip((times - start) / RAMP + 1, 0, 1) if k else np.ones_like(times)
        weight = weight * np.clip((end - times) / RAMP, 0, 1) if np.isfinite(end) else weight
        shelf = _shelved(audio, sample_rate, TILT_DB * ((intensity or 5) - NEUTRAL_INTENSITY))
        out += shelf * weight.astype(np.float32)
    return out


def _shelved(audio: np.ndarray, sample_rate: int, gain_db: float) -> np.ndarray:
    if not gain_db:
        return np.asarray(audio, dtype=np.float32)
    from pedalboard import HighShelfFilter

    shelf = HighShelfFilter(cutoff_frequency_hz=TILT_HZ, gain_db=gain_db)
    return shelf.process(np.ascontiguousarray(audio, dtype=np.float32), sample_rate)
