"""The bench's heard-change judge (bench/heard_change.py) on music with known beats: the same
music restretched by ±1.5 % reads as unchanged under thresholds calibrated on a ±2 %
restretch, a new chord and timbre from one beat reads as a
change from that beat and not before."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from heard_change import beat_distances, first_change, restretched, thresholds

RATE = 48_000
BEAT = 0.5  # s: 120 BPM
BEATS = 16
CHANGE = 8  # the beat from which the second version changes


def _music(change_at: int | None) -> np.ndarray:
    """A plucked triad on every beat, C major (A minor, brighter, from `change_at`), stereo."""
    t = np.arange(int(BEAT * RATE)) / RATE
    beats = []
    for k in range(BEATS):
        changed = change_at is not None and k >= change_at
        notes = (220.0, 261.63, 329.63) if changed else (261.63, 329.63, 392.0)
        partials = (1, 2, 3, 4, 5) if changed else (1, 2)
        tone = sum(np.sin(2 * np.pi * f * p * t) / p for f in notes for p in partials)
        beats.append(tone * np.exp(-t / 0.15))
    mono = 0.05 * np.concatenate(beats).astype(np.float32)
    return np.stack([mono, mono])


def _restretched_beats(beats, factors, piece) -> np.ndarray:
    """Where `restretched` moves each beat: piece k of `piece` s played `factors[k]` × faster."""
    out, start_out = [], 0.0
    for k in range(int(np.ceil(BEATS * BEAT / piece))):
        factor, first = factors[k % len(factors)], k * piece
        inside = beats[(beats >= first) & (beats < first + piece)]
        out.extend(start_out + (inside - first) / factor)
        start_out += piece / factor
    return np.array(out)


def test_restretched_music_reads_unchanged_and_a_new_chord_reads_from_its_beat():
    beats = np.arange(BEATS + 1) * BEAT
    plain = np.concatenate([_music(None), np.zeros((2, RATE // 10), np.float32)], axis=1)
    same = restretched(plain, RATE, (1.02, 0.98), 2.0, gain_db=-1.0)
    moved = _restretched_beats(beats, (1.02, 0.98), 2.0)
    limits = thresholds([beat_distances(plain, same, RATE, beats, moved)])
    again = restretched(plain, RATE, (0.985, 1.015), 2.5, gain_db=0.5)
    moved = _restretched_beats(beats, (0.985, 1.015), 2.5)
    assert np.isnan(first_change(beat_distances(plain, again, RATE, beats, moved), limits)[0])

    other = np.concatenate([_music(CHANGE), np.zeros((2, RATE // 10), np.float32)], axis=1)
    apart = beat_distances(plain, other, RATE, beats, beats + 0.003)
    start, end = first_change(apart, limits)
    assert (start, end) == (CHANGE * BEAT, (CHANGE + 1) * BEAT)
    assert apart["mel_db"][:CHANGE].max() < limits["mel_db"]
