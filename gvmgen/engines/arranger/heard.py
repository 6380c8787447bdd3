"""Where the aligner's beat tracker will hear the composed beats.

The aligner re-measures its result with `gvmgen.align.beats.track_beats`, which finds a beat at
a peak of librosa's onset envelope and then moves it back to that beat's attack (the steepest
rise of its energy). Handing the aligner the composed grid itself would be close, but a synth
voice's attack and the tracker's reading of it differ by a few milliseconds that depend on what
plays on the beat. So each composed beat is read the way the tracker reads it — envelope peak
near the beat, then its attack — and every beat is still there (none missed, none doubled,
which a tracker cannot promise), at the time the measurement will read.
"""

from __future__ import annotations

import numpy as np

_SEARCH = (-1, 6)  # envelope frames around a beat where its peak may be (−12 … +70 ms)
_LAG_RANGE = (-0.02, 0.02)  # seconds; an attack read further off means the beat had none
_SMOOTH_BEATS = 3  # median over ±3 beats: a beat with no attack (held ending) follows the rest


def heard_beat_times(audio: np.ndarray, sample_rate: int, beats: np.ndarray) -> np.ndarray:
    """Times (s, float64 `[B]`) at which the aligner's tracker hears `beats` in `audio` `[C, N]`."""
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) == 0:
        return beats
    from gvmgen.align.beats import beat_attacks, onset_envelope

    envelope, frame = onset_envelope(audio, sample_rate)
    peaks = _envelope_peaks(envelope, beats / frame) * frame
    attacks = beat_attacks(audio, sample_rate, peaks)
    lags = np.clip(attacks - beats, *_LAG_RANGE)
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
