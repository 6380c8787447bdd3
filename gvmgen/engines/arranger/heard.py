"""Where the aligner's beat tracker will hear the composed beats.

The aligner re-measures its result with `gvmgen.align.beats.track_beats`, which puts a beat at
the peak of librosa's onset envelope near it; that peak comes ~20–35 ms after the attack, and
a little more or less depending on what plays on the beat. Handing the aligner the exact composed
grid would land every cut that far from the beat it later measures. So each composed beat is
moved to where that envelope peaks: every beat is still there (none missed, none doubled, which a
tracker cannot promise), at the time the measurement will read.
"""

from __future__ import annotations

import numpy as np

_SEARCH = (-1, 6)  # envelope frames around a beat where its peak may be (−12 … +70 ms)
_MAX_LAG = 0.06  # seconds; a larger shift means the beat had no onset of its own
_SMOOTH_BEATS = (
    3  # median over ±3 beats: a beat with no attack (held ending) follows its neighbours
)


def heard_beat_times(audio: np.ndarray, sample_rate: int, beats: np.ndarray) -> np.ndarray:
    """Times (s, float64 `[B]`) at which the aligner's tracker hears `beats` in `audio` `[C, N]`."""
    if len(beats) == 0:
        return np.asarray(beats, dtype=np.float64)
    from gvmgen.align.beats import onset_envelope

    envelope, frame = onset_envelope(audio, sample_rate)
    peaks = _envelope_peaks(envelope, np.asarray(beats) / frame)
    lags = np.clip(peaks * frame - beats, -0.01, _MAX_LAG)
    return beats + _running_median(lags, _SMOOTH_BEATS)


def _envelope_peaks(envelope: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Sub-frame position of the envelope's peak near each (fractional) frame, `[B]`."""
    last = len(envelope) - 1
    window = np.floor(frames).astype(np.int64)[:, None] + np.arange(_SEARCH[0], _SEARCH[1] + 1)
    window = np.clip(window, 0, last)
    peak = window[np.arange(len(frames)), np.argmax(envelope[window], axis=1)]
    left = envelope[np.clip(peak - 1, 0, last)]
    mid = envelope[peak]
    right = envelope[np.clip(peak + 1, 0, last)]
    curve = left - 2 * mid + right
    safe = np.where(curve < 0, curve, -1.0)
    shift = np.where(curve < 0, np.clip(0.5 * (left - right) / safe, -0.5, 0.5), 0.0)
    return peak + shift


def _running_median(values: np.ndarray, half: int) -> np.ndarray:
    """Median over ±`half` neighbours (fewer at the ends), `[B]`."""
    padded = np.pad(values.astype(np.float64), half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.nanmedian(windows, axis=1)
