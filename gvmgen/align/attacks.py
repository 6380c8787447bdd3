"""Where a beat's attack is: the instant its sound starts, not where an onset envelope peaks.

The beat tracker finds beats as peaks of a spectral-flux envelope (93 ms windows, 11.6 ms
hops); that peak comes 20–45 ms after the attack a listener hears. Putting the peak on a cut
lands the attack early. So each beat is moved back to the steepest rise of a fine (1 ms hop,
10 ms window) energy curve of the pre-emphasised signal, the "onset backtracking" of the issue:
pre-emphasis (a first difference) weights the bright transient of a hit over a bass note that
is still sounding.
"""

from __future__ import annotations

import numpy as np

WINDOW = 0.010  # s: energy window; short enough to resolve an attack, long enough to be smooth
STEP = 0.001  # s between energy frames
SEARCH_BACK = 0.080  # s before the envelope peak where the attack may be
SEARCH_AHEAD = 0.010  # s after it (the peak's own frame may straddle the attack)
CLEAR_RISE_DB = 1.0  # dB per ms (smoothed): a rise this steep is an attack, else it is a swell
DEFAULT_LAG = 0.030  # s from attack to envelope peak when no beat has a clear attack


def attack_times(mono: np.ndarray, rate: int, peaks: np.ndarray) -> np.ndarray:
    """Attack time (s) of each beat whose onset envelope peaks at `peaks` `[B]` (s), in mono
    audio `[N]` at `rate`. A beat without a clear attack of its own (a swell, a held chord)
    takes the typical peak-to-attack lag of the beats that have one. Returns float64 `[B]`,
    non-decreasing."""
    peaks = np.asarray(peaks, dtype=np.float64)
    if len(peaks) == 0:
        return peaks
    centres, rise = _energy_rise(mono, rate)
    if len(centres) < 3:
        return peaks
    lags, steepness = _lags(centres, rise, peaks)
    clear = steepness >= CLEAR_RISE_DB
    typical = float(np.median(lags[clear])) if clear.any() else DEFAULT_LAG
    lags = np.where(clear, lags, typical)
    return np.maximum.accumulate(peaks - lags)


def _energy_rise(mono: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame centres (s) `[F]` and the smoothed rise of log energy (dB per frame) `[F]`."""
    emphasised = np.diff(np.asarray(mono, dtype=np.float64), prepend=0.0)
    width, hop = max(int(WINDOW * rate), 1), max(int(STEP * rate), 1)
    if len(emphasised) <= width:
        return np.zeros(0), np.zeros(0)
    power = np.concatenate([[0.0], np.cumsum(emphasised**2)])
    starts = np.arange(0, len(emphasised) - width, hop)
    level = 10.0 * np.log10((power[starts + width] - power[starts]) / width + 1e-10)
    rise = np.convolve(np.diff(level, prepend=level[0]), np.ones(3) / 3, mode="same")
    return (starts + width / 2) / rate, rise


def _lags(centres: np.ndarray, rise: np.ndarray, peaks: np.ndarray):
    """Seconds from each beat's steepest rise to its peak `[B]`, and how steep it is `[B]`."""
    first = np.searchsorted(centres, peaks - SEARCH_BACK)
    last = np.searchsorted(centres, peaks + SEARCH_AHEAD)
    lags, steepness = np.zeros(len(peaks)), np.zeros(len(peaks))
    for i, (lo, hi) in enumerate(zip(first, last, strict=True)):
        if hi - lo < 3:
            continue
        best = lo + int(np.argmax(rise[lo:hi]))
        lags[i], steepness[i] = peaks[i] - centres[best], rise[best]
    return lags, steepness
